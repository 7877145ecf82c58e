"""Prometheus metrics of a worker: sync durations, grants, failures, per system (prometheus_client).

A prefork worker runs tasks in child processes, so the metrics use the client
library's multiprocess mode: every process writes to files in one directory
(``PROMETHEUS_MULTIPROC_DIR``, set by ``pybaton fleet worker`` before anything
imports the library) and the endpoint of the main process adds them up.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, multiprocess, start_http_server

SYNC_SECONDS = Histogram("pybaton_fleet_sync_seconds", "Duration of a system's sync, load included", ["system"],
                         buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600))
SYNC_GRANTS = Gauge("pybaton_fleet_sync_grants", "Grants in the system's last successful sync", ["system"],
                    multiprocess_mode="mostrecent")
SYNCS = Counter("pybaton_fleet_syncs_total", "Syncs finished, by outcome (ok, failed, retried)",
                ["system", "outcome"])
QUEUE_WAIT = Histogram("pybaton_fleet_task_wait_seconds", "From enqueue to start of a task", ["system"],
                       buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 300))


def serve(port: int, host: str = "0.0.0.0") -> None:
    """The ``/metrics`` endpoint of this worker, summing every pool process's figures."""
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    start_http_server(port, addr=host, registry=registry)
