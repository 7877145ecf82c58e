"""The expansion graph from the warehouse: the same graph, and the same fixed-point plan, as from the files.

Issue 17's planner imagines its plan applied and re-applies grant expansion, so
it needs the graph of which entitlements pass on to which. Built from a
``.c1z`` (:class:`SyncReader`) or from the warehouse (:class:`StoredSync`), the
graph must be the same, on the embedded SQLite default and on PostgreSQL; and
issue 17's scenario must plan, and converge in one cycle, the same way from
either source.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from expand_worlds import World, ent, write_world
from provision_helpers import Cli
from sqlalchemy import text
from test_reconcile_fixpoint import ISSUE_POLICY, SRE, effective_holders, two_companies

from pybaton.c1z import C1ZFile, SyncQueries, SyncReader, syncs
from pybaton.c1z.writer import grant_row
from pybaton.errors import WarehouseError
from pybaton.model import builders as b
from pybaton.sync.expand_graph import EdgeSpec, EntitlementGraph
from pybaton.sync.expand_store import sync_graph
from pybaton.warehouse import Warehouse
from pybaton.warehouse.engine import connect_engine, database_url, migrate

FIXTURES = Path(__file__).parent / "fixtures"


def _graph(reader: SyncQueries) -> tuple[list[str], dict[tuple[str, str], EdgeSpec]]:
    """The graph by entitlement ids (interning order included: expansion walks it)."""
    graph: EntitlementGraph = sync_graph(reader)
    return graph.ids, {(graph.ids[s], graph.ids[d]): spec for (s, d), spec in graph.edges.items()}


def _file_and_warehouse(wh: Warehouse, system: str, path: Path) -> tuple[Any, Any, list[Any], list[Any]]:
    """The graph and the expandable grants of ``path``'s sync, from the file and from the warehouse."""
    assert wh.load(system, path).loaded
    with C1ZFile.open(path) as c1z:
        reader = SyncReader.of(c1z)
        from_file, file_rows = _graph(reader), list(reader.expandable_grants())
    with wh.stored_syncs() as stored:
        from_warehouse, stored_rows = _graph(stored[system]), list(stored[system].expandable_grants())
    return from_file, from_warehouse, file_rows, stored_rows


def _deep_world(path: Path, depth: int) -> Path:
    """Groups nested ``depth`` deep (g0 in g1 in …), a shallow edge, a type filter, a grant written as SDKs
    before v0.3 wrote it (annotation in the grant), and one whose annotation cannot be read; a finished sync."""
    groups = [f"g{i}" for i in range(depth)] + ["side", "old", "bad"]
    edges: dict[tuple[str, str], tuple[bool, frozenset[str] | None]] = {
        (f"g{i}", f"g{i + 1}"): (False, None) for i in range(depth - 1)}
    edges[("g0", "side")] = (True, None)
    edges[("g1", "side")] = (False, frozenset({"user"}))
    world = World(groups, [("user", f"u{i}") for i in range(depth)] + [("svc", "bot")],
                  {(f"g{i}", ("user", f"u{i}")) for i in range(depth)} | {("g0", ("svc", "bot"))}, edges)
    c1z, writer = write_world(path, world)
    with c1z:
        legacy = b.grant(b.entitlement_ref(b.resource_id("group", "old"), "member"), b.resource_id("group", "g2"),
                         expandable=[ent("g2")])
        row = grant_row(legacy, writer.sync_id, "2024-01-01 00:00:00")
        bad = b.grant(b.entitlement_ref(b.resource_id("group", "bad"), "member"), b.resource_id("group", "g3"),
                      expandable=[ent("g3")])
        bad_row = grant_row(bad, writer.sync_id, "2024-01-01 00:00:00")
        writer.put_grant_rows([(*row[:6], None, 0, legacy.SerializeToString(), *row[9:]),
                               (*bad_row[:6], b"\xff\xff not a message", 0, *bad_row[8:])])
        syncs.end_run(c1z.conn, writer.sync_id)
        c1z.save()
    return path


@pytest.mark.parametrize("depth", [4, 40])
def test_the_graph_from_the_warehouse_equals_the_graph_from_the_file(warehouse_url: str, tmp_path: Path,
                                                                     depth: int) -> None:
    path = _deep_world(tmp_path / "deep.c1z", depth)
    with Warehouse.open(warehouse_url) as wh:
        from_file, from_warehouse, file_rows, stored_rows = _file_and_warehouse(wh, "deep", path)
    assert from_warehouse == from_file
    assert stored_rows == file_rows
    ids, edges = from_file
    assert (ent(f"g{depth - 2}"), ent(f"g{depth - 1}")) in edges  # the deepest nesting
    assert edges[(ent("g0"), ent("side"))].shallow
    assert edges[(ent("g1"), ent("side"))].types == frozenset({"user"})
    assert (ent("g2"), ent("old")) in edges  # the legacy in-grant annotation
    assert ent("bad") not in ids and any(row.expandable is None for row in stored_rows)  # unreadable: skipped


