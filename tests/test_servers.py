"""The test servers of pybaton.testing.servers start, serve real requests and stop cleanly.

The lifecycle tests start their own instance (they stop it); the others use the
session fixtures of fixtures_servers.py, as the rest of the suite does.
"""

from __future__ import annotations

import socket
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pybaton.testing import servers
from pybaton.testing.servers import (
    ManagedServer,
    MariaDBServer,
    PostgresServer,
    ScimServer,
    ServerCommandError,
    ServerStartError,
    SlapdServer,
    find_binary,
    pid_alive,
)

pytestmark = pytest.mark.servers


def _port_closed(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(2)
        return sock.connect_ex((host, port)) != 0


def _stop_and_check_clean(server: ManagedServer) -> None:
    """stop() must leave no process of the server, no temp dir and nothing on the port."""
    pids = server.processes()
    directory, host, port = server.directory, server.host, server.port
    assert pids, "a started server has processes"
    assert directory.is_dir()
    server.stop()
    assert not [p for p in pids if pid_alive(p)], "processes left after stop()"
    assert not directory.exists(), "temp dir left after stop()"
    assert _port_closed(host, port)
    assert server.processes() == set()
    server.stop()  # idempotent


@pytest.fixture
def blocked_port() -> Iterator[int]:
    """A port of 127.0.0.1 that another socket holds (bound, not listening: connections are refused)."""
    with socket.socket() as sock:
        sock.bind((servers.LOCALHOST, 0))
        yield sock.getsockname()[1]


# --------------------------------------------------------------------------- PostgreSQL


def _psql_tcp(pg: PostgresServer, dsn: str, sql: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(pg.bin_dir / "psql"), "-X", "-A", "-t", "-d", dsn, "-c", sql],
        capture_output=True,
        text=True,
        timeout=30,
        env={"PATH": "/usr/bin:/bin", "PGPASSFILE": "/dev/null", "PGCONNECT_TIMEOUT": "5"},
        check=False,
    )


def test_postgres_lifecycle() -> None:
    pg = PostgresServer().start()
    try:
        assert pg.host == "127.0.0.1" and pg.port > 0 and pg.superuser == "postgres"
        pg.create_database("shop")
        pg.psql("CREATE TABLE items (id int PRIMARY KEY, name text); INSERT INTO items VALUES (1, 'é'), (2, 'b');", db="shop")
        assert pg.psql("SELECT id, name FROM items ORDER BY id;", db="shop").splitlines() == ["1|é", "2|b"]
        # The same data over TCP with the superuser's password.
        out = _psql_tcp(pg, pg.dsn("shop"), "SELECT count(*) FROM items")
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == "2"
        with pytest.raises(ServerCommandError, match="does not exist"):
            pg.psql("SELECT * FROM nope;")
    finally:
        _stop_and_check_clean(pg)


@pytest.mark.xdist_group("postgres")
def test_postgres_tcp_password_auth(postgres_server: PostgresServer) -> None:
    pg = postgres_server
    ok = _psql_tcp(pg, pg.dsn(), "SELECT current_user")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == "postgres"
    bad = _psql_tcp(pg, pg.dsn(password="wrong-password"), "SELECT 1")
    assert bad.returncode != 0
    assert "password authentication failed" in bad.stderr
    assert pg.psql("SELECT rolpassword LIKE 'SCRAM-SHA-256$%' FROM pg_authid WHERE rolname = 'postgres';").strip() == "t"


# --------------------------------------------------------------------------- MariaDB


