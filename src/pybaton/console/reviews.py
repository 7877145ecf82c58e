"""Access reviews: a campaign of grants for reviewers to keep or revoke, closed into a reconcile plan.

A campaign is a *scope* (systems, resource types, entitlements, people matching
a CEL condition), the *reviewers* (each person's manager from an identity
provider attribute, or a named reviewer per system, with a fallback) and a due
date. Creating it snapshots every grant in scope as an item, from the same
state the planner reads (:func:`pybaton.reconcile.state.open_state`), so the
reviewers decide on what the systems actually hold.

Closing it turns every "revoke" into reconcile actions exactly as the planner
fixes access: a grant that comes from a group is removed at the group
membership (:func:`pybaton.reconcile.removal.removal`). The plan is saved in
``data_dir/reviews/`` and applied with ``pybaton apply FILE -p`` or from the
console's plan page, under the same brake and audit log.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection, and_, case, func, insert, select, update

from pybaton.console import store
from pybaton.errors import UserError
from pybaton.identity import Identity
from pybaton.reconcile.plan import Action, Finding, Kind, Plan, new_plan
from pybaton.reconcile.removal import removal
from pybaton.reconcile.state import State, open_state
from pybaton.reconcile.workspace import Workspace
from pybaton.warehouse import AccessEntry, Warehouse
from pybaton.warehouse.asof import select_syncs
from pybaton.warehouse.browse import account_grants
from pybaton.warehouse.engine import write_transaction

KEEP, REVOKE = "keep", "revoke"
DECISIONS = (KEEP, REVOKE)
UNASSIGNED = "(unassigned)"
INSERT_BATCH = 5000


class Scope(BaseModel):
    """What a campaign reviews and who reviews it."""

    model_config = ConfigDict(extra="forbid")

    systems: list[str] = Field(default_factory=list)
    resource_types: list[str] = Field(default_factory=list)
    entitlements: list[str] = Field(default_factory=list)
    condition: str = ""  # CEL over the person's attributes (the same as policy conditions)
    manager_attribute: str = ""  # the identity provider attribute naming each person's manager
    reviewers: dict[str, str] = Field(default_factory=dict)  # system → reviewer
    default_reviewer: str = ""


@dataclass(frozen=True)
class Campaign:
    campaign_id: str
    name: str
    scope: Scope
    due: str
    status: str
    created_at: dt.datetime
    created_by: str
    closed_at: dt.datetime | None
    closed_by: str
    plan_file: str


@dataclass(frozen=True)
class Item:
    item_pk: int
    campaign_id: str
    reviewer: str
    system: str
    entitlement_id: str
    resource_name: str
    principal_type: str
    principal_id: str
    principal_name: str
    identity_id: str
    person: str
    access: str
    via: str
    decision: str
    comment: str
    decided_by: str
    decided_at: dt.datetime | None

    def as_row(self) -> dict[str, str]:
        return {"campaign": self.campaign_id, "item": str(self.item_pk), "reviewer": self.reviewer,
                "system": self.system, "entitlement": self.entitlement_id, "resource": self.resource_name,
                "account": f"{self.principal_type}:{self.principal_id}", "account_name": self.principal_name,
                "person": self.person, "access": self.access, "via": self.via, "decision": self.decision or "pending",
                "comment": self.comment, "decided_by": self.decided_by,
                "decided_at": self.decided_at.isoformat(timespec="seconds") + "Z" if self.decided_at else ""}


EVIDENCE_COLUMNS = ("campaign", "item", "reviewer", "system", "entitlement", "resource", "account", "account_name",
                    "person", "access", "via", "decision", "comment", "decided_by", "decided_at")


@dataclass(frozen=True)
class Progress:
    reviewer: str
    total: int
    decided: int
    revoked: int

    @property
    def percent(self) -> int:
        return round(100 * self.decided / self.total) if self.total else 100


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


# -- creating ----------------------------------------------------------------------------------------

def _manager_login(value: Any) -> str:
    """A manager attribute as a reviewer name: ``uid=ann,ou=people,...`` → ``ann``; an email or login as is."""
    text = str(value or "").strip()
    first = text.split(",", 1)[0]
    if "=" in first and "," in text:
        return first.split("=", 1)[1].strip()
    return text


class _Collector:
    """The grants in a scope (streamed from the warehouse) and each one's reviewer.

    People's attributes (for the CEL condition and the manager) come from the correlation the planner
    makes; without a condition or a manager attribute none is needed and the grants stream straight
    from SQL into the campaign.
    """

    def __init__(self, ws: Workspace, scope: Scope, identities: Mapping[str, Identity]) -> None:
        self.scope, self.identities = scope, identities
        self.condition = None
        if scope.condition:
            from pybaton.reconcile.conditions import compile_condition

            self.condition = compile_condition(scope.condition, "review scope: condition")
        unknown = [n for n in scope.systems if n not in ws.systems]
        if unknown:
            raise UserError(f"unknown system {unknown[0]!r} in the review scope (the workspace has "
                            f"{', '.join(ws.systems)})")

    def reviewer(self, system: str, identity: Identity | None) -> str:
        if self.scope.manager_attribute and identity is not None:
            manager = _manager_login(identity.attributes.get(self.scope.manager_attribute))
            if manager:
                return manager
        return self.scope.reviewers.get(system) or self.scope.default_reviewer or UNASSIGNED

    def wanted(self, identity: Identity | None) -> bool:
        if self.condition is None:
            return True
        if identity is None:
            return False
        return self.condition.evaluate(identity.attributes)[0] is True

    def rows(self, campaign_id: str, entries: Iterable[AccessEntry]) -> Iterator[dict[str, Any]]:
        reviewers: dict[tuple[str, str], str | None] = {}
        for e in entries:
            key = (e.system, e.identity_id)
            if key not in reviewers:
                identity = self.identities.get(e.identity_id) if e.identity_id else None
                reviewers[key] = self.reviewer(e.system, identity) if self.wanted(identity) else None
            reviewer = reviewers[key]
            if reviewer is None:
                continue
            identity = self.identities.get(e.identity_id)
            yield {"campaign_id": campaign_id, "reviewer": reviewer, "system": e.system,
                   "entitlement_id": e.entitlement_id, "resource_name": e.resource_name or e.resource_id,
                   "principal_type": e.principal_type, "principal_id": e.principal_id,
                   "principal_name": e.principal_name or e.principal_id, "identity_id": e.identity_id,
                   "person": identity.name if identity else e.person_email, "access": e.access,
                   "via": e.via, "decision": "", "comment": "", "decided_by": ""}


def _batches(rows: Iterable[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= INSERT_BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def create_campaign(ws: Workspace, wh: Warehouse, name: str, scope: Scope, due: str, *, by: str) -> Campaign:
    """Snapshot every grant in ``scope`` as an item for its reviewer; one transaction."""
    if not name.strip():
        raise UserError("a campaign needs a name")
    try:
        dt.date.fromisoformat(due)
    except ValueError:
        raise UserError(f"due date {due!r} is not a date (YYYY-MM-DD)") from None
    store.ensure_tables(wh)
    campaign_id = f"{_now():%Y%m%d}-{uuid.uuid4().hex[:6]}"
    identities: Mapping[str, Identity] = {}
    if scope.condition or scope.manager_attribute:
        with open_state(ws) as state:
            identities = dict(state.correlation.identities)
    collector = _Collector(ws, scope, identities)
    with wh.reading() as conn:
        syncs = {n: ref for n, ref in select_syncs(conn, None).items()
                 if n in ws.systems and (not scope.systems or n in scope.systems)}
        entries = account_grants(conn, syncs, resource_types=scope.resource_types or None,
                                 entitlements=scope.entitlements or None)
        with write_transaction(wh.engine, lock="reviews") as out:
            out.execute(insert(store.campaigns).values(
                campaign_id=campaign_id, name=name, scope=scope.model_dump_json(), due=due, status="open",
                created_at=_now(), created_by=by))
            for batch in _batches(collector.rows(campaign_id, entries)):
                out.execute(insert(store.items), batch)
    return get_campaign(wh, campaign_id)


# -- reading -----------------------------------------------------------------------------------------

def _campaign(row: Any) -> Campaign:
    return Campaign(str(row.campaign_id), str(row.name), Scope.model_validate_json(row.scope), str(row.due),
                    str(row.status), row.created_at, str(row.created_by), row.closed_at, str(row.closed_by or ""),
                    str(row.plan_file or ""))


def get_campaign(wh: Warehouse, campaign_id: str) -> Campaign:
    store.ensure_tables(wh)
    with wh.reading() as conn:
        row = conn.execute(select(store.campaigns).where(store.campaigns.c.campaign_id == campaign_id)).first()
    if row is None:
        raise UserError(f"no review campaign {campaign_id!r}")
    return _campaign(row)


def list_campaigns(wh: Warehouse) -> list[Campaign]:
    store.ensure_tables(wh)
    with wh.reading() as conn:
        rows = conn.execute(select(store.campaigns).order_by(store.campaigns.c.created_at.desc()))
        return [_campaign(r) for r in rows]


SORTS = {"system": "system", "entitlement": "entitlement_id", "account": "principal_id", "person": "person",
         "decision": "decision", "reviewer": "reviewer", "item": "item_pk"}


def items(wh: Warehouse, campaign_id: str, *, reviewer: str | None = None, pending_only: bool = False,
          sort: str = "item", descending: bool = False, offset: int = 0,
          limit: int | None = 100) -> tuple[list[Item], int]:
    """One sorted page of a campaign's items (only ``reviewer``'s when given) and how many there are."""
    t = store.items.c
    where = [t.campaign_id == campaign_id]
    if reviewer is not None:
        where.append(t.reviewer == reviewer)
    if pending_only:
        where.append(t.decision == "")
    column = getattr(t, SORTS.get(sort, "item_pk"))
    query = select(store.items).where(*where).order_by(column.desc() if descending else column, t.item_pk)
    if limit is not None:
        query = query.offset(max(offset, 0)).limit(limit)
    with wh.reading() as conn:
        total = int(conn.execute(select(func.count()).select_from(store.items).where(*where)).scalar_one())
        return [Item(**row._mapping) for row in conn.execute(query)], total


def progress(wh: Warehouse, campaign_id: str) -> list[Progress]:
    t = store.items.c
    query = (select(t.reviewer, func.count(), func.sum(case((t.decision != "", 1), else_=0)),
                    func.sum(case((t.decision == REVOKE, 1), else_=0)))
             .where(t.campaign_id == campaign_id).group_by(t.reviewer).order_by(t.reviewer))
    with wh.reading() as conn:
        return [Progress(str(r), int(n), int(d or 0), int(v or 0)) for r, n, d, v in conn.execute(query)]


# -- deciding ----------------------------------------------------------------------------------------

def decide(wh: Warehouse, campaign_id: str, item_pks: Iterable[int], decision: str, comment: str, *,
           by: str, only_reviewer: str | None) -> int:
    """Record ``decision`` on the items (those of ``only_reviewer`` when given); how many changed."""
    if decision not in DECISIONS:
        raise UserError(f"decision must be keep or revoke, not {decision!r}")
    campaign = get_campaign(wh, campaign_id)
    if campaign.status != "open":
        raise UserError(f"campaign {campaign_id} is closed")
    pks = [int(pk) for pk in item_pks]
    if not pks:
        return 0
    t = store.items.c
    where = [t.campaign_id == campaign_id, t.item_pk.in_(pks)]
    if only_reviewer is not None:
        where.append(t.reviewer == only_reviewer)
    with write_transaction(wh.engine, lock="reviews") as conn:
        result = conn.execute(update(store.items).where(and_(*where)).values(
            decision=decision, comment=comment.strip()[:2000], decided_by=by, decided_at=_now()))
        return int(result.rowcount)


# -- closing -----------------------------------------------------------------------------------------

def plan_path(ws: Workspace, campaign_id: str) -> Path:
    return ws.data_dir / "reviews" / f"{campaign_id}.plan.json"


def _revocations(conn: Connection, campaign_id: str) -> list[Any]:
    t = store.items.c
    return list(conn.execute(select(store.items).where(t.campaign_id == campaign_id, t.decision == REVOKE)
                             .order_by(t.item_pk)))


def close_campaign(ws: Workspace, wh: Warehouse, campaign_id: str, *, by: str) -> Plan:
    """Close the campaign and write the plan that carries out its revocations (pending items are kept)."""
    campaign = get_campaign(wh, campaign_id)
    if campaign.status != "open":
        raise UserError(f"campaign {campaign_id} is already closed (its plan: {campaign.plan_file})")
    rule = f"review:{campaign_id}"
    with wh.reading() as conn:
        revoked = _revocations(conn, campaign_id)
    actions: dict[str, Action] = {}
    findings: list[Finding] = []
    with open_state(ws) as state:
        for row in revoked:
            _plan_item(state, row, rule, actions, findings)
        plan = new_plan(ws.path, state.basis, actions.values(), findings)
    path = plan_path(ws, campaign_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".tmp")
    plan.save(partial)
    partial.replace(path)
    with write_transaction(wh.engine, lock="reviews") as conn:
        conn.execute(update(store.campaigns).where(store.campaigns.c.campaign_id == campaign_id).values(
            status="closed", closed_at=_now(), closed_by=by, plan_file=str(path)))
    return plan


def _plan_item(state: State, row: Any, rule: str, actions: dict[str, Action], findings: list[Finding]) -> None:
    system = state.systems.get(row.system)
    subject = f"{row.principal_type}:{row.principal_id}"
    grant = system.grant(row.entitlement_id, (row.principal_type, row.principal_id)) if system else None
    if system is None or grant is None:
        findings.append(Finding(kind="gone", system=row.system, subject=subject, rules=[rule],
                                message=f"{subject} no longer holds {row.entitlement_id}: nothing to revoke"))
        return
    why = f"revoked in review by {row.decided_by}" + (f": {row.comment}" if row.comment else "")
    found = removal(system, grant)
    for direct, chain in found.revoke:
        via = f" through {' → '.join(chain)}" if chain else ""
        action = Action(kind=Kind.REVOKE, system=system.name, target=direct.id, principal=subject,
                        identity=row.identity_id, rules=[rule],
                        evidence=[why, f"{subject} holds {row.entitlement_id}{via}"])
        if action.id in actions:
            actions[action.id].merge(action)
        else:
            actions[action.id] = action
    for blocked in found.blocked:
        findings.append(Finding(kind="unfixable", system=system.name, subject=subject, rules=[rule],
                                message=f"review wants {row.entitlement_id} removed, but {blocked.reason}"))


# -- evidence ----------------------------------------------------------------------------------------

def evidence_rows(wh: Warehouse, campaign_id: str) -> list[dict[str, str]]:
    get_campaign(wh, campaign_id)
    found, _ = items(wh, campaign_id, limit=None)
    return [item.as_row() for item in found]


def evidence_csv(wh: Warehouse, campaign_id: str) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=EVIDENCE_COLUMNS)
    writer.writeheader()
    writer.writerows({k: _cell(v) for k, v in row.items()} for row in evidence_rows(wh, campaign_id))
    return out.getvalue()


def evidence_xlsx(wh: Warehouse, campaign_id: str) -> bytes:
    """The evidence workbook: a summary sheet (campaign, progress) and every item with its decision."""
    from pybaton.extras import optional_import

    with optional_import("the XLSX evidence export"):
        from openpyxl import Workbook
    campaign = get_campaign(wh, campaign_id)
    book = Workbook()
    summary = book.active
    summary.title = "Campaign"
    for key, value in (("campaign", campaign.campaign_id), ("name", campaign.name), ("due", campaign.due),
                       ("status", campaign.status), ("created by", campaign.created_by),
                       ("created at", campaign.created_at.isoformat(timespec="seconds") + "Z"),
                       ("closed by", campaign.closed_by), ("scope", json.dumps(campaign.scope.model_dump()))):
        summary.append([key, _cell(value)])
    summary.append([])
    summary.append(["reviewer", "items", "decided", "revoked"])
    for p in progress(wh, campaign_id):
        summary.append([_cell(p.reviewer), p.total, p.decided, p.revoked])
    sheet = book.create_sheet("Items")
    sheet.append(list(EVIDENCE_COLUMNS))
    for row in evidence_rows(wh, campaign_id):
        sheet.append([_cell(row[c]) for c in EVIDENCE_COLUMNS])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _cell(value: str) -> str:
    """Text a spreadsheet shows as text, never runs as a formula."""
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value
