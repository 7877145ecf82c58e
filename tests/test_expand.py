"""Grant expansion: Go's own fixture, byte-level encoding, old files, depth, resume, the CLI entry point."""

from __future__ import annotations

import copy
import json
import logging
import shutil
from pathlib import Path
from typing import Any

import pytest
from expand_worlds import World, ent, write_world

from pybaton.c1z import C1ZFile, SyncWriter
from pybaton.c1z.writer import grant_row
from pybaton.model import annotations as ann
from pybaton.model import builders as b
from pybaton.pb.c1.connector.v2 import annotation_grant_pb2, grant_pb2
from pybaton.sync import expand as expand_mod
from pybaton.sync import expand_store
from pybaton.sync import expand_wire as wire
from pybaton.sync.expand import expand_file, expand_sync
from pybaton.sync.expand_graph import EdgeSpec, EntitlementGraph, plan, strongly_connected

FIXTURES = Path(__file__).parent / "fixtures"
_IMMUTABLE = "instr(data, cast('c1.connector.v2.GrantImmutable' as blob)) > 0"


def grants_of(path: Path) -> dict[str, grant_pb2.Grant]:
    with C1ZFile.open(path) as c1z:
        return {gid: grant_pb2.Grant.FromString(blob)
                for gid, blob in c1z.conn.execute("select external_id, data from v1_grants")}


def rows_of(c1z: C1ZFile, sync_id: str) -> dict[str, bytes]:
    return dict(c1z.conn.execute("select external_id, data from v1_grants where sync_id = ?", (sync_id,)))


def noop() -> None:
    return None


# -- Go's fixture ----------------------------------------------------------------------------------


def test_reexpanding_ldap_matches_go(tmp_path: Path) -> None:
    """Strip the two grants Go derived from the nested group, expand with ours: the same grants come back."""
    path = tmp_path / "ldap.c1z"
    shutil.copy(FIXTURES / "ldap.c1z", path)
    go = grants_of(path)
    with C1ZFile.open(path, writable=True) as c1z:
        removed = c1z.conn.execute(f"delete from v1_grants where {_IMMUTABLE}").rowcount
        c1z.save()
    assert removed == 2
    stats = expand_file(path)
    ours = grants_of(path)
    assert stats.derived == 2
    assert set(ours) == set(go)
    for gid, grant in go.items():
        assert ours[gid] == grant, gid


def test_expanding_go_expanded_file_is_a_no_op(tmp_path: Path) -> None:
    path = tmp_path / "ldap.c1z"
    shutil.copy(FIXTURES / "ldap.c1z", path)
    go = grants_of(path)
    expand_file(path)
    assert grants_of(path) == go


# -- bytes ------------------------------------------------------------------------------------------


def test_hand_encoded_grant_equals_message_encoding() -> None:
    entitlement = b.assignment(b.resource("group", "g", "G", parent=b.resource_id("org", "o")), "member",
                               display_name="G member", description="ü" * 200)
    grant = grant_pb2.Grant(id=f"{entitlement.id}:user:{'é' * 90}")
    grant.entitlement.CopyFrom(entitlement)
    grant.principal.id.resource_type = "user"
    grant.principal.id.resource = "é" * 90
    grant.principal.parent_resource_id.resource_type = "org"
    grant.principal.parent_resource_id.resource = "o"
    grant.annotations.append(ann.pack(annotation_grant_pb2.GrantImmutable()))
    grant.sources.sources["group:z:member"].is_direct = True
    grant.sources.sources["group:a:member"].is_direct = False
    built = wire.derived_grant(wire.entitlement_field(entitlement.SerializeToString()),
                               wire.principal_field("user", "é" * 90, ("org", "o")), grant.id,
                               wire.sources_field([("group:z:member", True), ("group:a:member", False)]))
    assert built == grant.SerializeToString(deterministic=True)
    assert [wire.varint(n) for n in (0, 127, 128, 300, 16384)] == [b"\x00", b"\x7f", b"\x80\x01", b"\xac\x02",
                                                                   b"\x80\x80\x01"]


def test_sqlite_assembled_rows_equal_python_encoding(tmp_path: Path) -> None:
    """The bytes SQLite concatenates are the ones :mod:`expand_wire` builds, id lengths past 127 included."""
    long_user = "u" * 150
    world = World(["a", "b", "c"], [("user", "x"), ("user", long_user)],
                  {("a", ("user", "x")), ("a", ("user", long_user)), ("b", ("user", "x"))},
                  {("a", "b"): (False, None), ("b", "c"): (False, None)})
    c1z, writer = write_world(tmp_path / "w.c1z", world)
    with c1z:
        expand_sync(c1z, writer, {}, checkpoint=noop)
        rows = c1z.conn.execute(
            "select g.external_id, g.principal_resource_type_id, g.principal_resource_id, g.data, e.data "
            "from v1_grants g join v1_entitlements e on e.external_id = g.entitlement_id "
            "where instr(g.data, cast('c1.connector.v2.GrantImmutable' as blob)) > 0"
        ).fetchall()
    assert len(rows) == 4
    for gid, ptype, pid, data, ent_blob in rows:
        grant = grant_pb2.Grant.FromString(data)
        sources = [(k, v.is_direct) for k, v in grant.sources.sources.items()]
        assert data == wire.derived_grant(wire.entitlement_field(ent_blob), wire.principal_field(ptype, pid), gid,
                                          wire.sources_field(sources))
        assert data == grant.SerializeToString(deterministic=True)


