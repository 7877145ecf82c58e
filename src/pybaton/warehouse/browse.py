"""Questions a browser asks: search by name, and long answers a page at a time, sorted in SQL.

The console never loads a whole answer to show twenty rows: the holders of an
entitlement with 100k members come back one sorted page (``LIMIT``/``OFFSET``
over the ``ix_grants_entitlement`` index) with the total counted beside it.
Sort keys are chosen from a fixed list of columns, never from the request text.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, exists, func, literal, or_, select

from pybaton.warehouse import schema as s
from pybaton.warehouse.queries import AccessEntry, access_entries, access_select
from pybaton.warehouse.stored import SyncRef

SEARCH_LIMIT = 50


@dataclass(frozen=True)
class Hit:
    """One search result: what it is, where it lives, and the key to open it."""

    kind: str  # person | account | resource | entitlement
    system: str
    key: str
    name: str
    detail: str


@dataclass(frozen=True)
class PageOf:
    """One page of a longer answer."""

    rows: list[AccessEntry]
    total: int
    offset: int
    limit: int


# Sortable columns of a holders page: request word → (column of the access select, tie-breakers).
HOLDER_SORTS = ("system", "principal", "name", "person", "access")


def _like(text: str) -> str:
    escaped = text.strip().casefold().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search(conn: Connection, syncs: dict[str, SyncRef], text: str, limit: int = SEARCH_LIMIT) -> list[Hit]:
    """People, accounts, resources and entitlements whose name, login, email or id contains ``text``."""
    if not text.strip():
        return []
    pattern = _like(text)
    pks = [ref.sync_pk for ref in syncs.values()]

    def has(*cols: Any) -> Any:
        return or_(*(func.lower(c).like(pattern, escape="\\") for c in cols))

    i, a, r, e, y, sy = (s.identities.c, s.accounts.c, s.resources.c, s.entitlements.c, s.systems.c, s.syncs.c)
    people = select(literal("person"), i.source_system, i.identity_id, i.name, i.email).where(
        has(i.identity_id, i.name, i.email, i.login, i.display_name)).limit(limit)
    accounts = select(literal("account"), a.system, a.resource_type_id + literal(":") + a.resource_id,
                      a.display_name, a.login).where(
        has(a.resource_id, a.display_name, a.login, a.email)).limit(limit)
    resources = (select(literal("resource"), y.name, r.resource_type_id + literal(":") + r.resource_id,
                        r.display_name, r.resource_type_id)
                 .join(s.syncs, sy.sync_pk == r.sync_pk).join(s.systems, y.system_id == sy.system_id)
                 .where(r.sync_pk.in_(pks), has(r.resource_id, r.display_name)).limit(limit))
    ents = (select(literal("entitlement"), y.name, e.entitlement_id, e.display_name, e.slug)
            .join(s.syncs, sy.sync_pk == e.sync_pk).join(s.systems, y.system_id == sy.system_id)
            .where(e.sync_pk.in_(pks), has(e.entitlement_id, e.display_name)).limit(limit))
    hits: list[Hit] = []
    for query in (people, accounts, resources, ents):
        hits.extend(Hit(*(str(v or "") for v in row)) for row in conn.execute(query))
    return hits[:limit * 4]


def holders_page(conn: Connection, syncs: dict[str, SyncRef], entitlement_id: str, *, system: str | None = None,
                 sort: str = "principal", descending: bool = False, offset: int = 0,
                 limit: int = 50) -> PageOf:
    """One sorted page of who holds ``entitlement_id``, and how many hold it in all."""
    chosen = [ref.sync_pk for name, ref in syncs.items() if system is None or name == system]
    g, y = s.grants.c, s.systems.c
    total = int(conn.execute(select(func.count()).select_from(s.grants).where(
        g.sync_pk.in_(chosen), g.entitlement_id == entitlement_id)).scalar_one())
    query = access_select(chosen).where(g.entitlement_id == entitlement_id)
    columns: dict[str, list[Any]] = {
        "system": [y.name], "principal": [g.principal_type, g.principal_id],
        "access": [g.is_direct.desc() if not descending else g.is_direct], "name": [g.principal_id],
        "person": [g.principal_id]}
    keys = columns.get(sort, columns["principal"])
    ordered = [k.desc() if descending and sort != "access" else k for k in keys]
    query = query.order_by(*ordered, g.grant_pk).offset(max(offset, 0)).limit(max(1, min(limit, 1000)))
    return PageOf(access_entries(conn, query), total, offset, limit)


def entitlement_names(conn: Connection, syncs: dict[str, SyncRef], entitlement_id: str) -> list[tuple[str, str]]:
    """(system, display name) of ``entitlement_id`` in every system that has it."""
    e, y, sy = s.entitlements.c, s.systems.c, s.syncs.c
    query = (select(y.name, e.display_name).join(s.syncs, sy.sync_pk == e.sync_pk)
             .join(s.systems, y.system_id == sy.system_id)
             .where(e.sync_pk.in_([r.sync_pk for r in syncs.values()]), e.entitlement_id == entitlement_id)
             .order_by(y.name))
    return [(str(a), str(b)) for a, b in conn.execute(query)]


def resource_entitlements(conn: Connection, syncs: dict[str, SyncRef], resource_type: str,
                          resource_id: str) -> list[tuple[str, str, str, int]]:
    """(system, entitlement id, name, holders) of one resource, in every system that has it."""
    e, g, y, sy = s.entitlements.c, s.grants.c, s.systems.c, s.syncs.c
    held = (select(func.count()).select_from(s.grants)
            .where(g.sync_pk == e.sync_pk, g.entitlement_id == e.entitlement_id).scalar_subquery())
    query = (select(y.name, e.entitlement_id, e.display_name, held).join(s.syncs, sy.sync_pk == e.sync_pk)
             .join(s.systems, y.system_id == sy.system_id)
             .where(e.sync_pk.in_([r.sync_pk for r in syncs.values()]), e.resource_type_id == resource_type,
                    e.resource_id == resource_id).order_by(y.name, e.entitlement_id))
    return [(str(a), str(b), str(c), int(d)) for a, b, c, d in conn.execute(query)]


@dataclass(frozen=True)
class AccountRow:
    system: str
    resource_type_id: str
    resource_id: str
    display_name: str
    login: str
    email: str
    match: str
    kind: str
    identity_id: str
    status: str


def identity_accounts(conn: Connection, kind: str, offset: int = 0, limit: int = 50) -> tuple[list[AccountRow], int]:
    """Accounts in one bucket of the identities page: orphans, ambiguous, service accounts, leavers' accounts."""
    a, i = s.accounts.c, s.identities.c
    base = select(a.system, a.resource_type_id, a.resource_id, a.display_name, a.login, a.email, a.match, a.kind,
                  func.coalesce(a.identity_id, ""), a.status)
    buckets: dict[str, list[Any]] = {
        "orphans": [a.match == "orphan"],
        "ambiguous": [a.match == "ambiguous"],
        "service": [or_(a.kind == "service", a.match == "service")],
        "leavers": [a.identity_id.in_(select(i.identity_id).where(~i.enabled))],
    }
    conditions = buckets.get(kind, buckets["orphans"])
    total = int(conn.execute(select(func.count()).select_from(s.accounts).where(*conditions)).scalar_one())
    rows = conn.execute(base.where(*conditions).order_by(a.system, a.resource_type_id, a.resource_id)
                        .offset(offset).limit(limit))
    return [AccountRow(*(str(v or "") for v in row)) for row in rows], total


