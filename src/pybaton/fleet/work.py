"""What a fleet task does, apart from Celery: sync a system under its lock, publish, load; apply a plan.

Each function is given the task's id and worker and returns the outcome (a
JSON-able dict also kept in Redis), or raises :class:`RetryLater`, which the
Celery task turns into a retry of the same task id. The order of steps is what
makes redelivery safe:

1. an outcome already recorded for this task id → return it (a second delivery);
2. take the system's lock → held by another task: retry later, do nothing;
3. sync (resuming the working copy an interrupted run left), publish the
   artifact atomically, load it into the warehouse (a no-op if already loaded);
4. record the outcome, *then* release the lock.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pybaton.connector.base import Connector
from pybaton.connector.hooks import wrap_connector
from pybaton.errors import PyBatonError, RetryableError
from pybaton.fleet import metrics
from pybaton.fleet.artifacts import Store, open_store
from pybaton.fleet.coordination import Coordinator, Lease, SharedRateLimit, connect
from pybaton.fleet.settings import FleetSettings, fleet_settings
from pybaton.reconcile import warehousing
from pybaton.reconcile.apply import ApplyOptions, apply_plan
from pybaton.reconcile.plan import Plan
from pybaton.reconcile.syncing import describe_error, run_sync
from pybaton.reconcile.workspace import Brake, Workspace, load_workspace
from pybaton.warehouse import Warehouse

log = logging.getLogger("pybaton.fleet")


class RetryLater(Exception):
    """Run this task again in ``countdown`` seconds (same task id)."""

    def __init__(self, countdown: float, reason: str) -> None:
        super().__init__(reason)
        self.countdown = countdown


class LeaseLostError(RetryableError):
    """The system's lock expired under a running task (Redis lost it, or the task stalled past its lease)."""


class FleetTaskError(PyBatonError):
    """A fleet task failed for good; the message is the system's one-line error (also on ``fleet status``)."""


@dataclass(frozen=True)
class TaskRef:
    """The running task: its id (also the lock token), the worker's name, and how many times it was retried."""

    id: str
    worker: str
    retries: int = 0


