"""The SQL meta-connector on a real MariaDB: Go baton-sql conformance, and the Helpdesk example."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("cel")
pytest.importorskip("pymysql")

from sql_support import EXAMPLES, FIXTURES, as_dict, conformance_file, connector, reader, run_sync, trait

from pybaton.connectors.sql import SqlConnector
from pybaton.runtime.runner import execute
from pybaton.testing.servers import MariaDBServer

pytestmark = [pytest.mark.servers, pytest.mark.xdist_group("mariadb")]

PASSWORD = "r3ad'only @:/pw"  # characters that break a naively built DSN


def _database(server: MariaDBServer, name: str, sql: Path, user: str, grants: str) -> dict[str, str]:
    server.sql(f"DROP DATABASE IF EXISTS {name}; DROP USER IF EXISTS '{user}'@'%';")
    server.create_database(name)
    server.sql(sql.read_text(), db=name)
    server.create_user(user, PASSWORD, [grants.format(db=name)])
    return {"host": "127.0.0.1", "port": str(server.port), "user": user, "password": PASSWORD, "database": name}


@pytest.fixture(scope="module")
def inhouse(mariadb_server: MariaDBServer) -> Iterator[dict[str, str]]:
    yield _database(mariadb_server, "baton_sql_inhouse", conformance_file("inhouse-app.sql"), "inhouse_reader",
                    "SELECT ON {db}.*")


def _env(db: dict[str, str]) -> dict[str, str]:
    return {"DB_HOST": db["host"], "DB_PORT": db["port"], "DB_USER": db["user"], "DB_PASSWORD": db["password"],
            "DB_DATABASE": db["database"]}


def _go(name: str) -> Any:
    return json.loads((FIXTURES / f"baton-sql-mariadb.{name}.json").read_text())


def _go_time(text: str) -> str:
    """Go's ``2019-04-01 09:00:00 +0000 UTC`` as the ISO form pybaton writes (a deliberate difference)."""
    when = dt.datetime.strptime(text.removesuffix(" UTC"), "%Y-%m-%d %H:%M:%S %z")
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _resource_view(res: dict[str, Any]) -> dict[str, Any]:
    traits = [{k: v for k, v in a.items() if k != "@type"} | {"type": a["@type"].rsplit(".", 1)[1]}
              for a in res.get("annotations", []) if a["@type"].endswith("Trait")]
    return {"id": res["id"], "displayName": res.get("displayName", ""), "description": res.get("description", ""),
            "traits": traits}


def _entitlement_view(ent: dict[str, Any]) -> dict[str, Any]:
    return {"id": ent["id"], "displayName": ent.get("displayName", ""), "description": ent.get("description", ""),
            "purpose": ent.get("purpose", ""), "slug": ent.get("slug", ""),
            "grantableTo": sorted(t["id"] for t in ent.get("grantableTo", []))}


