"""The brake: a plan that would remove too much from one system is not applied without an override.

Modelled on identity providers' accidental-deletion protection: a wrong
filter, an empty IdP export or a renamed department can make a correct
planner plan the removal of everyone's access. Removals — revocations,
disables and deletions — are counted per system against a number and a share
of the system's grants in the sync the plan was made from; above either, the
system's actions are held back until an operator looks (``--allow-large``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pybaton.c1z import C1ZFile, SyncReader
from pybaton.reconcile.plan import REMOVALS, Plan
from pybaton.reconcile.workspace import Brake, Workspace


@dataclass(frozen=True)
class BrakeCheck:
    system: str
    removals: int
    grants: int
    brake: Brake

    @property
    def percent(self) -> float:
        return 100.0 * self.removals / self.grants if self.grants else (100.0 if self.removals else 0.0)

    @property
    def tripped(self) -> bool:
        return self.removals > self.brake.max_revocations or self.percent > self.brake.max_percent

    def summary(self) -> str:
        """One line for any reader of a plan (CLI, console): how much it removes, and the brake's verdict."""
        noun = "removal" if self.removals == 1 else "removals"
        state = "EXCEEDS the brake" if self.tripped else "within the brake"
        return (f"{self.system}: {self.removals} {noun} of {self.grants} grants ({self.percent:.1f}%), {state} "
                f"({self.brake.max_revocations} or {self.brake.max_percent:g}%)")

    def describe(self) -> str:
        return (f"{self.system}: {self.removals} removals ({self.percent:.1f}% of {self.grants} grants) exceed the "
                f"brake of {self.brake.max_revocations} or {self.brake.max_percent:g}%")


def grant_total(c1z: Path, sync_id: str) -> int:
    """Grants in the sync a plan was made from (0 when it is gone)."""
    if not c1z.exists():
        return 0
    with C1ZFile.open(c1z) as file:
        runs = {r.sync_id for r in file.sync_runs()}
        if sync_id not in runs:
            return 0
        return int(SyncReader.of(file, sync_id).sync_stats().get("grants") or 0)


def check_brakes(ws: Workspace, plan: Plan, policy_brake: Brake | None = None) -> list[BrakeCheck]:
    """One check per system the plan removes something from."""
    checks = []
    for system, actions in sorted(plan.by_system().items()):
        removals = sum(1 for a in actions if a.kind in REMOVALS)
        if removals:
            total = grant_total(ws.c1z(system), plan.basis.get(system, ""))
            checks.append(BrakeCheck(system, removals, total, ws.brake(system, policy_brake)))
    return checks
