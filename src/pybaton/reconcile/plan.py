"""A plan: the ordered writes that bring the systems to what the policy says, with the reasons why.

Each action names the rule(s) that asked for it and the evidence from the
syncs (who the person is, what they hold and through what), so a reviewer can
check it without re-running anything. What the planner will not fix by itself
— toxic combinations without a ``drop``, ambiguous accounts, conflicting
rules, access it cannot remove — are *findings*, listed beside the actions.

A plan records the sync each system's state was read from (its *basis*). A
plan saved with ``--out`` is applied later only if every system is still at
that sync: anything re-synced since may have changed, so the plan is stale.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, computed_field

from pybaton.c1z import C1ZFile
from pybaton.errors import SyncNotFoundError, UserError

PLAN_VERSION = 1


class Kind(StrEnum):
    """What an action does, in the order a plan runs them: accounts exist before they are granted
    access, access is removed before an account is disabled or deleted."""

    CREATE_ACCOUNT = "create-account"
    GRANT = "grant"
    REVOKE = "revoke"
    DISABLE = "disable"
    DELETE = "delete"


ORDER = {kind: i for i, kind in enumerate(Kind)}
REMOVALS = (Kind.REVOKE, Kind.DISABLE, Kind.DELETE)  # what the brake counts


class Action(BaseModel):
    """One write. ``target``: the entitlement to grant, the grant to revoke (a disable is the revoke of the
    grant that lets the account in), the account to delete, or the login to create."""

    model_config = ConfigDict(extra="ignore")  # ``id`` is written out for readers, and derived again

    kind: Kind
    system: str
    target: str
    principal: str = ""  # grant: TYPE:ID of the account; empty when it is created by ``needs``
    needs: str = ""  # grant: the id of the create-account action that makes the account
    email: str = ""  # create-account
    profile: dict[str, Any] = Field(default_factory=dict)  # create-account
    identity: str = ""
    rules: list[str] = Field(default_factory=list)
    evidence: list[str] = Field(default_factory=list)
    after: list[str] = Field(default_factory=list)  # removal: ids of the grants that must land first (they keep
    # what this removal would otherwise take away, inherited through it); not run when one of them fails

    @computed_field  # type: ignore[prop-decorator]
    @property
    def id(self) -> str:
        """``grant pg role:eng:member to user:ada``: unique in a plan, and the same in the next plan."""
        head = f"{self.kind.value} {self.system} {self.target}"
        if self.kind is not Kind.GRANT:
            return head
        return f"{head} to {self.principal}" if self.principal else \
            f"{head} to new account {self.needs.rpartition(' ')[2]}"

    def merge(self, other: Action) -> None:
        """The same write asked for by another rule: keep one action, with every reason."""
        self.rules.extend(r for r in other.rules if r not in self.rules)
        self.evidence.extend(e for e in other.evidence if e not in self.evidence)

    def sort_key(self) -> tuple[int, str, str, str]:
        return ORDER[self.kind], self.system, self.target, self.principal or self.needs


class Finding(BaseModel):
    """Something the plan reports instead of fixing (or cannot fix)."""

    model_config = ConfigDict(extra="forbid")

    kind: str  # violation | conflict | ambiguous | orphan | unfixable | no-account | condition-error | missing-sync
    system: str = ""
    subject: str = ""
    rules: list[str] = Field(default_factory=list)
    message: str


class Plan(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = PLAN_VERSION
    workspace: str
    created_at: str
    basis: dict[str, str]  # system → the full sync the plan was made from
    actions: list[Action] = Field(default_factory=list)
    findings: list[Finding] = Field(default_factory=list)

    def by_system(self) -> dict[str, list[Action]]:
        out: dict[str, list[Action]] = {}
        for action in self.actions:
            out.setdefault(action.system, []).append(action)
        return out

    def save(self, path: Path) -> None:
        path.write_text(self.model_dump_json(indent=2) + "\n")

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def new_plan(workspace: Path, basis: dict[str, str], actions: Iterable[Action], findings: Iterable[Finding]) -> Plan:
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return Plan(workspace=str(workspace), created_at=now, basis=dict(basis),
                actions=sorted(actions, key=Action.sort_key), findings=list(findings))


def load_plan(path: Path) -> Plan:
    try:
        return Plan.model_validate_json(path.read_text())
    except FileNotFoundError:
        raise UserError(f"{path}: no such plan file") from None
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise UserError(f"{path}: not a pybaton plan ({loc}: {err['msg']})") from None


def current_sync(c1z: Path) -> str:
    """The latest finished full sync of a system's file (what a plan made now would be based on)."""
    if not c1z.exists():
        return ""
    try:
        with C1ZFile.open(c1z) as file:
            return file.resolve_sync().sync_id
    except SyncNotFoundError:
        return ""


def stale_systems(plan: Plan, files: dict[str, Path]) -> list[str]:
    """Systems of the plan re-synced (or gone) since it was made: ``"pg (sync A, now B)"``."""
    stale = []
    for system, sync_id in plan.basis.items():
        now = current_sync(files[system]) if system in files else ""
        if now != sync_id:
            stale.append(f"{system} (planned from sync {sync_id or 'none'}, now {now or 'none'})")
    return stale
