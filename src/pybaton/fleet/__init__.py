"""The fleet: syncs, warehouse loads and reconcile cycles spread over Celery workers on many hosts.

- :mod:`.settings`: the workspace's ``fleet:`` section (no Celery import);
- :mod:`.coordination`: what workers share in Redis: system locks with a lease, task outcomes, status,
  shared rate limits;
- :mod:`.artifacts`: the store of finished ``.c1z`` files (a directory or an S3 bucket), written atomically;
- :mod:`.work`: what a task does (sync → publish → load; apply), independent of Celery;
- :mod:`.app`: the Celery application and its delivery guarantees; :mod:`.metrics`: Prometheus metrics;
- :mod:`.client`: enqueueing, following, ``fleet status`` and the reconcile cycle as a workflow.

``sync --all`` on one machine, without a broker, stays the way for small setups.
"""
