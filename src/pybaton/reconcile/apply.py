"""Applying a plan: refuse what is stale or too large, execute, re-sync what was touched, verify.

The order is the safety contract: provisioning must be enabled (or it is a
dry run); a plan made from syncs that have since been replaced is refused; the
brake holds back any system the plan would strip of too much; then each
system's actions run in plan order, one failure never stopping the rest.
Nothing is rolled back: a failed action is reported, journaled and left for
the next run, which plans it again because the drift is still there. After
the writes, the touched systems are synced and the plan is made again: an
action that succeeded but still shows up there is reported as unverified.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pybaton.errors import ProvisioningError, UserError
from pybaton.provision.audit import AuditLog
from pybaton.reconcile.brake import BrakeCheck, check_brakes
from pybaton.reconcile.execute import Result, run_system
from pybaton.reconcile.plan import Action, Plan, stale_systems
from pybaton.reconcile.syncing import SystemSync, sync_systems
from pybaton.reconcile.workspace import Brake, Workspace

JOURNAL = "reconcile.audit.jsonl"
ENABLE_HINT = "add -p/--provisioning, set BATON_PROVISIONING=1 or 'provisioning: true' in the workspace"


class BrakeError(UserError):
    """The plan removes more than the brake allows; nothing was changed."""

    exit_code = 3


@dataclass
class ApplyReport:
    """What an apply did, system by system, and what the re-sync shows afterwards."""

    results: list[Result] = field(default_factory=list)
    braked: list[BrakeCheck] = field(default_factory=list)
    syncs: list[SystemSync] = field(default_factory=list)
    remaining: Plan | None = None
    unverified: list[Action] = field(default_factory=list)

    def count(self, *statuses: str) -> int:
        return sum(1 for r in self.results if r.status in statuses)

    @property
    def failed(self) -> list[Result]:
        return [r for r in self.results if r.status in ("failed", "skipped")]


@dataclass(frozen=True)
class ApplyOptions:
    enabled: bool = False
    dry_run: bool = False
    allow_large: bool = False
    skip_braked: bool = False  # the loop: hold back the braked systems and apply the others
    policy_brake: Brake | None = None


def _journal(ws: Workspace, results: list[Result], dry_run: bool) -> None:
    """One line per action in ``data_dir/reconcile.audit.jsonl``, beside each system's own audit log."""
    with AuditLog.open(ws.data_dir / JOURNAL, "reconcile", ws.redactor()) as log:
        for r in results:
            a = r.action
            target = {"system": a.system, "action": a.id, "rules": ",".join(a.rules)}
            log.record(f"reconcile {a.kind.value}", target, dry_run=dry_run, result=r.status,
                       error=r.message if r.status in ("failed", "skipped", "braked") else None)


def _refuse(ws: Workspace, plan: Plan, options: ApplyOptions) -> list[BrakeCheck]:
    """Raise when the plan must not run at all; return the systems the brake holds back."""
    if not (options.enabled or options.dry_run):
        raise ProvisioningError(f"provisioning is not enabled: {ENABLE_HINT}, or use --dry-run to preview")
    if Path(plan.workspace) != ws.path:
        raise UserError(f"the plan was made for workspace {plan.workspace}, not {ws.path}")
    stale = stale_systems(plan, {name: ws.c1z(name) for name in ws.systems})
    if stale:
        raise UserError(f"the plan is stale: {'; '.join(stale)}; make a new plan (pybaton plan)")
    tripped = [c for c in check_brakes(ws, plan, options.policy_brake) if c.tripped]
    if tripped and not options.allow_large and not options.skip_braked:
        raise BrakeError("refused by the brake: " + "; ".join(c.describe() for c in tripped) +
                         "; nothing was changed (review the plan, then apply it with --allow-large)")
    return [] if options.allow_large else tripped


def apply_plan(ws: Workspace, plan: Plan, options: ApplyOptions, *, report: Callable[[Result], None],
               replan: Callable[[], Plan] | None = None) -> ApplyReport:
    """Execute ``plan``; ``replan`` makes a fresh plan after the re-sync (for verification)."""
    out = ApplyReport(braked=_refuse(ws, plan, options))
    held = {c.system for c in out.braked}
    for system, actions in plan.by_system().items():
        if system in held:
            for action in actions:
                out.results.append(Result(action, "braked", "held back by the brake"))
                report(out.results[-1])
            continue
        out.results += run_system(ws, system, actions, dry_run=options.dry_run, report=report)
    _journal(ws, out.results, options.dry_run)
    touched = list(dict.fromkeys(r.action.system for r in out.results if r.status not in ("braked", "planned")))
    if options.dry_run or not touched:
        return out
    out.syncs = sync_systems(ws, touched)
    if replan is not None:
        out.remaining = replan()
        done = {r.action.id for r in out.results if r.ok}
        out.unverified = [a for a in out.remaining.actions if a.id in done]
    return out