# -- inputs -----------------------------------------------------------------------------------------


def test_old_files_keep_the_annotation_in_the_grant(tmp_path: Path) -> None:
    """SDKs before v0.3 had no ``expansion`` column: the annotation is read from the grant itself."""
    world = World(["a", "b"], [("user", "x")], {("a", ("user", "x"))}, {})
    c1z, writer = write_world(tmp_path / "old.c1z", world)
    with c1z:
        legacy = b.grant(b.entitlement_ref(b.resource_id("group", "b"), "member"), b.resource_id("group", "a"),
                         expandable=[ent("a")])
        row = grant_row(legacy, writer.sync_id, "2024-01-01 00:00:00")
        writer.put_grant_rows([(*row[:6], None, 0, legacy.SerializeToString(), *row[9:])])
        stats = expand_sync(c1z, writer, {}, checkpoint=noop)
        assert stats.edges == 1 and stats.derived == 1
        assert "group:b:member:user:x" in rows_of(c1z, writer.sync_id)


def test_edges_baton_rejects_are_skipped_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    world = World(["a", "b"], [("user", "x")], {("a", ("user", "x"))}, {})
    c1z, writer = write_world(tmp_path / "bad.c1z", world)
    with c1z:
        writer.put_grants([
            # the source entitlement is not on the grant's principal
            b.grant(b.entitlement_ref(b.resource_id("group", "b"), "member"), b.resource_id("user", "x"),
                    expandable=[ent("a")]),
            # the source entitlement does not exist
            b.grant(b.entitlement_ref(b.resource_id("group", "a"), "member"), b.resource_id("group", "b"),
                    expandable=["group:nope:member"]),
        ])
        with caplog.at_level(logging.WARNING, logger="pybaton.sync.expand"):
            stats = expand_sync(c1z, writer, {}, checkpoint=noop)
    assert stats.edges == 0 and stats.derived == 0
    text = caplog.text
    assert "not on the grant's principal" in text and "not in the sync" in text