def match_kinds(conn: Connection) -> dict[str, int]:
    """How many accounts of each correlation outcome (``match``) and kind the warehouse holds."""
    a = s.accounts.c
    out: dict[str, int] = {}
    for query in (select(a.match, func.count()).group_by(a.match), select(a.kind, func.count()).group_by(a.kind)):
        for key, count in conn.execute(query):
            out[str(key)] = out.get(str(key), 0) + int(count)
    return out


__all__ = [
    "HOLDER_SORTS",
    "AccountRow",
    "Hit",
    "PageOf",
    "account_grants",
    "entitlement_names",
    "holders_page",
    "identity_accounts",
    "match_kinds",
    "resource_entitlements",
    "search",
]


def account_grants(conn: Connection, syncs: dict[str, SyncRef], *, resource_types: list[str] | None = None,
                   entitlements: list[str] | None = None) -> Iterator[AccessEntry]:
    """Every grant held by an account (a principal correlation knows) in ``syncs``, streamed in system order."""
    g, y, a = s.grants.c, s.systems.c, s.accounts.c
    is_account = exists().where(a.system == y.name, a.resource_type_id == g.principal_type,
                                a.resource_id == g.principal_id)
    query = access_select([ref.sync_pk for ref in syncs.values()]).where(is_account)
    if resource_types:
        query = query.where(g.resource_type_id.in_(resource_types))
    if entitlements:
        query = query.where(g.entitlement_id.in_(entitlements))
    result = conn.execution_options(yield_per=5000).execute(query.order_by(g.grant_pk))
    for row in result:
        yield AccessEntry(*(str(v) if v is not None else "" for v in row))