@pytest.fixture(scope="module")
def synced(inhouse: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("inhouse") / "inhouse.c1z"
    with pytest.MonkeyPatch.context() as mp:
        result = run_sync(conformance_file("inhouse-app.yml"), out, mp, _env(inhouse))
    assert result.stats["resource_types"] == 3 and result.stats["resources"] == 32
    assert result.stats["entitlements"] == 10 and result.stats["grants"] == 48
    return out


SKIP = {"@type": "type.googleapis.com/c1.connector.v2.SkipEntitlementsAndGrants"}


def test_resource_types_match_go(synced: Path) -> None:
    ours = sorted((as_dict(rt) for rt in reader(synced).resource_types()), key=lambda d: d["id"])
    go = sorted((d["resourceType"] for d in _go("resource-types")["resourceTypes"]), key=lambda d: d["id"])
    # Deliberate: `user` defines no entitlements or grants, so pybaton tells the engine to skip them.
    user = next(d for d in ours if d["id"] == "user")
    assert user.pop("annotations") == [SKIP]
    assert ours == go


def test_resources_match_go_except_iso_timestamps(synced: Path) -> None:
    go = {}
    for item in _go("resources")["resources"]:
        view = _resource_view(item["resource"])
        for t in view["traits"]:
            if "created_at" in t.get("profile", {}):
                t["profile"]["created_at"] = _go_time(t["profile"]["created_at"])  # deliberate: ISO 8601
        go[view["id"]["resourceType"], view["id"]["resource"]] = view
    ours = {(v["id"]["resourceType"], v["id"]["resource"]): v
            for v in (_resource_view(as_dict(r)) for r in reader(synced).resources())}
    assert ours.keys() == go.keys()
    for key in go:
        assert ours[key] == go[key], key


def test_null_employee_id_and_unicode_and_injection_rows(synced: Path) -> None:
    r = reader(synced)
    svc = trait(r.resource("user", "svc-backup"))
    assert svc["accountType"] == "ACCOUNT_TYPE_SERVICE" and svc["profile"]["employee_id"] == ""
    assert r.resource("user", "zoë.øyen") is not None
    assert r.resource("user", "robert'); drop table users; --") is not None


def test_entitlements_match_go_except_static_grantable_to(synced: Path) -> None:
    go = {v["id"]: v for v in (_entitlement_view(e["entitlement"]) for e in _go("entitlements")["entitlements"])}
    ours = {v["id"]: v for v in (_entitlement_view(as_dict(e)) for e in reader(synced).entitlements())}
    assert ours.keys() == go.keys()
    for ent_id, view in go.items():
        if ent_id.startswith("role:"):
            # Deliberate: the static `member` keeps its grantable_to (Go's baton-sql drops it).
            assert view["grantableTo"] == [] and ours[ent_id]["grantableTo"] == ["user"]
            view = view | {"grantableTo": ["user"]}
        assert ours[ent_id] == view, ent_id


def test_grants_match_go(synced: Path) -> None:
    go = {g["grant"]["id"] for g in _go("grants")["grants"]}
    ours = {g.id for g in reader(synced).grants()}
    assert ours == go
    assert len(ours) == 48


# -- the Helpdesk example ------------------------------------------------------------------------------

HELPDESK = EXAMPLES / "inhouse-mariadb.yml"


@pytest.fixture
def helpdesk(mariadb_server: MariaDBServer, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    db = _database(mariadb_server, "helpdesk", EXAMPLES / "inhouse-mariadb.sql", "helpdesk_app",
                   "SELECT, INSERT, UPDATE, DELETE ON {db}.*")
    for key, value in {"HELPDESK_HOST": db["host"], "HELPDESK_PORT": db["port"], "HELPDESK_USER": db["user"],
                       "HELPDESK_PASSWORD": db["password"]}.items():
        monkeypatch.setenv(key, value)
    return db


def _rows(server: MariaDBServer, sql: str) -> list[list[str]]:
    return [line.split("\t") for line in server.sql(sql, db="helpdesk").splitlines()]


def test_helpdesk_example_syncs_what_the_tables_hold(helpdesk: dict[str, str], mariadb_server: MariaDBServer,
                                                      tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "helpdesk.c1z"
    result = run_sync(HELPDESK, out, monkeypatch, {})
    r = reader(out)
    assert {res.id.resource for res in r.resources("agent")} == {row[0] for row in _rows(mariadb_server,
                                                                                         "SELECT login FROM agents")}
    assert result.stats["resources_by_resource_type"] == {"agent": 6, "role": 3, "permission": 4, "queue": 2}
    carmen = trait(r.resource("agent", "carmen"))
    assert carmen["status"] == {"status": "STATUS_DISABLED"} and carmen["mfaStatus"] == {"mfaEnabled": True}
    assert carmen["lastLogin"] == "2023-01-15T09:45:10Z"
    assert trait(r.resource("agent", "dev-bot"))["accountType"] == "ACCOUNT_TYPE_SERVICE"
    grants = {g.id for g in r.grants()}
    direct = {f"role:{code}:assigned:agent:{login}" for login, code in _rows(
        mariadb_server, "SELECT a.login, r.code FROM agent_roles ar JOIN agents a ON a.id = ar.agent_id "
                        "JOIN roles r ON r.id = ar.role_id")}
    direct |= {f"queue:{q}:member:agent:{login}" for q, login in _rows(
        mariadb_server, "SELECT q.name, a.login FROM queue_members qm JOIN queues q ON q.id = qm.queue_id "
                        "JOIN agents a ON a.id = qm.agent_id")}
    direct |= {f"queue:{q}:supervisor:agent:{login}" for q, login in _rows(
        mariadb_server, "SELECT q.name, a.login FROM queue_members qm JOIN queues q ON q.id = qm.queue_id "
                        "JOIN agents a ON a.id = qm.agent_id WHERE supervisor = 1")}
    assert direct <= grants
    assert "permission:ticket.assign:allowed:agent:amira" in grants   # lead -> ticket.assign, expanded


def test_helpdesk_provisioning_and_action(helpdesk: dict[str, str], mariadb_server: MariaDBServer,
                                          tmp_path: Path) -> None:
    out = str(tmp_path / "h.c1z")

    def run(*args: str) -> int:
        return execute(SqlConnector, ["--config", str(HELPDESK), "-f", out, "--log-level", "warn", *args])

    assert run() == 0
    count = "SELECT count(*) FROM agent_roles ar JOIN agents a ON a.id = ar.agent_id WHERE a.login = 'eitan'"
    assert run("-p", "--grant-entitlement", "role:lead:assigned", "--grant-principal", "agent:eitan") == 0
    assert _rows(mariadb_server, count) == [["2"]]
    assert run("-p", "--revoke-grant", "role:lead:assigned:agent:eitan") == 0
    assert run("-p", "--revoke-grant", "role:lead:assigned:agent:eitan") == 0
    assert _rows(mariadb_server, count) == [["1"]]
    assert run("-p", "--create-account-login", "gwen", "--create-account-email", "gwen@help.test") == 0
    secret = _rows(mariadb_server, "SELECT secret FROM agents WHERE login = 'gwen'")[0][0]
    assert sum(ch.isdigit() for ch in secret) >= 2                   # the config's constraint
    conn = connector(HELPDESK)
    assert conn.run_action("lock_agent", {"login": "bo"})["changed"] is True
    assert _rows(mariadb_server, "SELECT state FROM agents WHERE login = 'bo'") == [["locked"]]
    conn.close()


def test_wrong_password_is_one_clean_line(helpdesk: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("HELPDESK_PASSWORD", "wrong")
    code = execute(SqlConnector, ["--config", str(HELPDESK), "-f", str(tmp_path / "x.c1z"), "--log-level", "error"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and "login refused" in err[0] and "Access denied" in err[0]
    assert "wrong" not in err[0]
