"""The reconcile loop: sync → plan → apply → verify, once or every interval, one instance per workspace.

Each cycle re-reads the policy (an edit takes effect on the next cycle), syncs
every system, plans from those syncs, applies — systems held back by the brake
are skipped while the others go ahead — and verifies with a re-sync of what it
touched. A system whose sync failed is left alone that cycle (its state is
unknown), and if an identity provider's sync failed nothing is applied at all:
deciding who may hold what from an identity provider one cannot read is how
people lose access by accident. Every cycle ends with one summary line.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pybaton.reconcile import warehousing
from pybaton.reconcile.apply import ApplyOptions, ApplyReport, apply_plan
from pybaton.reconcile.execute import Result
from pybaton.reconcile.plan import Finding, Plan
from pybaton.reconcile.planner import load_orphan_seen, make_plan, save_orphan_seen
from pybaton.reconcile.policy import Policy, load_policy
from pybaton.reconcile.state import open_state
from pybaton.reconcile.syncing import SystemSync, sync_systems
from pybaton.reconcile.workspace import Workspace, workspace_lock

log = logging.getLogger("pybaton.reconcile")


def plan_now(ws: Workspace, policy: Policy, *, record_orphans: bool = True) -> Plan:
    """A plan from the latest syncs; also records when each orphan account was first seen."""
    with open_state(ws) as state:
        plan, seen = make_plan(ws, policy, state, orphan_seen=load_orphan_seen(ws))
    if record_orphans:
        save_orphan_seen(ws, seen)
        warehousing.record_findings(ws, plan)
    return plan


def without_systems(plan: Plan, systems: Sequence[str], why: str) -> Plan:
    """The plan minus the actions of ``systems``, each left out with a finding saying why."""
    if not systems:
        return plan
    findings = [Finding(kind="missing-sync", system=s, subject=s, message=why) for s in systems]
    return plan.model_copy(update={"actions": [a for a in plan.actions if a.system not in systems],
                                   "findings": [*plan.findings, *findings]})


@dataclass
class Cycle:
    """What one cycle did, for its summary line."""

    started: dt.datetime
    syncs: list[SystemSync] = field(default_factory=list)
    plan: Plan | None = None
    report: ApplyReport | None = None
    error: str = ""
    dry_run: bool = False

    @property
    def sync_failed(self) -> list[str]:
        return [s.system for s in self.syncs if not s.ok]

    @property
    def exit_code(self) -> int:
        if self.error or self.sync_failed or (self.report is not None and self.report.failed):
            return 1
        return 3 if self.report is not None and self.report.braked else 0

    def line(self) -> str:
        """``… reconcile: drift 3, fixed 3, failed 0, skipped by brake 0, remaining 0; 2 findings``."""
        stamp = self.started.isoformat(timespec="seconds").replace("+00:00", "Z")
        if self.error:
            return f"{stamp} reconcile: cycle failed: {self.error}"
        report = self.report or ApplyReport()
        drift = len(self.plan.actions) if self.plan is not None else 0
        fixed = report.count("planned") if self.dry_run else report.count("done", "already")
        parts = [f"drift {drift}", f"{'would fix' if self.dry_run else 'fixed'} {fixed}",
                 f"failed {len(report.failed)}", f"skipped by brake {report.count('braked')}"]
        if report.remaining is not None:
            parts.append(f"remaining {len(report.remaining.actions)}")
        tail = f"; {len(self.plan.findings)} findings" if self.plan is not None and self.plan.findings else ""
        if self.sync_failed:
            tail += f"; sync failed: {', '.join(self.sync_failed)}"
        return f"{stamp} reconcile{' (dry run)' if self.dry_run else ''}: {', '.join(parts)}{tail}"


def run_cycle(ws: Workspace, policy_paths: Sequence[Path] | None, options: ApplyOptions, *,
              report: Callable[[Result], None] = lambda r: None,
              on_sync: Callable[[SystemSync], None] | None = None) -> Cycle:
    """One sync → plan → apply → verify pass (the caller holds the workspace lock)."""
    cycle = Cycle(dt.datetime.now(dt.UTC), dry_run=options.dry_run)
    try:
        policy = load_policy(ws, policy_paths)
        cycle.syncs = sync_systems(ws, on_done=on_sync)
        failed = cycle.sync_failed
        plan = plan_now(ws, policy)
        idp_down = [s for s in failed if ws.system(s).identity_provider]
        skipped = list(ws.systems) if idp_down else failed
        why = f"identity provider {idp_down[0]} could not be synced" if idp_down else "its sync failed this cycle"
        cycle.plan = without_systems(plan, skipped, why)
        options = dataclasses.replace(options, skip_braked=True, policy_brake=options.policy_brake or policy.brake)
        cycle.report = apply_plan(ws, cycle.plan, options, report=report,
                                  replan=lambda: plan_now(ws, policy, record_orphans=False))
    except Exception as exc:  # a cycle that fails is reported; the loop goes on to the next one
        cycle.error = ws.redactor()(str(exc) or type(exc).__name__)
    return cycle


def run_loop(ws: Workspace, policy_paths: Sequence[Path] | None, options: ApplyOptions, *, interval: float | None,
             emit: Callable[[str], None], report: Callable[[Result], None] = lambda r: None,
             stop: threading.Event | None = None) -> int:
    """Cycles until ``stop`` is set (``interval`` None: just one); returns the last cycle's exit code."""
    stop = stop or threading.Event()
    with workspace_lock(ws, "pybaton reconcile"):
        while True:
            cycle = run_cycle(ws, policy_paths, options, report=report)
            log.info("%s", cycle.line())
            emit(cycle.line())
            if interval is None or stop.wait(interval):
                return cycle.exit_code
