"""Referential checks on a finished run: do grants point at things that were listed?

A grant whose entitlement or principal is missing, or an entitlement whose
resource is missing, usually means a connector bug or a permission gap in the
system; the run still completes, and the violations are reported.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

_EXAMPLES = 5

_CHECKS: tuple[tuple[str, str, str], ...] = (
    ("grant_without_entitlement", "grants whose entitlement was not listed",
     "select g.external_id from v1_grants g where g.sync_id = :s and not exists "
     "(select 1 from v1_entitlements e where e.external_id = g.entitlement_id and e.sync_id = :s)"),
    ("grant_without_principal", "grants whose principal was not listed",
     "select g.external_id from v1_grants g where g.sync_id = :s and not exists "
     "(select 1 from v1_resources r where r.external_id = g.principal_resource_type_id || ':' || "
     "g.principal_resource_id and r.sync_id = :s)"),
    ("entitlement_without_resource", "entitlements whose resource was not listed",
     "select e.external_id from v1_entitlements e where e.sync_id = :s and not exists "
     "(select 1 from v1_resources r where r.external_id = e.resource_type_id || ':' || e.resource_id "
     "and r.sync_id = :s)"),
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
    for kind, description, sql in _CHECKS:
        ids = [row[0] for row in conn.execute(sql, {"s": sync_id})]
        if ids:
            out.append(Violation(kind, description, len(ids), tuple(ids[:_EXAMPLES])))
    return out