def test_depth_is_bounded_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A chain 8 deep with max depth 3: the first 3 levels expand, the rest get nothing, and it is said."""
    groups = [f"g{i}" for i in range(9)]
    world = World(groups, [("user", "x")], {("g0", ("user", "x"))},
                  {(groups[i], groups[i + 1]): (False, None) for i in range(8)})
    c1z, writer = write_world(tmp_path / "deep.c1z", world)
    with c1z, caplog.at_level(logging.WARNING, logger="pybaton.sync.expand"):
        stats = expand_sync(c1z, writer, {}, max_depth=3, checkpoint=noop)
        got = {gid for gid in rows_of(c1z, writer.sync_id) if gid.endswith(":user:x")}
    assert got == {f"group:g{i}:member:user:x" for i in range(4)}
    assert stats.skipped == 5 and stats.depth == 3
    assert "more than the maximum of 3" in caplog.text


# -- the graph --------------------------------------------------------------------------------------


def test_strongly_connected_components() -> None:
    out = [[1], [2], [0, 3], [4], [3], []]
    comps = sorted(sorted(c) for c in strongly_connected(6, out))
    assert comps == [[0, 1, 2], [3, 4], [5]]


def test_plan_layers_and_merged_duplicate_edges() -> None:
    graph = EntitlementGraph()
    graph.add_edge("a", "b", EdgeSpec(True, frozenset({"user"})))
    graph.add_edge("a", "b", EdgeSpec(True, frozenset({"svc"})))
    graph.add_edge("b", "c", EdgeSpec(True, None))
    graph.add_edge("b", "c", EdgeSpec(False, frozenset({"user"})))
    graph.add_edge("c", "c", EdgeSpec())
    assert graph.edges[(0, 1)] == EdgeSpec(True, frozenset({"user", "svc"}))
    assert graph.edges[(1, 2)] == EdgeSpec(False, None)
    assert (2, 2) not in graph.edges
    layout = plan(graph, 20)
    assert [(c.members, c.layer) for c in layout.components] == [((0,), 0), ((1,), 1), ((2,), 2)]


# -- resume -----------------------------------------------------------------------------------------


class Crash(Exception):
    pass


def _fanout_world() -> World:
    users = [("user", f"u{i:02d}") for i in range(40)]
    groups = ["all", *(f"r{i}" for i in range(6)), "top"]
    edges: dict[tuple[str, str], tuple[bool, frozenset[str] | None]] = {
        ("all", f"r{i}"): (False, None) for i in range(6)}
    edges.update({(f"r{i}", "top"): (False, None) for i in range(6)})
    members = {("all", u) for u in users} | {("r2", u) for u in users[:5]} | {("top", users[7])}
    return World(groups, users, members, edges)


def principal_index_exists(c1z: C1ZFile) -> bool:
    return c1z.conn.execute("select 1 from sqlite_master where name = 'idx_grants_principal_id_v1'").fetchone() \
        is not None


@pytest.mark.parametrize("mode", ["plain", "bulk", "repage"])
@pytest.mark.parametrize("crash_after", [1, 2, 5, 9])
def test_resume_after_a_crash_equals_an_uninterrupted_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          crash_after: int, mode: str) -> None:
    """Commit every few rows, crash inside the Nth checkpoint, resume from the last saved state.

    ``bulk`` forces the path that drops the principal index for the writes and rebuilds it after;
    ``repage`` that path with the move to bigger pages first (both runs, the crashed one too).
    """
    bulk = mode != "plain"
    if bulk:
        monkeypatch.setattr(expand_mod, "BULK_MIN_ROWS", 0)
    monkeypatch.setattr(expand_store, "REPAGE_MIN_FACTOR", 0 if mode == "repage" else 10**9)
    monkeypatch.setattr(expand_mod, "COMMIT_ROWS", 7)
    monkeypatch.setattr(expand_mod, "CHUNK_ROWS", 4)
    world = _fanout_world()
    c1z, writer = write_world(tmp_path / "clean.c1z", world)
    with c1z:
        expand_sync(c1z, writer, {}, checkpoint=noop)
        clean = rows_of(c1z, writer.sync_id)

    c1z, writer = write_world(tmp_path / "crash.c1z", world)
    saved: dict[str, Any] = {}
    state: dict[str, Any] = {}
    calls = 0

    def checkpoint() -> None:
        nonlocal calls, saved
        calls += 1
        if calls == crash_after:
            raise Crash
        saved = copy.deepcopy(state)

    with c1z:
        with pytest.raises(Crash):
            expand_sync(c1z, writer, state, checkpoint=checkpoint)
        assert c1z.conn.in_transaction is False
        resumed = expand_sync(c1z, SyncWriter(c1z, writer.sync_id), copy.deepcopy(saved), checkpoint=noop)
        assert resumed.resumed == bool(saved.get("done") or saved.get("chunks"))
        assert resumed.bulk == bulk
        assert rows_of(c1z, writer.sync_id) == clean
        page_size = c1z.conn.execute("pragma page_size").fetchone()[0]
        assert (page_size == expand_store.BULK_PAGE_SIZE) == (mode == "repage")
        assert principal_index_exists(c1z)


def test_reopening_after_a_crash_in_bulk_mode_restores_the_index(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A crash while the principal index is dropped: the next writable open rebuilds it (schema.migrate)."""
    monkeypatch.setattr(expand_mod, "BULK_MIN_ROWS", 0)
    monkeypatch.setattr(expand_mod, "COMMIT_ROWS", 3)
    path, workdir = tmp_path / "w.c1z", tmp_path / "w.c1z.wip"
    c1z, writer = write_world(path, _fanout_world())
    with c1z:
        c1z.save()
        expand_sync(c1z, writer, {}, checkpoint=noop)
        clean = rows_of(c1z, writer.sync_id)
    saved: dict[str, Any] = {}
    state: dict[str, Any] = {}

    def checkpoint() -> None:
        nonlocal saved
        if state.get("done", 0) >= 3:
            raise Crash
        saved = copy.deepcopy(state)

    c1z = C1ZFile.open(path, writable=True, workdir=workdir)
    with pytest.raises(Crash):
        expand_sync(c1z, SyncWriter(c1z, writer.sync_id), state, checkpoint=checkpoint)
    assert not principal_index_exists(c1z)
    c1z.close(discard_workdir=False)
    with C1ZFile.open(path, writable=True, workdir=workdir) as c1z:
        assert principal_index_exists(c1z)
        stats = expand_sync(c1z, SyncWriter(c1z, writer.sync_id), saved, checkpoint=noop)
        assert stats.resumed and principal_index_exists(c1z)
        assert rows_of(c1z, writer.sync_id) == clean


def test_resume_with_a_changed_graph_starts_over(tmp_path: Path) -> None:
    world = _fanout_world()
    c1z, writer = write_world(tmp_path / "w.c1z", world)
    with c1z:
        state: dict[str, Any] = {}
        expand_sync(c1z, writer, state, checkpoint=noop)
        expected = rows_of(c1z, writer.sync_id)
        state.update(plan="something else", done=3)
        expand_sync(c1z, writer, state, checkpoint=noop)
        assert rows_of(c1z, writer.sync_id) == expected


def test_expand_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from pybaton.cli.main import run

    path = tmp_path / "ldap.c1z"
    shutil.copy(FIXTURES / "ldap.c1z", path)
    with C1ZFile.open(path, writable=True) as c1z:
        c1z.conn.execute(f"delete from v1_grants where {_IMMUTABLE}")
        c1z.save()
    assert run(["expand", "-f", str(path), "-o", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["derived"] == 2
    assert grants_of(path) == grants_of(FIXTURES / "ldap.c1z")
