"""Bulk grant steps write through a rollback journal (expand_store.rollback_journal): what that must keep.

Leaving the WAL for a bulk step must not change what is stored, must give the
WAL back afterwards (readers and the sync engine's second connection rely on
it), must do nothing while another connection has the file open, and must keep
commits atomic when the process dies mid-transaction.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

from pybaton.sync.expand_store import rollback_journal


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