def test_the_graph_of_the_ldap_fixture_and_the_demo_company(warehouse_url: str, tmp_path: Path, cli: Cli) -> None:
    demo = tmp_path / "demo.c1z"
    assert cli("sync", "demo", "-f", demo, "--data-dir", tmp_path / "demo-db", "--log-level", "warn").code == 0
    with Warehouse.open(warehouse_url) as wh:
        for system, path in (("ldap", FIXTURES / "ldap.c1z"), ("demo", demo)):
            from_file, from_warehouse, file_rows, stored_rows = _file_and_warehouse(wh, system, path)
            assert from_warehouse == from_file and from_file[1], system
            assert stored_rows == file_rows



def test_expansion_rows_are_pruned_with_their_sync(warehouse_url: str, tmp_path: Path) -> None:
    with Warehouse.open(warehouse_url, keep_syncs=1) as wh:
        for n, depth in enumerate((4, 6)):
            wh.load("deep", _deep_world(tmp_path / f"deep{n}.c1z", depth))
        with wh.reading() as conn:
            kept = conn.execute(text("select count(*) from grant_expansions x join syncs s using (sync_pk)")).scalar()
            every = conn.execute(text("select count(*) from grant_expansions")).scalar()
    assert every == kept == 5 + 2 + 2  # the second world: 5 nestings, 2 side edges, the legacy and the bad one

def test_a_warehouse_at_0002_upgrades_in_place_and_its_old_syncs_say_their_graph_is_unknown(
        warehouse_url: str, tmp_path: Path) -> None:
    engine = connect_engine(database_url(warehouse_url))
    try:
        migrate(engine, "0002")
        with engine.begin() as conn:  # a sync as version 0.1 loaded it (no expandability kept)
            conn.execute(text("insert into systems (name, identity_provider) values ('deep', false)"))
            conn.execute(text(
                "insert into syncs (system_id, sync_id, kind, ended_at, source_file, is_current, loaded_at, "
                "load_seconds, resource_types, resources, entitlements, grants) select system_id, 'old-sync', "
                "'full', '2020-01-01 00:00:00', 'x.c1z', true, '2020-01-01 00:00:00', 0, 0, 0, 0, 0 from systems"))
    finally:
        engine.dispose()
    path = _deep_world(tmp_path / "deep.c1z", 4)
    with Warehouse.open(warehouse_url) as wh:
        assert wh.sql("select sync_id, has_expansions from syncs").rows == [("old-sync", False)]
        with wh.stored_syncs() as stored, pytest.raises(WarehouseError, match="old-sync of deep was loaded before"):
            sync_graph(stored["deep"])
        from_file, from_warehouse, _, _ = _file_and_warehouse(wh, "deep", path)
        assert from_warehouse == from_file and from_file[1]


@pytest.mark.servers
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_issue_17_plans_and_converges_the_same_from_the_warehouse(tmp_path: Path, cli: Cli, backend: str,
                                                                  request: pytest.FixtureRequest,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    ws = two_companies(tmp_path, ISSUE_POLICY, cli)
    ws.ok("workspace", "sync")
    from_files = ws.plan()
    if backend == "postgresql":
        pg = request.getfixturevalue("postgres_server")
        pg.create_database("wh_issue17")
        monkeypatch.setenv("ISSUE17_WAREHOUSE_URL", pg.dsn("wh_issue17"))
        ws.workspace["warehouse"] = {"url_env": "ISSUE17_WAREHOUSE_URL"}
    else:
        ws.workspace["warehouse"] = {}
    ws.write()
    loaded = ws.pybaton("warehouse", "load", "-w", ws.path)
    assert loaded.code == 0, loaded.err
    from_warehouse = ws.plan()
    assert {k: v for k, v in from_warehouse.items() if k != "created_at"} == \
        {k: v for k, v in from_files.items() if k != "created_at"}
    grants = {a["principal"]: a for a in from_warehouse["actions"] if a["kind"] == "grant"}
    assert set(SRE) <= grants.keys()  # the direct grants the SRE revocations call for, with their evidence
    assert ("user:ken.corbato loses app:github:read (inherited through group:sre:member) when removed from "
            "group:sre by exclusive/aws-admin-nobody") in grants["user:ken.corbato"]["evidence"]
    summary = ws.reconcile()
    assert "failed 0, skipped by brake 0, remaining 0" in summary, summary
    db = ws.root / "acme-db"
    assert set(SRE) <= effective_holders(db, "app:github:read")
    assert effective_holders(db, "app:aws:admin") == set()
    status = ws.pybaton("warehouse", "status", "-o", "json", "-w", ws.path)
    assert status.code == 0 and json.loads(status.out), status.err
