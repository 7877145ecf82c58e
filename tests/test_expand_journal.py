"""Bulk grant steps write through a rollback journal (expand_store.rollback_journal): what that must keep.

Leaving the WAL for a bulk step must not change what is stored, must give the
WAL back afterwards (readers and the sync engine's second connection rely on
it), must do nothing while another connection has the file open, and must keep
commits atomic when the process dies mid-transaction.
"""

from __future__ import annotations

import contextlib
import random
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from expand_worlds import Principal, World, write_world

from pybaton.sync import expand as expand_mod
from pybaton.sync import expand_store
from pybaton.sync.expand import expand_sync
from pybaton.sync.expand_store import BULK_PAGE_SIZE, repage, rollback_journal


def _open(path: Path) -> sqlite3.Connection:
    """A connection set up as a writable .c1z working copy is (WAL, no syncing)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("pragma journal_mode = wal")
    conn.execute("pragma synchronous = off")
    conn.execute("create table if not exists t (id integer primary key, v text)")
    return conn


def _mode(conn: sqlite3.Connection) -> str:
    return str(conn.execute("pragma journal_mode").fetchone()[0]).lower()


def test_alone_it_leaves_the_wal_for_the_step_and_goes_back(tmp_path: Path) -> None:
    conn = _open(tmp_path / "db.sqlite")
    with rollback_journal(conn):
        assert _mode(conn) == "delete"
        conn.execute("insert into t (v) values ('a')")
    assert _mode(conn) == "wal"
    assert conn.execute("select v from t").fetchall() == [("a",)]


def test_with_another_connection_open_it_keeps_the_wal(tmp_path: Path) -> None:
    conn = _open(tmp_path / "db.sqlite")
    other = sqlite3.connect(tmp_path / "db.sqlite")
    assert other.execute("select count(*) from t").fetchone() == (0,)
    with rollback_journal(conn):
        assert _mode(conn) == "wal"
        conn.execute("insert into t (v) values ('a')")
    assert _mode(conn) == "wal"
    assert other.execute("select v from t").fetchall() == [("a",)]


def test_an_error_inside_still_gives_the_wal_back(tmp_path: Path) -> None:
    conn = _open(tmp_path / "db.sqlite")
    try:
        with rollback_journal(conn):
            raise ValueError("boom")
    except ValueError:
        pass
    assert _mode(conn) == "wal"


def test_a_process_killed_mid_transaction_loses_only_the_open_transaction(tmp_path: Path) -> None:
    """The hot journal a killed bulk step leaves is rolled back by the next open: committed rows stay."""
    path = tmp_path / "db.sqlite"
    _open(path).close()
    child = textwrap.dedent(f"""
        import os, sqlite3
        from pybaton.sync.expand_store import rollback_journal
        conn = sqlite3.connect({str(path)!r}, isolation_level=None)
        conn.execute("pragma journal_mode = wal")
        conn.execute("pragma synchronous = off")
        conn.execute("pragma cache_size = 10")  # spill pages to the file before the kill
        with rollback_journal(conn):
            conn.execute("begin")
            conn.executemany("insert into t (v) values (?)", ((f"kept{{i}}",) for i in range(2000)))
            conn.execute("commit")
            conn.execute("begin")
            conn.executemany("insert into t (v) values (?)", ((f"lost{{i}}" * 20,) for i in range(20000)))
            conn.execute("update t set v = 'changed' where id <= 1000")
            os._exit(3)
    """)
    proc = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True)
    assert proc.returncode == 3, proc.stderr
    assert (tmp_path / "db.sqlite-journal").exists()
    conn = _open(path)
    assert conn.execute("pragma integrity_check").fetchone() == ("ok",)
    assert conn.execute("select count(*), sum(v like 'kept%') from t").fetchone() == (2000, 2000)
    assert _mode(conn) == "wal"


def _filled(path: Path, rows: int) -> sqlite3.Connection:
    conn = _open(path)
    conn.execute("create index t_v on t (v)")
    conn.executemany("insert into t (v) values (?)", ((f"row{i:06d}" * 8,) for i in range(rows)))
    return conn


def test_repage_moves_the_file_to_big_pages_keeping_rows_and_cache_bytes(tmp_path: Path) -> None:
    conn = _filled(tmp_path / "db.sqlite", 3000)
    before = conn.execute("select id, v from t order by id").fetchall()
    conn.execute("pragma cache_size = -2048")
    with rollback_journal(conn):
        assert repage(conn)
    assert conn.execute("pragma page_size").fetchone() == (BULK_PAGE_SIZE,)
    assert conn.execute("pragma cache_size").fetchone() == (-2048,)
    assert conn.execute("pragma integrity_check").fetchone() == ("ok",)
    assert conn.execute("select id, v from t order by id").fetchall() == before
    assert _mode(conn) == "wal"
    assert sqlite3.connect(tmp_path / "db.sqlite").execute("pragma page_size").fetchone() == (BULK_PAGE_SIZE,)


def test_repage_is_chosen_only_when_the_expansion_grows_the_file_several_fold(tmp_path: Path) -> None:
    conn = _filled(tmp_path / "db.sqlite", 3000)
    size = conn.execute("pragma page_count").fetchone()[0] * conn.execute("pragma page_size").fetchone()[0]
    fold = expand_store.REPAGE_MIN_FACTOR * size // expand_store.DERIVED_ROW_BYTES
    assert expand_store.should_repage(conn, fold + 1)
    assert not expand_store.should_repage(conn, fold // 2)
    with rollback_journal(conn):
        assert repage(conn)
    assert not expand_store.should_repage(conn, fold * 100)  # already in big pages


def test_repage_does_nothing_while_the_file_stays_in_wal_mode(tmp_path: Path) -> None:
    conn = _filled(tmp_path / "db.sqlite", 10)
    other = sqlite3.connect(tmp_path / "db.sqlite")
    assert other.execute("select count(*) from t").fetchone() == (10,)
    with rollback_journal(conn):
        assert not repage(conn)
    assert conn.execute("pragma page_size").fetchone() == (4096,)


def test_a_process_killed_mid_repage_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    """The VACUUM runs through the rollback journal: the next open rolls a killed one back (killed late in the
    VACUUM's own statements: a dry run on a copy counts them first)."""
    path = tmp_path / "db.sqlite"
    conn = _filled(path, 20000)
    before = conn.execute("select id, v from t order by id").fetchall()
    conn.close()
    child = textwrap.dedent(f"""
        import os, sqlite3
        from pybaton.sync.expand_store import rollback_journal, repage
        conn = sqlite3.connect({str(path)!r}, isolation_level=None)
        conn.execute("pragma journal_mode = wal")
        conn.execute("pragma synchronous = off")
        conn.execute("pragma cache_size = 10")  # spill pages to the file before the kill
        dry = sqlite3.connect(":memory:", isolation_level=None)
        conn.backup(dry)
        steps = 0
        def count() -> int:
            global steps
            steps += 1
            return 0
        dry.set_progress_handler(count, 100)
        repage(dry)
        limit, steps = steps * 9 // 10, 0
        def die() -> int:
            global steps
            steps += 1
            if steps > limit:
                os._exit(3)
            return 0
        with rollback_journal(conn):
            conn.set_progress_handler(die, 100)
            repage(conn)
            os._exit(4)
    """)
    proc = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True)
    assert proc.returncode == 3, proc.stderr
    conn = _open(path)
    assert conn.execute("pragma integrity_check").fetchone() == ("ok",)
    assert conn.execute("pragma page_size").fetchone() == (4096,)
    assert conn.execute("select id, v from t order by id").fetchall() == before


