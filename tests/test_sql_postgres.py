"""baton-sql's own CI, run unchanged on a real PostgreSQL: postgres-test.yml over postgres-init.sql.

Expectations are derived from the database, not written by hand: every user,
role, feature and membership the tables hold must be in the sync. Then, with
provisioning on, the writes baton-sql's CI makes: grant and revoke
``role:admin:member`` for ``john.smith``, create an account whose login is an
SQL injection attempt, rotate a password, and fail cleanly on a wrong password.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("cel")
pytest.importorskip("psycopg")

from sql_support import conformance_file, connector, reader, run_sync, trait

from pybaton.connectors.sql import SqlConnector
from pybaton.runtime.runner import execute
from pybaton.testing.servers import PostgresServer

pytestmark = [pytest.mark.servers, pytest.mark.xdist_group("postgres")]

PASSWORD = "ci p@ss:w/rd'"
INJECTION = "robert'); drop table users; --"


@pytest.fixture(scope="module")
def database(postgres_server: PostgresServer) -> Iterator[dict[str, str]]:
    pg = postgres_server
    pg.psql("DROP DATABASE IF EXISTS batontest; DROP ROLE IF EXISTS baton_ci;")
    pg.psql(f"CREATE ROLE baton_ci LOGIN PASSWORD '{PASSWORD.replace(chr(39), chr(39) * 2)}';")
    pg.create_database("batontest", owner="baton_ci")
    pg.psql(conformance_file("postgres-init.sql").read_text(), db="batontest")  # pgcrypto needs a superuser
    pg.psql("GRANT ALL ON ALL TABLES IN SCHEMA public TO baton_ci; "
            "GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO baton_ci;", db="batontest")
    yield {"DB_HOST": "127.0.0.1", "DB_PORT": str(pg.port), "DB_USER": "baton_ci", "DB_PASSWORD": PASSWORD,
           "DB_DATABASE": "batontest"}


def _q(pg: PostgresServer, sql: str) -> list[list[str]]:
    return [line.split("|") for line in pg.psql(sql, db="batontest").splitlines() if line]


@pytest.fixture
def env(database: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for key, value in database.items():
        monkeypatch.setenv(key, value)
    return database


def _run(out: Path, *args: str) -> int:
    return execute(SqlConnector, ["--config", str(conformance_file("postgres-test.yml")), "-f", str(out),
                                  "--log-level", "warn", *args])


def test_every_user_role_feature_and_membership_is_synced(env: dict[str, str], postgres_server: PostgresServer,
                                                          tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "pg.c1z"
    run_sync(conformance_file("postgres-test.yml"), out, monkeypatch, env)
    r = reader(out)
    pg = postgres_server
    assert {x.id.resource for x in r.resources("user")} == {u for (u,) in _q(pg, "SELECT username FROM users")}
    assert {x.id.resource for x in r.resources("role")} == {n for (n,) in _q(pg, "SELECT role_name FROM roles")}
    assert {x.id.resource for x in r.resources("feature")} == {
        i for (i,) in _q(pg, "SELECT id FROM features WHERE NOT is_deleted")}
    grants = {g.id for g in r.grants()}
    memberships = {f"role:{role}:member:user:{user}" for user, role in _q(
        pg, "SELECT u.username, r.role_name FROM users u JOIN user_roles ur ON u.id = ur.user_id "
            "JOIN roles r ON r.id = ur.role_id")}
    features = {f"feature:{f}:assigned:role:{role}" for f, role in _q(
        pg, "SELECT fr.feature_id, r.role_name FROM feature_roles fr JOIN roles r ON r.id = fr.role_id")}
    assert memberships and features and memberships | features <= grants
    admin = trait(r.resource("user", "admin"))
    assert admin["employeeIds"] == ["EMP001"] and admin["lastLogin"] == "2025-04-15T09:30:00Z"
    assert "manager_id" not in admin["profile"]              # NULL manager: absent, not "NULL_VALUE"
    assert trait(r.resource("user", "service.acct"))["accountType"] == "ACCOUNT_TYPE_SERVICE"
    assert trait(r.resource("user", "disabled.user"))["status"] == {"status": "STATUS_DISABLED"}


def test_grant_and_revoke_admin_member_for_john_smith(env: dict[str, str], postgres_server: PostgresServer,
                                                      tmp_path: Path) -> None:
    out = tmp_path / "pg.c1z"
    assert _run(out) == 0
    held = ("SELECT count(*) FROM user_roles ur JOIN users u ON u.id = ur.user_id JOIN roles r ON r.id = ur.role_id "
            "WHERE u.username = 'john.smith' AND r.role_name = 'admin'")
    grant = ["-p", "--grant-entitlement", "role:admin:member", "--grant-principal", "john.smith",
             "--grant-principal-type", "user"]
    assert _run(out, *grant) == 0
    assert _q(postgres_server, held) == [["1"]]
    assert _run(out, *grant) == 0                            # ON CONFLICT DO NOTHING: already granted
    assert _run(out) == 0
    assert reader(out).grant("role:admin:member:user:john.smith") is not None
    assert _run(out, "-p", "--revoke-grant", "role:admin:member:user:john.smith") == 0
    assert _q(postgres_server, held) == [["0"]]
    assert _run(out, "-p", "--revoke-grant", "role:admin:member:user:john.smith") == 0  # already revoked: fine


def test_account_creation_with_an_injection_login_is_data(env: dict[str, str], postgres_server: PostgresServer,
                                                          tmp_path: Path) -> None:
    out = tmp_path / "pg.c1z"
    assert _run(out) == 0
    users_before = _q(postgres_server, "SELECT count(*) FROM users")[0][0]
    # baton-sql's CI request: that login exists already, so this is an idempotent "already exists".
    assert _run(out, "-p", "--create-account-login", INJECTION,
                "--create-account-email", "robert.tables2@example.com") == 0
    assert _q(postgres_server, "SELECT to_regclass('public.users') IS NOT NULL") == [["t"]]
    assert _q(postgres_server, "SELECT count(*) FROM users")[0][0] == users_before
    fresh = INJECTION + " (2)"
    assert _run(out, "-p", "--create-account-login", fresh, "--create-account-email", "robert.tables3@example.com") == 0
    rows = _q(postgres_server, "SELECT username, email, password_hash LIKE '$2a$%' FROM users "
                               "WHERE email = 'robert.tables3@example.com'")
    assert rows == [[fresh, "robert.tables3@example.com", "t"]]
    assert _q(postgres_server, "SELECT to_regclass('public.users') IS NOT NULL") == [["t"]]
    before = _q(postgres_server, "SELECT password_hash FROM users WHERE email = 'robert.tables3@example.com'")
    assert _run(out) == 0
    assert _run(out, "-p", "--rotate-credentials", fresh, "--rotate-credentials-type", "user") == 0
    after = _q(postgres_server, "SELECT password_hash FROM users WHERE email = 'robert.tables3@example.com'")
    assert before != after


def test_config_has_no_actions(env: dict[str, str]) -> None:
    conn = connector(conformance_file("postgres-test.yml"))
    assert conn.actions() == []
    conn.close()


def test_wrong_password_fails_in_one_line(env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DB_PASSWORD", "not-the-password")
    code = execute(SqlConnector, ["--config", str(conformance_file("postgres-test.yml")),
                                  "-f", str(tmp_path / "x.c1z"), "--log-level", "error"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1
    assert err[0].startswith("error: ") and "login refused" in err[0] and "password authentication failed" in err[0]
    assert "not-the-password" not in err[0]
