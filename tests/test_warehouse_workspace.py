"""The warehouse in a workspace: automatic loads, the cross-system commands on both backends, secrets,
``kill -9`` during a load, and loads of different systems side by side.

The demo company twice (``hr`` as identity provider, ``app``) is loaded from the
same files into the embedded SQLite warehouse and into a PostgreSQL one; every
command must give the same JSON from both.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from fixtures_warehouse import write_sync
from provision_helpers import Cli
from reconcile_support import WorkspaceDir, demo_pair
from sqlalchemy import text

from pybaton.testing.servers import PostgresServer
from pybaton.warehouse import Warehouse
from pybaton.warehouse.engine import lock_key

pytestmark = [pytest.mark.servers]


def set_status(db: Path, login: str, status: str) -> None:
    with sqlite3.connect(db / "acme.sqlite") as conn:
        conn.execute("update users set status = ? where id = ?", (status, login))


def _pg_database(pg: PostgresServer) -> str:
    name = f"wh_{uuid.uuid4().hex[:12]}"
    pg.create_database(name)
    return str(pg.dsn(name))


@pytest.fixture
def pair(tmp_path: Path, cli: Cli) -> WorkspaceDir:
    ws = demo_pair(tmp_path, {"leavers": [{"name": "leavers", "account": "keep"}]}, cli, warehouse={})
    return ws


def _json(ws: WorkspaceDir, *args: str | Path) -> Any:
    result = ws.pybaton(*args)
    assert result.code == 0, f"pybaton {' '.join(map(str, args))}: {result.err}"
    return json.loads(result.out)


def test_workspace_sync_loads_and_every_question_has_the_same_answer_on_both_backends(
        pair: WorkspaceDir, postgres_server: PostgresServer) -> None:
    pair.ok("workspace", "sync")  # loads into the embedded warehouse: a warehouse section is configured
    first = {s["system"]: s["current_sync"] for s in _json(pair, "warehouse", "status", "-w", pair.path, "-o",
                                                             "json")["systems"]}
    assert set(first) == {"hr", "app"}
    set_status(pair.root / "hr-db", "ada.lovelace", "disabled")
    with sqlite3.connect(pair.root / "app-db" / "acme.sqlite") as conn:
        conn.execute("delete from access where principal_id = 'grace.easley' and resource_id = 'github'")
    pair.ok("sync", "--all")  # the same, through sync --all
    sqlite_path = pair.data_dir / "warehouse.sqlite"
    pg_url = _pg_database(postgres_server)
    with Warehouse.open(pg_url) as wh:  # the PostgreSQL warehouse gets the same history from the same files
        for system, sync_id in first.items():
            wh.load(system, pair.data_dir / f"{system}.c1z", sync_id=sync_id)
    loaded = pair.pybaton("warehouse", "load", "-w", pair.path, "--warehouse", pg_url)
    assert loaded.code == 0, loaded.err

    questions: list[tuple[str, ...]] = [
        ("who-has", "group:engineering:member"),
        ("who-has", "app:github:admin", "--system", "app"),
        ("who-has", "group:engineering:member", "--as-of", first["app"]),
        ("access", "--person", "grace.easley@acme.example"),
        ("access", "--person", "ada.lovelace"),
        ("access", "--person", "grace.easley", "--as-of", first["app"]),
        ("changes", "--since", "2000-01-01"),
        ("warehouse", "sql", "select system, entitlement_id, access, count(*) as n from entitlement_holders "
                             "group by system, entitlement_id, access order by system, entitlement_id, access"),
        ("warehouse", "sql", "select * from access order by system, account_id, entitlement_id"),
        ("warehouse", "sql", "select * from orphan_accounts order by system, resource_id"),
        ("warehouse", "sql", "select * from leaver_access order by system, account_id, entitlement_id"),
        ("warehouse", "sql", "select identity_id, name, email, status, enabled from identities order by 1"),
    ]
    for question in questions:
        on_sqlite = _json(pair, *question, "-o", "json", "-w", pair.path)
        on_postgres = _json(pair, *question, "-o", "json", "-w", pair.path, "--warehouse", pg_url)
        assert on_sqlite == on_postgres, question
        assert on_sqlite != {} and str(on_sqlite) != "", question

    changed = _json(pair, "changes", "--since", "30d", "-o", "json", "-w", pair.path)
    assert {"system": "app", "change": "removed", "principal_id": "grace.easley",
            "entitlement_id": "app:github:admin"}.items() <= next(
        c for c in changed["changes"] if c["principal_id"] == "grace.easley").items()
    now = _json(pair, "access", "--person", "grace.easley", "-o", "json", "-w", pair.path)
    before = _json(pair, "access", "--person", "grace.easley", "--as-of", first["app"], "-o", "json",
                   "-w", pair.path)
    assert ("app", "app:github:admin") in {(e["system"], e["entitlement_id"]) for e in before["access"]}
    assert ("app", "app:github:admin") not in {(e["system"], e["entitlement_id"]) for e in now["access"]}
    assert ("hr", "app:github:admin") in {(e["system"], e["entitlement_id"]) for e in now["access"]}
    leavers = _json(pair, "warehouse", "sql", "select distinct person from leaver_access order by person",
                    "-o", "json", "-w", pair.path)
    assert leavers["rows"] == [{"person": "ada.lovelace"}, {"person": "whitfield.cerf"}]  # the demo has a leaver
    sql_path_answer = _json(pair, "warehouse", "sql", "select count(*) as n from grants", "-o", "json",
                            "--warehouse", sqlite_path)
    assert sql_path_answer["rows"][0]["n"] > 0


def test_console_and_csv_forms(pair: WorkspaceDir) -> None:
    pair.ok("workspace", "sync")
    csv_out = pair.pybaton("who-has", "group:engineering:member", "-o", "csv", "-w", pair.path)
    assert csv_out.code == 0
    header, *rows = csv_out.out.splitlines()
    assert header.split(",")[:3] == ["system", "sync_id", "principal_type"] and len(rows) > 3
    console = pair.pybaton("access", "--person", "alan.milner@acme.example", "-w", pair.path)
    assert console.code == 0 and "group:platform:member" in console.out and "inherited" in console.out
    assert pair.pybaton("access", "--person", "nobody@nowhere", "-w", pair.path).code == 1
    file_mode = pair.pybaton("-f", pair.data_dir / "app.c1z", "access", "-p", "user:alan.milner")
    assert file_mode.code == 0 and "group:platform:member" in file_mode.out
    both = pair.pybaton("-f", pair.data_dir / "app.c1z", "access", "-p", "user:x", "--person", "x")
    assert both.code == 2
    refused = pair.pybaton("warehouse", "sql", "delete from grants", "-w", pair.path)
    assert refused.code == 1 and len(refused.error_lines) == 1 and "readonly" in refused.err.replace("-", "")


def test_no_configured_secret_is_stored(tmp_path: Path, cli: Cli, postgres_server: PostgresServer,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    secret = postgres_server.superuser_password
    monkeypatch.setenv("WH_PG_DSN", postgres_server.dsn())
    pg_url = _pg_database(postgres_server)
    monkeypatch.setenv("WH_URL", pg_url)
    ws = demo_pair(tmp_path, {}, cli, warehouse={"url_env": "WH_URL"})
    ws.workspace["systems"]["db"] = {"connector": "postgres", "config": {"dsn_env": "WH_PG_DSN",
                                                                        "databases": ["postgres"]}}
    ws.write()
    ws.ok("workspace", "sync")
    assert "db" in ws.pybaton("warehouse", "status", "-w", ws.path).out
    dump = subprocess.run([str(postgres_server.bin_dir / "pg_dump"), "-h", str(postgres_server.socket_dir),
                           "-p", str(postgres_server.port), "-U", postgres_server.superuser,
                           pg_url.rsplit("/", 1)[1]], capture_output=True, check=True).stdout
    ws.pybaton("warehouse", "load", "-w", ws.path, "--warehouse", tmp_path / "embedded.sqlite")
    embedded = (tmp_path / "embedded.sqlite").read_bytes()
    assert b"COPY public.grants" in dump and len(embedded) > 0
    for blob in (dump, embedded):
        assert secret.encode() not in blob
        assert pg_url.encode() not in blob


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_kill_9_during_a_load_leaves_the_warehouse_consistent(tmp_path: Path, cli: Cli, backend: str,
                                                             postgres_server: PostgresServer) -> None:
    url = str(tmp_path / "warehouse.sqlite") if backend == "sqlite" else _pg_database(postgres_server)
    ws = demo_pair(tmp_path, {}, cli)
    ws.workspace["systems"]["big"] = {"connector": "demo", "config": {"data_dir": "big-db"}}
    ws.write()
    ws.data_dir.mkdir(parents=True, exist_ok=True)
    write_sync(ws.data_dir / "app.c1z", {"eng": ["ada", "bob"]})
    write_sync(ws.data_dir / "big.c1z", {f"g{i}": [f"u{j}" for j in range(600)] for i in range(200)})
    with Warehouse.open(url) as wh:
        wh.load("app", ws.data_dir / "app.c1z")
        before = wh.sql("select count(*) from grants").rows
    argv = [sys.executable, "-c", "from pybaton.cli.main import main; main()", "warehouse", "load", "big",
            "-w", str(ws.path), "--warehouse", url]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None and not _loading(backend, url, postgres_server):
            time.sleep(0.05)
        assert proc.poll() is None, "the load ended before it could be killed"
        time.sleep(0.3)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    with Warehouse.open(url) as wh:
        assert wh.sql("select count(*) from grants").rows == before
        assert [s.system for s in wh.status()] == ["app"]
        result = wh.load("big", ws.data_dir / "big.c1z")
        assert result.loaded and result.grants == 200 * 600
        assert [s.system for s in wh.status()] == ["app", "big"]


def _loading(backend: str, url: str, pg: PostgresServer) -> bool:
    """A load is writing rows: it holds SQLite's write lock, or PostgreSQL runs its COPY."""
    if backend == "sqlite":
        conn = sqlite3.connect(url, timeout=0, isolation_level=None)
        try:
            conn.execute("begin immediate")
            conn.execute("rollback")
            return False
        except sqlite3.OperationalError:
            return True
        finally:
            conn.close()
    database = url.rsplit("/", 1)[1]
    out = pg.psql(f"SELECT count(*) FROM pg_stat_activity WHERE datname = '{database}' AND query LIKE 'COPY grants%';")
    return out.strip() not in ("", "0")


