"""The Celery application of a workspace: its broker, its tasks and how they are delivered.

Delivery settings are the fleet's guarantees:

* ``task_acks_late`` + ``task_reject_on_worker_lost``: a task is acknowledged
  when it ends, so a worker killed mid-sync leaves it with the broker, which
  delivers it again (to another worker);
* ``worker_prefetch_multiplier = 1``: a worker holds one waiting task per
  process, not a pile that would wait behind a long sync;
* ``visibility_timeout`` (Redis): how long an unacknowledged task may stay
  out before Redis hands it out again. A sync may take longer: the second
  delivery then finds the system locked by the first and waits, and finds the
  first one's outcome once it is done (see :mod:`pybaton.fleet.work`);
* task events on (``-E``, sent events), so Flower and ``celery events`` work.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from celery import Celery, Task

from pybaton.fleet.settings import DEFAULT_QUEUE, fleet_settings
from pybaton.fleet.work import FleetContext, RetryLater, TaskRef, apply_system, sync_system
from pybaton.reconcile.workspace import Workspace

SYNC_TASK = "pybaton.fleet.sync"
APPLY_TASK = "pybaton.fleet.apply"

_context: FleetContext | None = None
_context_lock = threading.Lock()


def context() -> FleetContext:
    """This process's context (the workspace named by ``PYBATON_WORKSPACE``), built on first use."""
    global _context
    with _context_lock:
        if _context is None:
            _context = FleetContext.load(os.environ.get("PYBATON_WORKSPACE"))
        return _context


def _ref(task: Task[Any, Any]) -> TaskRef:
    request = task.request
    return TaskRef(str(request.id), str(request.hostname or "local"), int(request.retries or 0))


def make_app(ws: Workspace) -> Celery:
    settings = fleet_settings(ws)
    # Kombu sweeps for tasks past their visibility timeout every interval * throttle seconds (100 by
    # default); one sweep per quarter of the timeout (at most every 10s) redelivers a dead worker's task soon.
    transport = {"visibility_timeout": settings.visibility_timeout, "unacked_restore_throttle": 1,
                 "unacked_restore_interval": max(1, min(10, int(settings.visibility_timeout / 4)))}
    app = Celery("pybaton", broker=settings.broker_url(), backend=settings.result_backend(),
                 set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        worker_prefetch_multiplier=1,
        task_serializer="json", result_serializer="json", accept_content=["json"],
        broker_transport_options=transport,
        result_backend_transport_options={"retry_policy": {"timeout": 60.0}},
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,
        worker_cancel_long_running_tasks_on_connection_loss=False,
        worker_send_task_events=True, task_send_sent_event=True, task_track_started=True,
        task_default_queue=DEFAULT_QUEUE,
        result_expires=7 * 86400,
        timezone="UTC", enable_utc=True,
        beat_schedule=_beat_schedule(ws),
        worker_task_log_format="%(asctime)s %(levelname)s %(task_name)s[%(task_id)s] %(message)s",
    )

    @app.task(bind=True, name=SYNC_TASK, max_retries=None)  # type: ignore[untyped-decorator]
    def sync_task(self: Task[Any, Any], system: str, enqueued_at: float | None = None) -> dict[str, Any]:
        try:
            return sync_system(context(), _ref(self), system, enqueued_at)
        except RetryLater as later:
            raise self.retry(countdown=later.countdown, max_retries=None) from None

    @app.task(bind=True, name=APPLY_TASK, max_retries=None)  # type: ignore[untyped-decorator]
    def apply_task(self: Task[Any, Any], system: str, plan_json: str,
                   policy_brake: dict[str, Any] | None = None) -> dict[str, Any]:
        try:
            return apply_system(context(), _ref(self), system, plan_json, policy_brake)
        except RetryLater as later:
            raise self.retry(countdown=later.countdown, max_retries=None) from None

    return app


def _beat_schedule(ws: Workspace) -> dict[str, dict[str, Any]]:
    """One entry per system with ``every:``, sent to the system's queue."""
    settings = fleet_settings(ws)
    out: dict[str, dict[str, Any]] = {}
    for name in ws.systems:
        schedule = settings.schedule(name)
        if schedule.every is not None:
            out[f"sync {name}"] = {"task": SYNC_TASK, "schedule": schedule.every, "args": (name,),
                                   "options": {"queue": schedule.queue}}
    return out