def _mariadb_tcp(db: MariaDBServer, user: str, password: str, sql: str) -> subprocess.CompletedProcess[str]:
    client = find_binary("mariadb")
    assert client is not None
    return subprocess.run(
        [client, "--no-defaults", "--protocol=TCP", f"--host={db.host}", f"--port={db.port}", f"--user={user}",
         f"--password={password}", "--batch", "--skip-column-names", "--connect-timeout=5", "-e", sql],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_mariadb_lifecycle() -> None:
    db = MariaDBServer().start()
    try:
        assert db.host == "127.0.0.1" and db.port > 0
        db.create_database("shop")
        db.sql("CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(20)); INSERT INTO items VALUES (1, 'é'), (2, 'b');", db="shop")
        assert db.sql("SELECT id, name FROM items ORDER BY id;", db="shop").splitlines() == ["1\té", "2\tb"]
        with pytest.raises(ServerCommandError, match="doesn't exist"):
            db.sql("SELECT * FROM shop.nope;")
    finally:
        _stop_and_check_clean(db)


@pytest.mark.xdist_group("mariadb")
def test_mariadb_tcp_user(mariadb_server: MariaDBServer) -> None:
    db = mariadb_server
    name = f"db_{uuid.uuid4().hex[:8]}"
    db.create_database(name)
    db.sql("CREATE TABLE t (x INT); INSERT INTO t VALUES (42);", db=name)
    db.create_user(f"u_{name}", "pa'ss\\word", [f"SELECT ON `{name}`.*"])
    ok = _mariadb_tcp(db, f"u_{name}", "pa'ss\\word", f"SELECT x FROM `{name}`.t")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == "42"
    denied = _mariadb_tcp(db, f"u_{name}", "pa'ss\\word", f"INSERT INTO `{name}`.t VALUES (1)")
    assert denied.returncode != 0 and "denied" in denied.stderr
    bad = _mariadb_tcp(db, f"u_{name}", "wrong", "SELECT 1")
    assert bad.returncode != 0 and "Access denied" in bad.stderr


# --------------------------------------------------------------------------- OpenLDAP

_PEOPLE = """\
dn: ou=people,{base}
objectClass: organizationalUnit
ou: people

dn: uid=alice,ou=people,{base}
objectClass: inetOrgPerson
objectClass: posixAccount
uid: alice
cn: Alice Liddell
sn: Liddell
mail: alice@example.org
uidNumber: 1001
gidNumber: 1001
homeDirectory: /home/alice
userPassword: alice-secret
"""


def _ldapwhoami(ldap: SlapdServer, *args: str) -> subprocess.CompletedProcess[str]:
    tool = find_binary("ldapwhoami")
    assert tool is not None
    return subprocess.run(
        [tool, "-x", "-o", "nettimeout=5", *args], capture_output=True, text=True, timeout=30,
        env=ldap.client_env(), check=False,
    )


def test_slapd_lifecycle() -> None:
    ldap = SlapdServer().start()
    try:
        assert ldap.url == f"ldap://127.0.0.1:{ldap.port}/"
        assert ldap.base_dn == "dc=example,dc=org" and ldap.bind_dn == "cn=admin,dc=example,dc=org"
        ldap.ldapadd(_PEOPLE.format(base=ldap.base_dn))
        found = ldap.ldapsearch("(uid=alice)", "mail", "cn")
        assert f"dn: uid=alice,ou=people,{ldap.base_dn}" in found
        assert "mail: alice@example.org" in found and "cn: Alice Liddell" in found
        # The user binds with its own password; a wrong one is refused (49).
        user_dn = f"uid=alice,ou=people,{ldap.base_dn}"
        ok = _ldapwhoami(ldap, "-H", ldap.url, "-D", user_dn, "-w", "alice-secret")
        assert ok.returncode == 0 and user_dn in ok.stdout, ok.stderr
        bad = _ldapwhoami(ldap, "-H", ldap.url, "-D", user_dn, "-w", "nope")
        assert bad.returncode == 49, bad.stderr
        with pytest.raises(ServerCommandError, match="Already exists"):
            ldap.ldapadd(_PEOPLE.format(base=ldap.base_dn))
    finally:
        _stop_and_check_clean(ldap)


def test_slapd_tls() -> None:
    with SlapdServer(tls=True, base_dn="o=acme", bind_password="s3cret") as ldap:
        assert ldap.ca_cert.is_file()
        for args in (["-H", ldap.ldaps_url], ["-H", ldap.url, "-ZZ"]):
            out = _ldapwhoami(ldap, *args, "-D", ldap.bind_dn, "-w", "s3cret")
            assert out.returncode == 0, out.stderr
            assert "cn=admin,o=acme" in out.stdout
        assert "dn: o=acme" in ldap.ldapsearch(scope="base")


@pytest.mark.xdist_group("slapd")
def test_slapd_fixture(slapd_server: SlapdServer) -> None:
    ldap = slapd_server
    ou = f"ou=t{uuid.uuid4().hex[:8]},{ldap.base_dn}"
    ldap.ldapadd(f"dn: {ou}\nobjectClass: organizationalUnit\n")
    assert f"dn: {ou}" in ldap.ldapsearch(base=ou, scope="base")
    bad = _ldapwhoami(ldap, "-H", ldap.url, "-D", ldap.bind_dn, "-w", "wrong")
    assert bad.returncode == 49


# --------------------------------------------------------------------------- SCIM

_USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"


def test_scim_lifecycle() -> None:
    scim = ScimServer(token="t0ken").start()
    try:
        assert scim.base_url == f"http://127.0.0.1:{scim.port}/v2" and scim.token == "t0ken"
        status, created = scim.request("POST", "Users", {"schemas": [_USER_SCHEMA], "userName": "bjensen",
                                                         "emails": [{"value": "bj@example.com", "primary": True}]})
        assert status == 201, created
        status, fetched = scim.request("GET", f"Users/{created['id']}")
        assert status == 200
        assert fetched["userName"] == "bjensen" and fetched["emails"][0]["value"] == "bj@example.com"
        status, listed = scim.request("GET", 'Users?filter=userName eq "bjensen"'.replace(" ", "%20"))
        assert status == 200 and listed["totalResults"] == 1
        assert scim.request("GET", f"Users/{created['id']}", token="wrong")[0] == 401
        assert scim.request("GET", "Users", token="")[0] == 401
    finally:
        _stop_and_check_clean(scim)


@pytest.mark.xdist_group("scim")
def test_scim_fixture(scim_server: ScimServer) -> None:
    name = f"user-{uuid.uuid4().hex[:8]}"
    status, created = scim_server.request("POST", "Users", {"schemas": [_USER_SCHEMA], "userName": name})
    assert status == 201
    assert scim_server.request("GET", f"Users/{created['id']}")[1]["userName"] == name
    assert scim_server.request("POST", "Users", {"schemas": [_USER_SCHEMA], "userName": "x"}, token="bad")[0] == 401


# --------------------------------------------------------------------------- base class


def test_start_failure_reports_log_and_cleans_up(blocked_port: int, tmp_path: Path) -> None:
    ldap = SlapdServer(port=blocked_port, startup_timeout=10, base_dir=tmp_path)
    with pytest.raises(ServerStartError, match="Address already in use"):
        ldap.start()
    assert list(tmp_path.iterdir()) == []
    assert ldap.processes() == set()


def test_start_retries_when_chosen_port_is_taken(blocked_port: int, monkeypatch: pytest.MonkeyPatch) -> None:
    ports = iter([blocked_port])
    real_free_port = servers.free_port
    # ManagedServer picks its port through the module that defines it.
    monkeypatch.setattr(servers.managed, "free_port", lambda host="127.0.0.1": next(ports, None) or real_free_port(host))
    with SlapdServer() as ldap:
        assert ldap.port != blocked_port
        assert "dc=example,dc=org" in ldap.ldapsearch(scope="base")