def test_postgres_serialises_one_system_and_loads_others_side_by_side(tmp_path: Path,
                                                                      postgres_server: PostgresServer) -> None:
    url = _pg_database(postgres_server)
    for name in ("a", "b"):
        write_sync(tmp_path / f"{name}.c1z", {"eng": [f"{name}1", f"{name}2"]})
    done: dict[str, bool] = {}

    def load(system: str) -> None:
        with Warehouse.open(url) as wh:
            done[system] = wh.load(system, tmp_path / f"{system}.c1z").loaded

    with Warehouse.open(url) as holder, holder.engine.connect() as conn, conn.begin():
        conn.execute(text("select pg_advisory_xact_lock(:k)"), {"k": lock_key("system:a")})  # a load of "a" runs
        other = threading.Thread(target=load, args=("b",))
        other.start()
        other.join(60)
        assert done.get("b") is True, "a load of another system must not wait"
        same = threading.Thread(target=load, args=("a",))
        same.start()
        same.join(1.5)
        assert same.is_alive() and "a" not in done, "a second load of the same system must wait"
    same.join(60)
    assert done == {"b": True, "a": True}


def test_the_documented_read_only_role_reads_and_cannot_write(tmp_path: Path, postgres_server: PostgresServer) -> None:
    import psycopg

    url = _pg_database(postgres_server)
    database = url.rsplit("/", 1)[1]
    write_sync(tmp_path / "app.c1z", {"eng": ["ada"]})
    with Warehouse.open(url) as wh:
        wh.load("app", tmp_path / "app.c1z")
    doc = (Path(__file__).parent.parent / "docs" / "warehouse.md").read_text()
    block = doc.split("## A read-only role for BI tools", 1)[1].split("```sql", 1)[1].split("```", 1)[0]
    role = f"reader_{uuid.uuid4().hex[:8]}"
    sql = block.replace("pybaton_reader", role).replace("'…'", "'reader-pw'").replace("DATABASE pybaton",
                                                                                       f"DATABASE {database}")
    postgres_server.psql(sql, db=database)
    reader_url = postgres_server.dsn(database, user=role, password="reader-pw")
    try:
        with psycopg.connect(reader_url) as conn:
            assert conn.execute("select count(*) from entitlement_holders").fetchone() == (1,)
        with psycopg.connect(reader_url) as conn, pytest.raises(psycopg.Error):
            conn.execute("delete from grants")
    finally:
        postgres_server.psql(f"DROP OWNED BY {role}; DROP ROLE {role};", db=database)
