"""The two MySQL/MariaDB drivers of the SQL meta-connector give the same rows and the same sync.

mysqlclient (C, used when installed: ``make native``) and PyMySQL (the
``mysql`` extra, the fallback and ``PYBATON_MYSQL_DRIVER=pymysql``) run the
same queries on a real MariaDB; values, bound parameters, zero dates and a
whole conformance sync must not depend on which one ran.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("cel")
pytest.importorskip("pymysql")

from sql_support import as_dict, conformance_file, reader, run_sync

from pybaton.connectors.sql.backends import MySQLBackend, Target
from pybaton.connectors.sql.mysql import DRIVER_ENV, mysql_driver
from pybaton.connectors.sql.queries import QueryPage
from pybaton.errors import ConfigError
from pybaton.testing.servers import MariaDBServer

PASSWORD = "dr1ver 'pw' @:/"
DRIVERS = ("pymysql", "mysqlclient")

# One of each kind of value a baton-sql query returns, and the parameters bound into it.
VALUES_QUERY = """
SELECT i, u, d, f, t, b, bits, n, ts, day, tm, neg, js, zero_ts, zero_day,
       1.5 AS lit, %s AS quoted, %s AS null_param, %s AS bytes_param, %s AS int_param
FROM kinds ORDER BY i
"""


@pytest.fixture(scope="module")
def kinds(mariadb_server: MariaDBServer) -> Iterator[Target]:
    """A table of every column kind (zero dates too, stored with a lenient sql_mode) and a reader account."""
    mariadb_server.sql("DROP DATABASE IF EXISTS sql_drivers; DROP USER IF EXISTS 'drivers'@'%';")
    mariadb_server.create_database("sql_drivers")
    mariadb_server.sql("""
        SET SESSION sql_mode = '';
        CREATE TABLE kinds (i INT PRIMARY KEY, u BIGINT UNSIGNED, d DECIMAL(7,2), f DOUBLE, t VARCHAR(40),
                            b VARBINARY(8), bits BIT(3), n INT NULL, ts DATETIME(3), day DATE, tm TIME,
                            neg TIME, js JSON, zero_ts DATETIME, zero_day DATE);
        INSERT INTO kinds VALUES
          (1, 18446744073709551615, 12345.67, 1e300, 'héllo ✓', X'00ff', b'101', NULL,
           '2020-01-02 03:04:05.123', '2020-01-02', '10:11:12', '-838:00:00', '{"a": [1, "x"]}',
           '0000-00-00 00:00:00', '0000-00-00'),
          (2, 0, -0.5, -2.25, '', '', b'0', 7, '1999-12-31 23:59:59', '1970-01-01', '00:00:00', '-00:00:01',
           'null', '2021-06-01 00:00:00', '2021-06-01');
    """, db="sql_drivers")
    mariadb_server.create_user("drivers", PASSWORD, ["SELECT ON sql_drivers.*"])
    yield Target("mysql", "127.0.0.1", str(mariadb_server.port), "sql_drivers", "drivers", PASSWORD)
    mariadb_server.sql("DROP DATABASE IF EXISTS sql_drivers; DROP USER IF EXISTS 'drivers'@'%';")


def _backend(target: Target, driver: str, monkeypatch: pytest.MonkeyPatch) -> MySQLBackend:
    monkeypatch.setenv(DRIVER_ENV, driver)
    backend = MySQLBackend(target)
    assert backend.driver.name == driver
    return backend


def _query_with(driver: str, target: Target, monkeypatch: pytest.MonkeyPatch) -> tuple[list[str], list[Any]]:
    backend = _backend(target, driver, monkeypatch)
    try:
        return backend.query(VALUES_QUERY, ["it's 100% 'quoted'", None, b"\x00\x01'", 42])
    finally:
        backend.close()


@pytest.mark.servers
@pytest.mark.xdist_group("mariadb")
def test_both_drivers_return_the_same_values(kinds: Target, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("MySQLdb")
    pure = _query_with("pymysql", kinds, monkeypatch)
    native = _query_with("mysqlclient", kinds, monkeypatch)
    assert native == pure
    assert [[type(v) for v in row] for row in native[1]] == [[type(v) for v in row] for row in pure[1]]
    first = dict(zip(pure[0], pure[1][0], strict=True))
    assert first["u"] == 2**64 - 1 and first["t"] == "héllo ✓" and first["b"] == b"\x00\xff"
    assert first["zero_ts"] == "0000-00-00 00:00:00" and first["zero_day"] == "0000-00-00"  # text, not NULL
    assert first["quoted"] == "it's 100% 'quoted'" and first["null_param"] is None
    assert first["bytes_param"] == b"\x00\x01'" and first["int_param"] == 42


@pytest.mark.servers
@pytest.mark.xdist_group("mariadb")
def test_localhost_means_tcp_with_either_driver(kinds: Target, monkeypatch: pytest.MonkeyPatch) -> None:
    """libmariadb would take ``localhost`` as its default Unix socket; PyMySQL connects over TCP."""
    pytest.importorskip("MySQLdb")
    local = Target("mysql", "localhost", kinds.port, kinds.database, kinds.user, kinds.password)
    for driver in DRIVERS:
        backend = _backend(local, driver, monkeypatch)
        try:
            assert backend.query("SELECT count(*) FROM kinds", []) == (["count(*)"], [(2,)])
        finally:
            backend.close()


def _everything(path: Path) -> dict[str, Any]:
    r = reader(path)
    return {"resources": sorted((as_dict(x) for x in r.resources()), key=str),
            "entitlements": sorted((as_dict(x) for x in r.entitlements()), key=str),
            "grants": sorted((as_dict(x) for x in r.grants()), key=str)}


@pytest.mark.servers
@pytest.mark.xdist_group("mariadb")
def test_a_conformance_sync_is_the_same_with_either_driver(mariadb_server: MariaDBServer, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("MySQLdb")
    mariadb_server.sql("DROP DATABASE IF EXISTS drivers_inhouse; DROP USER IF EXISTS 'drivers_inhouse'@'%';")
    mariadb_server.create_database("drivers_inhouse")
    mariadb_server.sql(conformance_file("inhouse-app.sql").read_text(), db="drivers_inhouse")
    mariadb_server.create_user("drivers_inhouse", PASSWORD, ["SELECT ON drivers_inhouse.*"])
    env = {"DB_HOST": "127.0.0.1", "DB_PORT": str(mariadb_server.port), "DB_USER": "drivers_inhouse",
           "DB_PASSWORD": PASSWORD, "DB_DATABASE": "drivers_inhouse"}
    synced = {}
    for driver in DRIVERS:
        monkeypatch.setenv(DRIVER_ENV, driver)
        out = tmp_path / f"{driver}.c1z"
        result = run_sync(conformance_file("inhouse-app.yml"), out, monkeypatch, env)
        assert result.stats["grants"] == 48
        synced[driver] = _everything(out)
    assert synced["mysqlclient"] == synced["pymysql"]
    mariadb_server.sql("DROP DATABASE IF EXISTS drivers_inhouse; DROP USER IF EXISTS 'drivers_inhouse'@'%';")


def test_the_driver_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DRIVER_ENV, "pymysql")
    assert mysql_driver().name == "pymysql"
    monkeypatch.setenv(DRIVER_ENV, "odbc")
    with pytest.raises(ConfigError, match="PYBATON_MYSQL_DRIVER='odbc': expected one of mysqlclient, pymysql"):
        mysql_driver()
    monkeypatch.setitem(sys.modules, "MySQLdb", None)  # as if mysqlclient were not installed
    monkeypatch.delenv(DRIVER_ENV)
    assert mysql_driver().name == "pymysql"
    monkeypatch.setenv(DRIVER_ENV, "mysqlclient")
    with pytest.raises(ConfigError, match="mysqlclient is not installed"):
        mysql_driver()


def test_a_page_finds_a_column_in_its_tuples_as_its_dicts_do() -> None:
    page = QueryPage(["id", "name", "id"], [(1, "a", 2), (3, "b", 4)])
    index = page.column_index("id")
    assert index is not None
    assert [row[index] for row in page.tuples] == [row["id"] for row in page.rows] == [2, 4]
    assert page.column_index("missing") is None