@dataclass
class FleetContext:
    """What every task of a worker process uses; built once per process (after the pool forks)."""

    ws: Workspace
    settings: FleetSettings
    coordinator: Coordinator
    store: Store
    _warehouse: Warehouse | None = None

    def warehouse(self) -> Warehouse:
        """The workspace's warehouse, opened (and its schema checked) once per process."""
        if self._warehouse is None:
            self._warehouse = warehousing.open_warehouse(self.ws)
        return self._warehouse

    @classmethod
    def load(cls, path: str | None = None) -> FleetContext:
        ws = load_workspace(path)
        settings = fleet_settings(ws)
        return cls(ws, settings, Coordinator(connect(settings.redis_url())), open_store(settings.artifacts,
                                                                                          ws.data_dir))


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def is_retryable(exc: BaseException) -> bool:
    """A :class:`RetryableError` anywhere in the chain (the engine wraps the last one when it gives up)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, RetryableError):
            return True
        seen.add(id(current))
        current = current.__cause__
    return False


def _lock_wait(ctx: FleetContext) -> float:
    return max(1.0, min(ctx.settings.lease, ctx.settings.visibility_timeout / 3))


def _take_lock(ctx: FleetContext, system: str, task: TaskRef) -> Lease:
    schedule = ctx.settings.schedule(system)
    lease = ctx.coordinator.acquire(system, task.id, slots=schedule.concurrency, lease=ctx.settings.lease)
    if lease is None:
        log.info("system=%s task=%s worker=%s waiting: another task holds the system's lock",
                 system, task.id, task.worker)
        raise RetryLater(_lock_wait(ctx), f"{system} is busy")
    return lease


# -- sync ------------------------------------------------------------------------------------------

def sync_system(ctx: FleetContext, task: TaskRef, system: str, enqueued_at: float | None) -> dict[str, Any]:
    """One sync of ``system``, published and loaded; at most once per task id, never two at once per system."""
    ctx.ws.system(system)
    done = ctx.coordinator.outcome(task.id)
    if done is not None:
        log.info("system=%s task=%s worker=%s already finished (delivered again); nothing to do",
                 system, task.id, task.worker)
        return done
    started = time.time()
    if enqueued_at is not None and task.retries == 0:
        metrics.QUEUE_WAIT.labels(system).observe(max(0.0, started - enqueued_at))
    with _take_lock(ctx, system, task).renewing() as lease:
        ctx.coordinator.update_status(system, state="running", worker=task.worker, task_id=task.id,
                                      started_at=now_iso(), attempt=task.retries + 1)
        log.info("system=%s task=%s worker=%s sync started (attempt %d)", system, task.id, task.worker,
                 task.retries + 1)
        try:
            outcome = _sync_publish_load(ctx, system, lease)
        except Exception as exc:
            outcome = _failed(ctx, task, system, exc)
        outcome.update(task_id=task.id, worker=task.worker, started_at=dt.datetime.fromtimestamp(
            started, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"), finished_at=now_iso(),
            seconds=round(time.time() - started, 3), attempts=task.retries + 1,
            wait=None if enqueued_at is None else round(started - enqueued_at, 3))
        ctx.coordinator.finish(task.id, outcome)
        _record(ctx, system, outcome)
    if not outcome["ok"]:
        raise FleetTaskError(f"{system}: {outcome['error']}")
    return outcome


def _sync_publish_load(ctx: FleetContext, system: str, lease: Lease) -> dict[str, Any]:
    schedule = ctx.settings.schedule(system)
    wrap: Callable[[Connector[Any]], Connector[Any]] | None = None
    if schedule.rate_limit is not None:
        hook = SharedRateLimit(ctx.coordinator, system, schedule.rate_limit)
        wrap = lambda connector: wrap_connector(connector, hook)  # noqa: E731
    result = run_sync(ctx.ws, system, wrap=wrap)
    if not lease.held():
        raise LeaseLostError(f"{system}: the system's lock expired during the sync; not publishing it")
    artifact = ctx.store.publish(system, result.sync_id, result.path)
    wh = ctx.warehouse()
    load = wh.load(system, result.path, sync_id=result.sync_id,
                   identity_provider=ctx.ws.system(system).identity_provider)
    ctx.coordinator.coalesce("correlate", lambda: warehousing.correlate_in(ctx.ws, wh), lease=ctx.settings.lease)
    return {"system": system, "ok": True, "sync_id": result.sync_id, "grants": load.grants,
            "loaded": load.loaded, "resumed": result.resumed, "artifact": artifact, "error": "",
            "stats": {k: v for k, v in result.stats.items() if isinstance(v, int | float | str)}}


def _failed(ctx: FleetContext, task: TaskRef, system: str, exc: Exception) -> dict[str, Any]:
    """A retryable failure with retries left raises :class:`RetryLater`; anything else is the outcome."""
    error = ctx.ws.redactor()(describe_error(exc))
    retries = ctx.settings.retries
    if is_retryable(exc) and task.retries < retries.max:
        delay = min(retries.backoff * 2 ** task.retries, retries.backoff_max, ctx.settings.visibility_timeout / 3)
        log.warning("system=%s task=%s worker=%s retryable failure, retrying in %.0fs: %s",
                    system, task.id, task.worker, delay, error)
        ctx.coordinator.update_status(system, state="retrying", last_error=error, error_at=now_iso())
        metrics.SYNCS.labels(system, "retried").inc()
        raise RetryLater(delay, error) from exc
    log.error("system=%s task=%s worker=%s sync failed: %s", system, task.id, task.worker, error)
    return {"system": system, "ok": False, "sync_id": "", "grants": 0, "error": error}


def _record(ctx: FleetContext, system: str, outcome: dict[str, Any]) -> None:
    if outcome["ok"]:
        ctx.coordinator.update_status(system, state="ok", worker="", last_success=outcome["finished_at"],
                                      duration=outcome["seconds"], grants=outcome["grants"],
                                      sync_id=outcome["sync_id"], artifact=outcome["artifact"])
        metrics.SYNC_SECONDS.labels(system).observe(outcome["seconds"])
        metrics.SYNC_GRANTS.labels(system).set(outcome["grants"])
        metrics.SYNCS.labels(system, "ok").inc()
        log.info("system=%s sync_id=%s task=%s worker=%s sync ok in %.1fs, %d grants%s", system,
                 outcome["sync_id"], outcome["task_id"], outcome["worker"], outcome["seconds"], outcome["grants"],
                 "" if outcome["loaded"] else " (already in the warehouse)")
    else:
        ctx.coordinator.update_status(system, state="failed", worker="", last_error=outcome["error"],
                                      error_at=outcome["finished_at"])
        metrics.SYNCS.labels(system, "failed").inc()


# -- apply -----------------------------------------------------------------------------------------

def apply_system(ctx: FleetContext, task: TaskRef, system: str, plan_json: str,
                 policy_brake: dict[str, Any] | None) -> dict[str, Any]:
    """Apply ``system``'s part of a plan under its lock (the one writer), brake and verifying sync included."""
    done = ctx.coordinator.outcome(task.id)
    if done is not None:
        return done
    plan = Plan.model_validate_json(plan_json)
    mine = plan.model_copy(update={"actions": [a for a in plan.actions if a.system == system]})
    options = ApplyOptions(enabled=True, skip_braked=True,
                           policy_brake=Brake.model_validate(policy_brake) if policy_brake else None)
    with _take_lock(ctx, system, task).renewing():
        log.info("system=%s task=%s worker=%s applying %d actions", system, task.id, task.worker,
                 len(mine.actions))
        try:
            report = apply_plan(ctx.ws, mine, options, report=lambda result: None)
            outcome: dict[str, Any] = {
                "system": system, "ok": True, "error": "",
                "results": [[r.action.id, r.status, r.message] for r in report.results],
                "synced": [s.system for s in report.syncs if s.ok]}
        except Exception as exc:
            outcome = {"system": system, "ok": False, "error": ctx.ws.redactor()(describe_error(exc)),
                       "results": [], "synced": []}
        ctx.coordinator.finish(task.id, {**outcome, "task_id": task.id, "kind": "apply"})
    return outcome
