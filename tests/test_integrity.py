"""The integrity check's screens: a dangling grant of another run in the same file must neither
hide nor invent a violation of the run being checked."""

from __future__ import annotations

import sqlite3

from pybaton.c1z import schema
from pybaton.sync import integrity


def _file() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    schema.create(conn)
    return conn


def _run(conn: sqlite3.Connection, sync_id: str, *, principal: str, entitlement: str) -> None:
    """One run: user u1, group g1 with entitlement ``member``, and one grant of ``entitlement`` to ``principal``."""
    conn.executemany("insert into v1_resources (resource_type_id, external_id, data, sync_id, discovered_at) "
                     "values (?, ?, x'', ?, '')", [("user", "user:u1", sync_id), ("group", "group:g1", sync_id)])
    conn.execute("insert into v1_entitlements (resource_type_id, resource_id, external_id, data, sync_id, "
                 "discovered_at) values ('group', 'g1', 'group:g1:member', x'', ?, '')", (sync_id,))
    conn.execute("insert into v1_grants (resource_type_id, resource_id, entitlement_id, principal_resource_type_id, "
                 "principal_resource_id, external_id, data, sync_id, discovered_at) "
                 "values ('group', 'g1', ?, 'user', ?, ?, x'', ?, '')",
                 (entitlement, principal, f"{entitlement}:user:{principal}", sync_id))


def test_a_clean_run_beside_a_dangling_one_has_no_violations() -> None:
    conn = _file()
    _run(conn, "old", principal="ghost", entitlement="group:g1:owner")
    _run(conn, "new", principal="u1", entitlement="group:g1:member")
    assert integrity.check(conn, "new") == []


def test_a_dangling_run_beside_a_clean_one_reports_its_grants() -> None:
    conn = _file()
    _run(conn, "old", principal="u1", entitlement="group:g1:member")
    _run(conn, "new", principal="ghost", entitlement="group:g1:owner")
    found = {v.kind: v.examples for v in integrity.check(conn, "new")}
    assert found == {"grant_without_entitlement": ("group:g1:owner:user:ghost",),
                     "grant_without_principal": ("group:g1:owner:user:ghost",)}
