"""The cross-system questions: who holds an entitlement, what a person can access, what changed.

Each takes the syncs that answer for each system (:func:`~pybaton.warehouse.asof.select_syncs`),
so the same question works now and back in time, and returns plain rows the
CLI renders as a table, JSON or CSV. People come from the current correlation
(``identities`` and ``accounts``); an account id is stable across syncs, so a
past sync's grants are attributed to whoever the account belongs to now.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Connection, Select, and_, case, exists, func, literal, or_, select

from pybaton.errors import UserError
from pybaton.warehouse import schema as s
from pybaton.warehouse.stored import SyncRef

DIRECT, INHERITED = "direct", "inherited"


class _Row:
    """A result row that renders as a flat dict (JSON object, CSV row)."""

    def as_dict(self) -> dict[str, str]:
        return {k: str(v) for k, v in asdict(self).items()}  # type: ignore[call-overload]


@dataclass(frozen=True)
class AccessEntry(_Row):
    """One grant as people read it: who (account and person), what (resource, entitlement), how (direct or via)."""

    system: str
    sync_id: str
    principal_type: str
    principal_id: str
    principal_name: str
    identity_id: str
    person_email: str
    resource_type_id: str
    resource_id: str
    resource_name: str
    entitlement_id: str
    entitlement_name: str
    access: str
    via: str


@dataclass(frozen=True)
class Change(_Row):
    """A grant that appeared or disappeared between two syncs of one system."""

    system: str
    change: str  # added | removed
    entitlement_id: str
    principal_type: str
    principal_id: str
    access: str
    from_sync: str
    to_sync: str


def _pks(syncs: Iterable[SyncRef]) -> list[int]:
    return [ref.sync_pk for ref in syncs]


def access_select(sync_pks: list[int]) -> Select[Any]:
    """Grants of the given syncs with names, account owners and people joined in."""
    g, y, sy = s.grants.c, s.systems.c, s.syncs.c
    e, r, p, a, i = (t.alias(n) for t, n in ((s.entitlements, "e"), (s.resources, "r"), (s.resources, "p"),
                                               (s.accounts, "a"), (s.identities, "i")))
    return (
        select(y.name, sy.sync_id, g.principal_type, g.principal_id, func.coalesce(p.c.display_name, ""),
               func.coalesce(a.c.identity_id, ""), func.coalesce(i.c.email, ""), g.resource_type_id, g.resource_id,
               func.coalesce(r.c.display_name, ""), g.entitlement_id, func.coalesce(e.c.display_name, ""),
               case((g.is_direct, literal(DIRECT)), else_=literal(INHERITED)), g.via)
        .select_from(s.grants)
        .join(s.syncs, sy.sync_pk == g.sync_pk)
        .join(s.systems, y.system_id == sy.system_id)
        .outerjoin(e, and_(e.c.sync_pk == g.sync_pk, e.c.entitlement_id == g.entitlement_id))
        .outerjoin(r, and_(r.c.sync_pk == g.sync_pk, r.c.resource_type_id == g.resource_type_id,
                           r.c.resource_id == g.resource_id))
        .outerjoin(p, and_(p.c.sync_pk == g.sync_pk, p.c.resource_type_id == g.principal_type,
                           p.c.resource_id == g.principal_id))
        .outerjoin(a, and_(a.c.system == y.name, a.c.resource_type_id == g.principal_type,
                           a.c.resource_id == g.principal_id))
        .outerjoin(i, i.c.identity_id == a.c.identity_id)
        .where(g.sync_pk.in_(sync_pks))
    )


def access_entries(conn: Connection, query: Select[Any]) -> list[AccessEntry]:
    """The rows, sorted here rather than by SQL: an ORDER BY can lead a planner away from the selective
    index (SQLite without statistics), and Python's order is the same on both backends."""
    return [AccessEntry(*(str(v) if v is not None else "" for v in row)) for row in conn.execute(query)]


def who_has(conn: Connection, syncs: dict[str, SyncRef], entitlement_id: str,
            system: str | None = None) -> list[AccessEntry]:
    """Every holder of ``entitlement_id`` (in ``system``, else in every system that has it)."""
    chosen = [ref for name, ref in syncs.items() if system is None or name == system]
    if system is not None and not chosen:
        raise UserError(f"the warehouse holds no sync of system {system!r} for that moment")
    g = s.grants.c
    entries = access_entries(conn, access_select(_pks(chosen)).where(g.entitlement_id == entitlement_id))
    return sorted(entries, key=lambda e: (e.system, e.principal_type, e.principal_id, e.entitlement_id))


@dataclass(frozen=True)
class Person:
    """Whose access ``access --person`` lists: an identity, or (not correlated) accounts found by name."""

    identity_id: str
    name: str
    email: str
    accounts: tuple[tuple[str, str, str], ...]  # (system, resource type, resource id)


