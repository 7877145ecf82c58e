"""Referential checks on a finished run: do grants point at things that were listed?

A grant whose entitlement or principal is missing, or an entitlement whose
resource is missing, usually means a connector bug or a permission gap in the
system; the run still completes, and the violations are reported.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from pybaton.pb.c1.connector.v2 import annotation_exclusion_group_pb2, entitlement_pb2

_EXAMPLES = 5

# (kind, description, query listing the violations, screen). The screen asks the same question of
# each distinct entitlement or principal any grant in the file names (any run's grants: a superset,
# read from a covering index) instead of probing once per grant: a million grants name a thousand
# entitlements and a hundred thousand principals. It returns a row when a violation may exist; only
# then does the exact (per-grant) query run, so what is reported, and in what order, is unchanged.
_CHECKS: tuple[tuple[str, str, str, str], ...] = (
    ("grant_without_entitlement", "grants whose entitlement was not listed",
     "select g.external_id from v1_grants g where g.sync_id = :s and not exists "
     "(select 1 from v1_entitlements e where e.external_id = g.entitlement_id and e.sync_id = :s)",
     "select 1 from (select distinct entitlement_id as ent from v1_grants) where not exists "
     "(select 1 from v1_entitlements e where e.external_id = ent and e.sync_id = :s) limit 1"),
    ("grant_without_principal", "grants whose principal was not listed",
     "select g.external_id from v1_grants g where g.sync_id = :s and not exists "
     "(select 1 from v1_resources r where r.external_id = g.principal_resource_type_id || ':' || "
     "g.principal_resource_id and r.sync_id = :s)",
     "select 1 from (select distinct principal_resource_type_id as pt, principal_resource_id as pr from v1_grants) "
     "where not exists (select 1 from v1_resources r where r.external_id = pt || ':' || pr and r.sync_id = :s) "
     "limit 1"),
    ("entitlement_without_resource", "entitlements whose resource was not listed",
     "select e.external_id from v1_entitlements e where e.sync_id = :s and not exists "
     "(select 1 from v1_resources r where r.external_id = e.resource_type_id || ':' || e.resource_id "
     "and r.sync_id = :s)",
     ""),
)


@dataclass(frozen=True)
class Violation:
    kind: str
    description: str
    count: int
    examples: tuple[str, ...]

    def describe(self) -> str:
        shown = ", ".join(self.examples)
        more = f" (+{self.count - len(self.examples)} more)" if self.count > len(self.examples) else ""
        return f"{self.count} {self.description}: {shown}{more}"


def check(conn: sqlite3.Connection, sync_id: str) -> list[Violation]:
    out = []
    for kind, description, sql, screen in _CHECKS:
        if screen and conn.execute(screen, {"s": sync_id}).fetchone() is None:
            continue
        ids = [row[0] for row in conn.execute(sql, {"s": sync_id})]
        if ids:
            out.append(Violation(kind, description, len(ids), tuple(ids[:_EXAMPLES])))
    return out


def check_candidates(conn: sqlite3.Connection, sync_id: str, candidates: str) -> list[Violation]:
    """:func:`check` restricted to some rows: ``candidates`` names a table of ``(tbl, id)`` pairs (a grant or
    entitlement row id). The same questions, in the same (row id) order, so when no other row of the run can
    be in violation the findings are exactly :func:`check`'s (an incremental compaction uses it)."""
    out = []
    for kind, description, sql, _ in _CHECKS:
        alias, table = ("g", "v1_grants") if kind.startswith("grant_") else ("e", "v1_entitlements")
        restricted = f"{sql} and {alias}.id in (select id from {candidates} where tbl = '{table}') order by {alias}.id"
        ids = [row[0] for row in conn.execute(restricted, {"s": sync_id})]
        if ids:
            out.append(Violation(kind, description, len(ids), tuple(ids[:_EXAMPLES])))
    return out


# Go's cap on the members of one exclusion group (baton-sdk v0.25, invariant I5).
MAX_EXCLUSION_GROUP_MEMBERS = 50
_EXCLUSION_GROUP_URL = ("type.googleapis.com/"
                        + annotation_exclusion_group_pb2.EntitlementExclusionGroup.DESCRIPTOR.full_name)


@dataclass
class _ExclusionGroup:
    resource_type: str = ""
    default_entitlement: str = ""
    members: int = 0


def exclusion_group_conflicts(conn: sqlite3.Connection, sync_id: str) -> list[str]:
    """Go's ingest invariant I5 over a run's stored entitlements: each exclusion group spans one
    resource type, has at most one default and at most 50 members. Returns what is wrong.

    Only blobs that mention the annotation's type are parsed (a substring test in SQLite).
    """
    groups: dict[str, _ExclusionGroup] = {}
    problems: list[str] = []
    rows = conn.execute("select data from v1_entitlements where sync_id = ? and instr(data, ?) > 0 order by id",
                        (sync_id, _EXCLUSION_GROUP_URL.encode()))
    for (blob,) in rows:
        ent = entitlement_pb2.Entitlement.FromString(blob)
        counted: set[str] = set()
        for any_ in ent.annotations:
            if any_.type_url != _EXCLUSION_GROUP_URL:
                continue
            eg = annotation_exclusion_group_pb2.EntitlementExclusionGroup.FromString(any_.value)
            if not eg.exclusion_group_id:
                continue
            problem = _record_membership(groups.setdefault(eg.exclusion_group_id, _ExclusionGroup()), ent, eg,
                                         eg.exclusion_group_id in counted)
            counted.add(eg.exclusion_group_id)
            if problem:
                problems.append(problem)
    return problems


def _record_membership(group: _ExclusionGroup, ent: entitlement_pb2.Entitlement,
                       eg: annotation_exclusion_group_pb2.EntitlementExclusionGroup, counted: bool) -> str:
    name = eg.exclusion_group_id
    rtype = ent.resource.id.resource_type
    if group.resource_type and group.resource_type != rtype:
        return f"exclusion group {name!r} is used on resource types {group.resource_type!r} and {rtype!r}"
    group.resource_type = rtype
    if eg.is_default:
        if group.default_entitlement and group.default_entitlement != ent.id:
            return f"exclusion group {name!r} has two defaults ({group.default_entitlement!r} and {ent.id!r})"
        group.default_entitlement = ent.id
    if not counted:
        group.members += 1
        if group.members == MAX_EXCLUSION_GROUP_MEMBERS + 1:
            return f"exclusion group {name!r} has more than {MAX_EXCLUSION_GROUP_MEMBERS} entitlements"
    return ""
