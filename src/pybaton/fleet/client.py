"""Sending work to the fleet and following it: ``fleet sync``, ``fleet status`` and ``fleet reconcile``.

The client never runs a sync itself: it sends tasks to the systems' queues,
marks the systems queued, and reads the outcomes the workers record in Redis
(the same records that make redelivery safe), so following a run works from
any host, and survives the client being restarted.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from celery import Celery

from pybaton.errors import UserError
from pybaton.fleet.app import APPLY_TASK, SYNC_TASK, make_app
from pybaton.fleet.coordination import Coordinator, connect
from pybaton.fleet.settings import FleetSettings, fleet_settings
from pybaton.fleet.work import now_iso
from pybaton.reconcile.apply import ApplyOptions, ApplyReport
from pybaton.reconcile.execute import Result
from pybaton.reconcile.loop import Cycle, plan_now, without_systems
from pybaton.reconcile.plan import Plan
from pybaton.reconcile.policy import load_policy
from pybaton.reconcile.syncing import SystemSync
from pybaton.reconcile.workspace import Workspace

POLL_SECONDS = 0.2
# Publishing rides out a broker restart (about a minute) instead of failing the enqueue.
PUBLISH_RETRY = {"max_retries": 40, "interval_start": 0.2, "interval_step": 0.5, "interval_max": 2.0}


@dataclass(frozen=True)
class SystemRow:
    """One line of ``fleet status``."""

    system: str
    queue: str
    state: str
    worker: str
    last_success: str
    duration: str
    grants: str
    sync_id: str
    last_error: str
    error_at: str
    every: str

    def as_dict(self) -> dict[str, str]:
        return dataclasses.asdict(self)


class FleetClient:
    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.settings: FleetSettings = fleet_settings(ws)
        self.coordinator = Coordinator(connect(self.settings.redis_url()))
        self.app: Celery = make_app(ws)

    def close(self) -> None:
        self.coordinator.client.close()

    def _names(self, names: Iterable[str] | None) -> list[str]:
        wanted = list(dict.fromkeys(names if names is not None else self.ws.systems))
        for name in wanted:
            self.ws.system(name)
        return wanted

    # -- sync --------------------------------------------------------------------------------------

    def enqueue_syncs(self, names: Iterable[str] | None = None) -> dict[str, str]:
        """Send one sync task per system to its queue; system → task id."""
        out: dict[str, str] = {}
        for name in self._names(names):
            task_id = str(uuid.uuid4())
            self.coordinator.update_status(name, state="queued", queued_task=task_id, queued_at=now_iso())
            self.app.send_task(SYNC_TASK, args=(name, time.time()), task_id=task_id,
                               queue=self.settings.schedule(name).queue, retry_policy=PUBLISH_RETRY)
            out[name] = task_id
        return out

    def wait(self, tasks: dict[str, str], on_done: Callable[[dict[str, Any]], None] | None = None,
             timeout: float | None = None, on_tick: Callable[[], None] | None = None) -> dict[str, dict[str, Any]]:
        """Outcomes of ``tasks`` (system → task id) as the workers record them."""
        left = dict(tasks)
        done: dict[str, dict[str, Any]] = {}
        deadline = None if timeout is None else time.monotonic() + timeout
        while left:
            for system, task_id in list(left.items()):
                outcome = self.coordinator.outcome(task_id)
                if outcome is not None:
                    done[system] = outcome
                    del left[system]
                    if on_done is not None:
                        on_done(outcome)
            if on_tick is not None:
                on_tick()
            if left:
                if deadline is not None and time.monotonic() > deadline:
                    raise UserError(f"fleet: still waiting for {', '.join(sorted(left))} after {timeout:.0f}s")
                time.sleep(POLL_SECONDS)
        return done

    # -- status ------------------------------------------------------------------------------------

    def status(self, names: Iterable[str] | None = None) -> list[SystemRow]:
        rows = []
        for name in self._names(names):
            s = self.coordinator.status(name)
            schedule = self.settings.schedule(name)
            rows.append(SystemRow(
                system=name, queue=schedule.queue, state=s.get("state", "never synced"), worker=s.get("worker", ""),
                last_success=s.get("last_success", ""), duration=s.get("duration", ""), grants=s.get("grants", ""),
                sync_id=s.get("sync_id", ""), last_error=s.get("last_error", "") if s.get("state") != "ok" else "",
                error_at=s.get("error_at", ""), every=f"{schedule.every:.0f}s" if schedule.every else ""))
        return rows

    # -- reconcile ---------------------------------------------------------------------------------

    def reconcile_cycle(self, policy_paths: Sequence[Path] | None, options: ApplyOptions,
                        report: Callable[[Result], None] = lambda r: None) -> Cycle:
        """Syncs on the workers (in parallel) → plan from the warehouse → each system applied by one worker."""
        cycle = Cycle(dt.datetime.now(dt.UTC), dry_run=options.dry_run)
        try:
            policy = load_policy(self.ws, policy_paths)
            outcomes = self.wait(self.enqueue_syncs())
            cycle.syncs = [system_sync(o) for o in (outcomes[n] for n in self.ws.systems)]
            failed = cycle.sync_failed
            idp_down = [s for s in failed if self.ws.system(s).identity_provider]
            why = f"identity provider {idp_down[0]} could not be synced" if idp_down else "its sync failed this cycle"
            cycle.plan = without_systems(plan_now(self.ws, policy), list(self.ws.systems) if idp_down else failed,
                                         why)
            cycle.report = self._apply(cycle.plan, options, policy.brake, report)
            if cycle.report.syncs:
                cycle.report.remaining = plan_now(self.ws, policy, record_orphans=False)
        except Exception as exc:  # a failed cycle is reported; the loop goes on
            cycle.error = self.ws.redactor()(str(exc) or type(exc).__name__)
        return cycle

    def _apply(self, plan: Plan, options: ApplyOptions, policy_brake: Any,
               report: Callable[[Result], None]) -> ApplyReport:
        out = ApplyReport()
        systems = list(plan.by_system())
        if options.dry_run or not options.enabled or not systems:
            out.results = [Result(a, "planned") for a in plan.actions]
            return out
        plan_json = plan.model_dump_json()
        brake = (options.policy_brake or policy_brake)
        tasks = {}
        for system in systems:
            task_id = str(uuid.uuid4())
            self.app.send_task(APPLY_TASK, args=(system, plan_json, brake.model_dump() if brake else None),
                               task_id=task_id, queue=self.settings.schedule(system).queue,
                               retry_policy=PUBLISH_RETRY)
            tasks[system] = task_id
        actions = {a.id: a for a in plan.actions}
        for system, outcome in self.wait(tasks).items():
            if not outcome["ok"]:
                raise UserError(f"apply on {system} failed: {outcome['error']}")
            for action_id, status, message in outcome["results"]:
                out.results.append(Result(actions[action_id], status, message))
                report(out.results[-1])
            out.syncs += [SystemSync(s, True) for s in outcome["synced"]]
        return out


def system_sync(outcome: dict[str, Any]) -> SystemSync:
    return SystemSync(outcome["system"], bool(outcome["ok"]), outcome.get("sync_id", ""),
                      float(outcome.get("seconds", 0.0)), {**outcome.get("stats", {}), "grants": outcome.get("grants", 0)},
                      outcome.get("error", ""))