def find_person(conn: Connection, who: str) -> Person:
    """An identity by id, email or login; else the accounts with that login, email or id."""
    i, a = s.identities.c, s.accounts.c
    key = who.strip().casefold()
    row = conn.execute(select(i.identity_id, i.name, i.email).where(
        or_(i.identity_id == who, func.lower(i.email) == key, func.lower(i.login) == key))
        .order_by(i.identity_id)).first()
    if row is None:  # an account's login or email that correlation linked to someone
        row = conn.execute(select(i.identity_id, i.name, i.email).join(s.accounts, a.identity_id == i.identity_id)
                           .where(or_(func.lower(a.login) == key, func.lower(a.email) == key))
                           .order_by(i.identity_id)).first()
    if row is not None:
        owned = conn.execute(select(a.system, a.resource_type_id, a.resource_id)
                             .where(a.identity_id == row[0]).order_by(a.system, a.resource_type_id, a.resource_id))
        return Person(str(row[0]), str(row[1]), str(row[2]), tuple((str(x), str(y), str(z)) for x, y, z in owned))
    loose = conn.execute(select(a.system, a.resource_type_id, a.resource_id).where(
        or_(func.lower(a.login) == key, func.lower(a.email) == key, a.resource_id == who))
        .order_by(a.system, a.resource_type_id, a.resource_id)).all()
    if not loose:
        raise UserError(f"no person or account {who!r} in the warehouse (by identity id, email or login)")
    return Person("", who, "", tuple((str(x), str(y), str(z)) for x, y, z in loose))


def person_access(conn: Connection, syncs: dict[str, SyncRef], person: Person) -> list[AccessEntry]:
    """Every entitlement every account of ``person`` holds, direct or through which group."""
    g, y = s.grants.c, s.systems.c
    entries: list[AccessEntry] = []
    for system, rtype, rid in person.accounts:
        ref = syncs.get(system)
        if ref is None:
            continue
        query = access_select([ref.sync_pk]).where(g.principal_type == rtype, g.principal_id == rid,
                                                    y.name == system)
        found = access_entries(conn, query)
        entries.extend(sorted(found, key=lambda e: (e.resource_type_id, e.resource_id, e.entitlement_id)))
    return entries


def changes(conn: Connection, baseline: dict[str, SyncRef], target: dict[str, SyncRef]) -> list[Change]:
    """Grants added and removed per system between its ``baseline`` and ``target`` syncs."""
    out: list[Change] = []
    for name, to in target.items():
        since = baseline.get(name)
        if since is None or since.sync_pk == to.sync_pk:
            continue
        for kind, new, old in (("added", to, since), ("removed", since, to)):
            out.extend(Change(name, kind, *row, since.sync_id, to.sync_id) for row in _missing_from(conn, new, old))
    return out


def _missing_from(conn: Connection, new: SyncRef, old: SyncRef) -> list[tuple[str, str, str, str]]:
    g = s.grants.alias("g")
    o = s.grants.alias("o")
    held_before = exists().where(o.c.sync_pk == old.sync_pk, o.c.entitlement_id == g.c.entitlement_id,
                                 o.c.principal_type == g.c.principal_type, o.c.principal_id == g.c.principal_id)
    query = (select(g.c.entitlement_id, g.c.principal_type, g.c.principal_id,
                    case((g.c.is_direct, literal(DIRECT)), else_=literal(INHERITED)))
             .where(g.c.sync_pk == new.sync_pk, ~held_before).order_by(g.c.grant_pk))
    return [(str(a), str(b), str(c), str(d)) for a, b, c, d in conn.execute(query)]


@dataclass(frozen=True)
class SystemStatus:
    """``warehouse status``: one line per system."""

    system: str
    syncs: int
    current_sync: str
    current_ended: dt.datetime | None
    grants: int
    resources: int
    entitlements: int
    loaded_at: dt.datetime | None
    load_seconds: float

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("current_ended", "loaded_at"):
            out[key] = out[key].isoformat(sep=" ", timespec="seconds") if out[key] else ""
        return out


def status(conn: Connection) -> list[SystemStatus]:
    y, sy = s.systems.c, s.syncs.c
    held: dict[int, int] = {int(k): int(v) for k, v in conn.execute(
        select(sy.system_id, func.count()).group_by(sy.system_id))}
    query = (select(y.system_id, y.name, sy.sync_id, sy.ended_at, sy.grants, sy.resources, sy.entitlements,
                    sy.loaded_at, sy.load_seconds)
             .join(s.syncs, and_(sy.system_id == y.system_id, sy.is_current)).order_by(y.name))
    return [SystemStatus(str(name), int(held.get(sid, 0)), str(sync_id), ended, int(gr), int(res), int(ents),
                         loaded, float(secs))
            for sid, name, sync_id, ended, gr, res, ents, loaded, secs in conn.execute(query)]
