"""Files we write open in Go's SDK v0.25 without migration or backfill.

Go's ``baton`` re-runs its grant backfill on every open of a file whose
``v1_sync_runs.grants_backfilled`` is 0 (tens of seconds on a million grants),
and runs ``PRAGMA optimize`` when opening changed its schema. So the sync-run
row we write, and the layout around it, are compared with Go-written fixtures
field by field.
"""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from connector_toys import GROUP, GroupSyncer, Toy, ToyConfig, UserSyncer

from pybaton import model
from pybaton.c1z import C1ZFile, copy_run, schema, syncs
from pybaton.connector import ResourceSyncer
from pybaton.pb.c1.connector.v2 import annotation_exclusion_group_pb2, entitlement_pb2
from pybaton.sync import SyncOptions, sync

FIXTURES = Path(__file__).parent / "fixtures"
GO_V025 = [FIXTURES / "demo-v0.25-sqlite.c1z", FIXTURES / "ldap.c1z"]
GO_TIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{9}$")


def _run_row(c1z: C1ZFile) -> dict[str, Any]:
    c1z.conn.row_factory = sqlite3.Row
    try:
        rows = [dict(r) for r in c1z.conn.execute("select * from v1_sync_runs where ended_at is not null")]
    finally:
        c1z.conn.row_factory = None
    assert len(rows) == 1
    return rows[0]


def _layout(conn: sqlite3.Connection) -> dict[str, Any]:
    """Every table's columns (name, type, not null, default, pk) and every index's definition."""
    out: dict[str, Any] = {}
    objects = conn.execute("select type, name, tbl_name from sqlite_master where name not like 'sqlite_%'")
    for kind, name, table in objects.fetchall():
        if kind == "table":
            out[name] = [tuple(r[1:]) for r in conn.execute(f"pragma table_info({name})")]
        else:
            flags = {r[1]: (r[2], r[4]) for r in conn.execute(f"pragma index_list({table})")}
            where = conn.execute("select sql from sqlite_master where name = ?", (name,)).fetchone()[0]
            partial = where.lower().split(" where ", 1)[1].strip() if " where " in where.lower() else ""
            out[name] = (table, [r[2] for r in conn.execute(f"pragma index_info({name})")], flags[name], partial)
    return out


def _toy_sync(tmp_path: Path, syncers: list[ResourceSyncer] | None = None) -> Path:
    config = ToyConfig(users=20, groups=3)

    class Custom(Toy):
        def syncers(self) -> list[ResourceSyncer]:
            return syncers or [UserSyncer(config), GroupSyncer(config)]

    path = tmp_path / "ours.c1z"
    sync(Custom(config), path, SyncOptions())
    return path


@pytest.mark.parametrize("go_file", GO_V025, ids=lambda p: p.stem)
def test_our_sync_run_row_matches_go(go_file: Path, tmp_path: Path) -> None:
    ours_path = _toy_sync(tmp_path)
    with C1ZFile.open(go_file) as go, C1ZFile.open(ours_path) as ours:
        go_row, our_row = _run_row(go), _run_row(ours)
        assert list(our_row) == list(go_row)  # same columns, same order
        for column in ("sync_type", "parent_sync_id", "linked_sync_id", "supports_diff", "grants_backfilled",
                       "ingest_invariant_generation", "ingest_invariant_coverage", "ingest_invariant_mode"):
            assert our_row[column] == go_row[column], column
        assert our_row["grants_backfilled"] == 1
        for column in ("started_at", "ended_at"):
            assert GO_TIME.match(go_row[column]) and GO_TIME.match(our_row[column]), column
        assert isinstance(json.loads(our_row["sync_token"]), dict)
        go_stats, our_stats = json.loads(go_row["stats"]), json.loads(our_row["stats"])
        assert set(our_stats) == set(go_stats)
        assert {k: type(v) for k, v in our_stats.items()} == {k: type(v) for k, v in go_stats.items()}
        assert _layout(ours.conn) == _layout(go.conn)


def test_go_open_changes_nothing_in_our_file(tmp_path: Path) -> None:
    """What Go's InitTables does on open (create if missing, add columns, backfill) is a no-op."""
    with C1ZFile.open(_toy_sync(tmp_path), writable=True) as c1z:
        conn = c1z.conn
        before = conn.execute("pragma schema_version").fetchone()[0]
        schema.create(conn)
        assert conn.execute("pragma schema_version").fetchone()[0] == before
        assert not schema.migrate(conn)
        assert conn.execute("select count(*) from v1_sync_runs where grants_backfilled = 0").fetchone()[0] == 0


def test_imported_runs_need_no_backfill_when_nothing_moves(tmp_path: Path) -> None:
    """An old Go run (no flag column) whose grants carry no GrantExpandable is already settled."""
    target = tmp_path / "import.c1z"
    with C1ZFile.open(FIXTURES / "demo-v0.2.51.c1z") as src, C1ZFile.create(target) as dst:
        new_id = copy_run(src, dst, src.resolve_sync().sync_id)
        flag = dst.conn.execute("select grants_backfilled from v1_sync_runs where sync_id = ?", (new_id,))
        assert flag.fetchone()[0] == 1


def test_pending_backfill_is_left_to_go(tmp_path: Path) -> None:
    """A run whose blobs still hold GrantExpandable (expansion column empty) keeps the flag at 0."""
    path = _toy_sync(tmp_path)
    with C1ZFile.open(path, writable=True) as c1z:
        run = c1z.resolve_sync()
        blob = model.grant(model.entitlement_ref(model.resource(GROUP, "g9", "G9"), "member"),
                           model.resource_id("group", "g1"), expandable=["group:g1:member"])
        c1z.conn.execute("update v1_grants set data = ?, expansion = null where id = (select min(id) from v1_grants)",
                         (blob.SerializeToString(),))
        c1z.conn.execute("update v1_sync_runs set grants_backfilled = 0")
        assert syncs.settle_grants_backfilled(c1z.conn) == 0
        c1z.conn.execute("update v1_grants set data = x'' where data = ?", (blob.SerializeToString(),))
        assert syncs.settle_grants_backfilled(c1z.conn, run.sync_id) == 1


class ConflictingGroups(GroupSyncer):
    """Two defaults in one exclusion group: Go's invariant I5 fails, so no verification marker."""

    def static_entitlements(self) -> list[entitlement_pb2.Entitlement]:
        out = []
        for slug in ("reader", "writer"):
            ent = entitlement_pb2.Entitlement(slug=slug, display_name=slug)
            ent.annotations.add().Pack(annotation_exclusion_group_pb2.EntitlementExclusionGroup(
                exclusion_group_id="level", is_default=True))
            out.append(ent)
        return out


def test_failed_invariant_leaves_the_run_unverified(tmp_path: Path) -> None:
    config = ToyConfig(users=4, groups=2)
    path = _toy_sync(tmp_path, [UserSyncer(config), ConflictingGroups(config)])
    with C1ZFile.open(path) as c1z:
        row = _run_row(c1z)
    assert (row["ingest_invariant_generation"], row["ingest_invariant_mode"]) == ("", "")
    assert row["grants_backfilled"] == 1
