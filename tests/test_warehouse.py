"""The access warehouse on both backends: round trip, atomic loads, history, read-only SQL, migrations.

Every test runs on the embedded SQLite default and on a real PostgreSQL (the
``warehouse_url`` fixture); the answers are compared with what the ``.c1z``
readers say about the same sync, so both backends must give the same answers.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from fixtures_warehouse import write_sync
from provision_helpers import Cli
from sqlalchemy import text

from pybaton.c1z import C1ZFile, SyncReader
from pybaton.cli import outputs
from pybaton.cli.render import to_json_dict
from pybaton.errors import WarehouseError, WarehouseLoadError
from pybaton.warehouse import AsOf, Warehouse
from pybaton.warehouse.engine import connect_engine, database_url, head_revision, migrate


def _listings(reader: Any) -> dict[str, Any]:
    """What ``pybaton -f FILE -o json`` lists: resource types, resources, entitlements, grants, principals."""
    def warn(message: str) -> None:
        raise AssertionError(message)

    return {
        "resource_types": to_json_dict(outputs.resource_types(reader)),
        "resources": to_json_dict(outputs.resources(reader, warn)),
        "entitlements": to_json_dict(outputs.entitlements(reader, warn)),
        "grants": [to_json_dict(outputs.grant_output(row)) for row in outputs.grant_rows(reader, warn)],
        "principals": to_json_dict(outputs.principals(reader, warn, entitlement_id="group:engineering:member")),
    }


def _table_counts(wh: Warehouse) -> dict[str, int]:
    tables = ("systems", "syncs", "resource_types", "resources", "entitlements", "grants", "grant_sources")
    return {t: int(wh.sql(f"select count(*) from {t}").rows[0][0]) for t in tables}


@pytest.fixture
def demo_file(tmp_path: Path, cli: Cli) -> Path:
    """The demo company, synced and expanded (it has nested groups, so derived grants with sources)."""
    path = tmp_path / "demo.c1z"
    result = cli("sync", "demo", "-f", path, "--data-dir", tmp_path / "demo-db", "--log-level", "warn")
    assert result.code == 0, result.err
    return path


def test_round_trip_equals_the_file_listings(warehouse_url: str, demo_file: Path) -> None:
    with Warehouse.open(warehouse_url) as wh:
        loaded = wh.load("demo", demo_file)
        assert loaded.loaded and loaded.grants > 0
        with C1ZFile.open(demo_file) as c1z:
            from_file = _listings(SyncReader.of(c1z))
        with wh.stored_syncs() as stored:
            from_warehouse = _listings(stored["demo"])
    assert from_warehouse == from_file
    derived = [g for g in from_file["grants"] if g["grant"].get("sources")]
    assert derived, "the demo company must have derived grants for this test to mean anything"


def test_derived_grant_sources_are_rows(warehouse_url: str, demo_file: Path) -> None:
    with Warehouse.open(warehouse_url) as wh:
        wh.load("demo", demo_file)
        with C1ZFile.open(demo_file) as c1z:
            expected = sorted((g.id, src) for g in SyncReader.of(c1z).grants()
                              for src in g.sources.sources if src != g.entitlement.id)
        rows = wh.sql("select grant_id, source_entitlement_id from grant_sources").rows
    assert sorted((str(a), str(b)) for a, b in rows) == expected


def test_same_sync_twice_is_a_no_op(warehouse_url: str, demo_file: Path) -> None:
    with Warehouse.open(warehouse_url) as wh:
        first = wh.load("demo", demo_file)
        counts = _table_counts(wh)
        again = wh.load("demo", demo_file)
        assert (first.loaded, again.loaded) == (True, False)
        assert again.sync_id == first.sync_id
        assert _table_counts(wh) == counts


def test_as_of_returns_the_older_answer_and_pruning_removes_old_rows(warehouse_url: str, tmp_path: Path) -> None:
    path = tmp_path / "app.c1z"
    old = write_sync(path, {"payroll": ["ada", "bob"]})
    with Warehouse.open(warehouse_url, keep_syncs=2) as wh:
        wh.load("app", path)
        old_ended = wh.status()[0].current_ended
        new = write_sync(path, {"payroll": ["ada", "carol"]})
        wh.load("app", path)

        def holders(as_of: AsOf | None) -> list[str]:
            return sorted(e.principal_id for e in wh.who_has("group:payroll:member", as_of=as_of))

        assert holders(None) == ["ada", "carol"]
        assert holders(AsOf(sync_id=old)) == ["ada", "bob"]
        assert holders(AsOf(when=old_ended)) == ["ada", "bob"]
        changes = {(c.change, c.principal_id) for c in wh.changes(old_ended)}
        assert changes == {("added", "carol"), ("removed", "bob")}

        newest = write_sync(path, {"payroll": ["dave"]})
        result = wh.load("app", path)
        assert result.pruned == (old,)
        held = {str(r[0]) for r in wh.sql("select sync_id from syncs").rows}
        assert held == {new, newest}
        with wh.reading() as conn:
            orphaned = conn.execute(text("select count(*) from grants where sync_pk not in "
                                         "(select sync_pk from syncs)")).scalar()
        assert orphaned == 0
        with pytest.raises(WarehouseError, match="holds no sync"):
            wh.who_has("group:payroll:member", as_of=AsOf(sync_id=old))


def test_loading_an_older_sync_keeps_the_newer_one_current(warehouse_url: str, tmp_path: Path) -> None:
    path = tmp_path / "app.c1z"
    old = write_sync(path, {"ops": ["ada"]})
    new = write_sync(path, {"ops": ["bob"]})
    with Warehouse.open(warehouse_url) as wh:
        wh.load("app", path)  # the newest
        wh.load("app", path, sync_id=old)
        assert wh.syncs()["app"].sync_id == new
        assert [e.principal_id for e in wh.who_has("group:ops:member")] == ["bob"]


@pytest.mark.parametrize("damage", ["corrupt", "truncated"])
def test_a_damaged_file_leaves_the_warehouse_unchanged(warehouse_url: str, tmp_path: Path, damage: str) -> None:
    good = tmp_path / "good.c1z"
    write_sync(good, {"eng": ["ada", "bob"]}, users=50)
    bad = tmp_path / "bad.c1z"
    data = bytearray(good.read_bytes())
    if damage == "truncated":
        bad.write_bytes(bytes(data[: len(data) // 2]))
    else:
        for i in range(len(data) // 3, len(data) // 3 + 64):
            data[i] ^= 0x5A
        bad.write_bytes(bytes(data))
    with Warehouse.open(warehouse_url) as wh:
        wh.load("app", good)
        before = _table_counts(wh)
        with pytest.raises(WarehouseLoadError) as caught:
            wh.load("other", bad)
        message = str(caught.value)
        assert "\n" not in message and "other" in message and "unchanged" in message
        assert _table_counts(wh) == before
        assert wh.load("other", good).loaded


def test_racing_loads_of_one_system_load_it_once(warehouse_url: str, tmp_path: Path) -> None:
    path = tmp_path / "app.c1z"
    write_sync(path, {f"g{i}": [f"u{j}" for j in range(i, i + 40)] for i in range(30)})
    results: list[bool] = []
    errors: list[BaseException] = []

    def load() -> None:
        try:
            with Warehouse.open(warehouse_url) as wh:
                results.append(wh.load("app", path).loaded)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=load) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(results) == [False, False, True]
    with Warehouse.open(warehouse_url) as wh:
        assert _table_counts(wh)["syncs"] == 1
        assert _table_counts(wh)["grants"] == 30 * 40


def test_sql_is_read_only(warehouse_url: str, tmp_path: Path) -> None:
    path = tmp_path / "app.c1z"
    write_sync(path, {"eng": ["ada"]})
    with Warehouse.open(warehouse_url) as wh:
        wh.load("app", path)
        before = _table_counts(wh)
        for statement in ("delete from grants", "update systems set name = 'x'", "drop table grants",
                          "create table t (x int)", "insert into systems (name, identity_provider) values ('x', true)"):
            with pytest.raises(WarehouseError):
                wh.sql(statement)
        if wh.backend == "postgresql":  # a second statement cannot escape the read-only transaction
            with pytest.raises(WarehouseError):
                wh.sql("commit; delete from grants")
        assert _table_counts(wh) == before
        assert wh.sql("select name from systems").rows == [("app",)]


def test_a_warehouse_at_the_first_revision_upgrades_in_place(warehouse_url: str, tmp_path: Path) -> None:
    engine = connect_engine(database_url(warehouse_url))
    try:
        migrate(engine, "0001")
        with engine.connect() as conn:
            assert conn.execute(text("select version_num from alembic_version")).scalar() == "0001"
    finally:
        engine.dispose()
    path = tmp_path / "app.c1z"
    write_sync(path, {"eng": ["ada"]})
    with Warehouse.open(warehouse_url) as wh:
        with wh.reading() as conn:
            assert conn.execute(text("select version_num from alembic_version")).scalar() == head_revision()
        wh.load("app", path)
        assert wh.sql("select count(*) from entitlement_holders").rows[0][0] == 1


def test_a_newer_layout_is_refused(warehouse_url: str) -> None:
    with Warehouse.open(warehouse_url) as wh, wh.engine.begin() as conn:
        conn.execute(text("update alembic_version set version_num = '9999'"))
    with pytest.raises(WarehouseError, match="newer pybaton"):
        Warehouse.open(warehouse_url)


def test_missing_postgres_extra_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_psycopg(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "psycopg":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_psycopg)
    with pytest.raises(WarehouseError, match=r"pybaton\[postgres\]"):
        Warehouse.open("postgresql://u@127.0.0.1:1/db")


def test_status_json(warehouse_url: str, demo_file: Path, cli: Cli) -> None:
    with Warehouse.open(warehouse_url) as wh:
        wh.load("demo", demo_file)
    result = cli("warehouse", "status", "--warehouse", warehouse_url, "-o", "json")
    assert result.code == 0, result.err
    doc = json.loads(result.out)
    with C1ZFile.open(demo_file) as c1z:
        stats = SyncReader.of(c1z).stats()
    (row,) = doc["systems"]
    assert (row["system"], row["syncs"], row["grants"], row["resources"], row["entitlements"]) == \
        ("demo", 1, stats["grants"], stats["resources"], stats["entitlements"])
    assert "password" not in doc["warehouse"] and "postgres-test-password" not in result.out


def test_as_of_accepts_dates_times_durations_and_sync_ids() -> None:
    import datetime as dt

    from pybaton.errors import UsageError
    from pybaton.warehouse import parse_as_of, parse_moment

    now = dt.datetime(2026, 3, 10, 12, 0)
    assert parse_moment("2026-03-01") == dt.datetime(2026, 3, 1, 23, 59, 59, 999999)
    assert parse_moment("2026-03-01T09:30") == dt.datetime(2026, 3, 1, 9, 30)
    assert parse_moment("2026-03-01T09:30+02:00") == dt.datetime(2026, 3, 1, 7, 30)
    assert parse_moment("7d", now=now) == dt.datetime(2026, 3, 3, 12, 0)
    assert parse_moment("12h", now=now) == dt.datetime(2026, 3, 10, 0, 0)
    assert parse_as_of(None) is None
    assert parse_as_of("2bQeD4rTbX7kPqWq9yY0vN3mH8a") == AsOf(sync_id="2bQeD4rTbX7kPqWq9yY0vN3mH8a")
    with pytest.raises(UsageError, match="not a date"):
        parse_moment("yesterday")
    with pytest.raises(UsageError):
        parse_as_of("2026-13-45")


def test_readers_are_not_blocked_by_a_load_in_progress(warehouse_url: str, tmp_path: Path) -> None:
    """A load's open write transaction: queries from another connection answer at once, with the old state."""
    from pybaton.warehouse.engine import write_transaction
    from pybaton.warehouse.load import delete_syncs

    path = tmp_path / "app.c1z"
    write_sync(path, {"eng": ["ada", "bob"]})
    with Warehouse.open(warehouse_url) as writer, Warehouse.open(warehouse_url) as reader:
        writer.load("app", path)
        with write_transaction(writer.engine, lock="system:app") as conn:
            delete_syncs(conn, [writer.syncs()["app"].sync_pk])  # half-way through a swap
            answer: list[list[str]] = []
            thread = threading.Thread(target=lambda: answer.append(
                [e.principal_id for e in reader.who_has("group:eng:member")]))
            thread.start()
            thread.join(10)
            assert not thread.is_alive(), "a reader waited for the load"
            assert answer == [["ada", "bob"]]
            conn.rollback()
        assert [e.principal_id for e in reader.who_has("group:eng:member")] == ["ada", "bob"]