def _random_world(seed: int) -> World:
    """Groups nested at random (cycles, shallow and filtered edges included), with users and services."""
    rng = random.Random(seed)
    groups = [f"g{i}" for i in range(rng.randint(3, 12))]
    people: list[Principal] = [("user", f"u{i:03d}") for i in range(rng.randint(5, 60))]
    people += [("svc", f"s{i}") for i in range(rng.randint(0, 4))]
    members = {(rng.choice(groups), rng.choice(people)) for _ in range(rng.randint(10, 60))}
    edges = {(rng.choice(groups), rng.choice(groups)): (rng.random() < 0.2, rng.choice([None, frozenset({"user"})]))
             for _ in range(rng.randint(6, 24))}
    return World(groups, people, members, edges)


def _listing(path: Path, world: World, monkeypatch: pytest.MonkeyPatch, *, bulk: bool,
             repaged: bool = False) -> tuple[list[tuple[object, ...]], list[str], set[str]]:
    """Expand ``world`` in a new file; its grant rows in row-id order (all but the sync id and time), its indexes, and the
    journal modes the bulk write ran in."""
    modes: set[str] = set()
    original = expand_store.rollback_journal

    @contextlib.contextmanager
    def spy(conn: sqlite3.Connection) -> Iterator[None]:
        with original(conn):
            modes.add(_mode(conn))
            yield

    with monkeypatch.context() as patch:
        patch.setattr(expand_store, "rollback_journal", spy)
        if bulk:
            patch.setattr(expand_mod, "BULK_MIN_ROWS", 0)
        patch.setattr(expand_store, "REPAGE_MIN_FACTOR", 0 if repaged else 10**9)
        c1z, writer = write_world(path, world)
        with c1z:
            before = _mode(c1z.conn)
            stats = expand_sync(c1z, writer, {}, checkpoint=lambda: None)
            assert stats.bulk == bulk
            assert stats.repaged == repaged
            rows = c1z.conn.execute(
                "select id, resource_type_id, resource_id, entitlement_id, principal_resource_type_id, "
                "principal_resource_id, external_id, expansion, needs_expansion, data from v1_grants "
                "order by id").fetchall()
            indexes = sorted(r[0] for r in c1z.conn.execute(
                "select sql from sqlite_master where type = 'index' and tbl_name = 'v1_grants'"))
            assert _mode(c1z.conn) == before  # a WAL file goes back to the WAL; a throw-away copy keeps its journal
    return rows, indexes, modes


@pytest.mark.parametrize("seed", range(12))
def test_bulk_expansion_through_the_rollback_journal_stores_the_same_rows(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch,
                                                                          seed: int) -> None:
    """Same rows, same row ids, same indexes as the plain path, on random nested graphs; and the bulk write
    really left the WAL (the only connection to its file)."""
    world = _random_world(seed)
    plain, plain_indexes, plain_modes = _listing(tmp_path / "plain.c1z", world, monkeypatch, bulk=False)
    bulk, bulk_indexes, bulk_modes = _listing(tmp_path / "bulk.c1z", world, monkeypatch, bulk=True)
    assert len(plain) > len(world.direct())  # the graph derived something
    assert bulk == plain
    assert bulk_indexes == plain_indexes
    assert plain_modes == set()
    assert bulk_modes and "wal" not in bulk_modes  # the bulk write ran through a rollback journal
    repaged, repaged_indexes, _ = _listing(tmp_path / "repaged.c1z", world, monkeypatch, bulk=True, repaged=True)
    assert repaged == plain
    assert repaged_indexes == plain_indexes
