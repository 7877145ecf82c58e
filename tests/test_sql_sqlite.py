"""The SQL meta-connector on SQLite: the Ledger example end to end, provisioning, actions, the CLI."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

pytest.importorskip("cel")

from sql_support import EXAMPLES, connector, reader, run_sync, trait

from pybaton.cli.main import run as cli
from pybaton.connectors.sql import SqlConnector
from pybaton.errors import ConfigError
from pybaton.runtime.runner import execute

CONFIG = EXAMPLES / "inhouse-sqlite.yml"


@pytest.fixture
def ledger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    db = tmp_path / "ledger.db"
    with sqlite3.connect(db) as conn:
        conn.executescript((EXAMPLES / "inhouse-sqlite.sql").read_text())
    monkeypatch.setenv("LEDGER_DB", str(db))
    return db


def _query(db: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as conn:
        return list(conn.execute(sql))


def test_example_syncs_everything_in_the_database(ledger: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "ledger.c1z"
    result = run_sync(CONFIG, out, monkeypatch, {})
    r = reader(out)
    users = {res.id.resource: res for res in r.resources("user")}
    assert set(users) == {name for (name,) in _query(ledger, "SELECT username FROM users")}
    # 7 users over pages of 3 (cursor), 3 roles over pages of 2 (offset): nothing lost, nothing doubled.
    assert result.stats["resources_by_resource_type"] == {"user": 7, "group": 3, "role": 3, "permission": 4}
    ada = trait(users["ada"])
    assert ada["status"] == {"status": "STATUS_ENABLED"} and ada["lastLogin"] == "2024-05-01T10:00:00Z"
    assert ada["profile"] == {"user_id": "1", "username_upper": "ADA"} and ada["employeeIds"] == ["L-001"]
    assert trait(users["chen"])["status"] == {"status": "STATUS_DISABLED"}
    assert trait(users["zoë"])["status"] == {"status": "STATUS_DELETED"}
    assert trait(users["etl-bot"])["accountType"] == "ACCOUNT_TYPE_SERVICE"
    assert "employeeIds" not in trait(users["dana"])            # NULL employee number: no empty id
    assert users["dana"].display_name == "dana"                 # NULL full_name: fell back in the config
    direct = {g.id for g in r.grants() if not g.sources.sources or g.id in _direct_ids(ledger)}
    assert _direct_ids(ledger) <= direct


def _direct_ids(db: Path) -> set[str]:
    """Every grant the database holds directly, derived from the tables."""
    ids = {f"group:{g}:member:user:{u}" for g, u in _query(db, "SELECT group_id, username FROM group_members "
                                                               "JOIN users ON users.id = user_id")}
    ids |= {f"group:{g}:owner:user:{u}" for g, u in _query(db, "SELECT group_id, username FROM group_members "
                                                              "JOIN users ON users.id = user_id WHERE is_owner = 1")}
    ids |= {f"role:{r}:member:user:{u}" for r, u in _query(db, "SELECT roles.name, username FROM user_roles "
                                                              "JOIN users ON users.id = user_id "
                                                              "JOIN roles ON roles.id = role_id")}
    ids |= {f"role:{r}:member:group:{g}" for r, g in _query(db, "SELECT roles.name, group_id FROM group_roles "
                                                               "JOIN roles ON roles.id = role_id")}
    ids |= {f"permission:{p}:granted:role:{r}" for p, r in _query(db, "SELECT code, roles.name FROM role_permissions "
                                                                     "JOIN roles ON roles.id = role_id "
                                                                     "JOIN permissions ON permissions.id = permission_id")}
    return ids


def test_grants_match_the_tables_and_expand_through_groups(ledger: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "ledger.c1z"
    run_sync(CONFIG, out, monkeypatch, {})
    grants = {g.id for g in reader(out).grants()}
    assert _direct_ids(ledger) <= grants
    # brian is in finance, finance holds approver: he holds it through the group (expansion).
    assert "role:approver:member:user:brian" in grants
    assert "role:viewer:member:user:chen" in grants          # auditors -> viewer
    assert "permission:ledger.read:granted:user:dana" in grants  # viewer -> ledger.read


def test_static_entitlements_keep_grantable_to_and_slug(ledger: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "ledger.c1z"
    run_sync(CONFIG, out, monkeypatch, {})
    ent = reader(out).entitlement("role:admin:member")
    assert ent is not None and ent.slug == "member" and ent.display_name == "Admin member"
    assert [t.id for t in ent.grantable_to] == ["user", "group"]


def _runner(*args: str) -> int:
    return execute(SqlConnector, ["--config", str(CONFIG), "--log-level", "warn", *args])


def test_grant_revoke_create_rotate_through_the_standard_flags(ledger: Path, tmp_path: Path) -> None:
    out = str(tmp_path / "l.c1z")
    assert _runner("-f", out) == 0
    member = "SELECT count(*) FROM user_roles WHERE user_id = 4 AND role_id = 1"
    assert _runner("-f", out, "-p", "--grant-entitlement", "role:admin:member", "--grant-principal", "user:dana") == 0
    assert _query(ledger, member) == [(1,)]
    assert _runner("-f", out, "-p", "--grant-entitlement", "role:admin:member", "--grant-principal", "user:dana") == 0
    assert _query(ledger, member) == [(1,)]                     # granting twice is one grant
    assert _runner("-f", out, "-p", "--revoke-grant", "role:admin:member:user:dana") == 0
    assert _runner("-f", out, "-p", "--revoke-grant", "role:admin:member:user:dana") == 0
    assert _query(ledger, member) == [(0,)]
    assert _runner("-f", out, "-p", "--create-account-login", "x'); drop table users; --",
                   "--create-account-email", "x@ledger.test") == 0
    assert _query(ledger, "SELECT email FROM users WHERE username = 'x''); drop table users; --'") == \
        [("x@ledger.test",)]
    assert _runner("-f", out) == 0
    before = _query(ledger, "SELECT password FROM users WHERE username = 'x''); drop table users; --'")
    assert _runner("-f", out, "-p", "--rotate-credentials", "user:x'); drop table users; --") == 0
    after = _query(ledger, "SELECT password FROM users WHERE username = 'x''); drop table users; --'")
    assert before != after and len(str(after[0][0])) >= 16   # credential_rotation's min_length


def test_account_creation_is_idempotent(ledger: Path) -> None:
    from pybaton.connector.capabilities import AccountInfo, CreateAccountStatus, CredentialOptions

    conn = connector(CONFIG)
    users = conn.syncer_for("user")
    assert users is not None
    info = AccountInfo(login="fresh", emails=["fresh@ledger.test"], profile={"full_name": "Fresh Person"})
    first = users.create_account(info, CredentialOptions())  # type: ignore[attr-defined]
    assert first.status is CreateAccountStatus.SUCCESS and first.resource.display_name == "Fresh Person"
    assert len(first.credentials[0].value) >= 12
    again = users.create_account(info, CredentialOptions())  # type: ignore[attr-defined]
    assert again.status is CreateAccountStatus.ALREADY_EXISTS and not again.credentials
    none = users.create_account(AccountInfo(login="nopw", emails=["n@ledger.test"]),  # type: ignore[attr-defined]
                                CredentialOptions(kind="none"))
    assert none.status is CreateAccountStatus.SUCCESS and not none.credentials
    assert _query(ledger, "SELECT password FROM users WHERE username = 'nopw'") == [(None,)]
    conn.close()


def test_capabilities_follow_the_config(ledger: Path) -> None:
    from pybaton.connector.capabilities import capabilities_of

    conn = connector(CONFIG)
    caps = {s.resource_type.id: capabilities_of(s) for s in conn.syncers()}
    assert caps == {"user": ["create_account", "rotate_credentials"], "group": [], "role": ["grant"],
                    "permission": []}
    conn.close()


def test_action_runs_with_checked_arguments(ledger: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert cli(["sql", "action", "suspend_user", "--config", str(CONFIG), "--args", '{"username": "dana"}']) == 1
    assert _query(ledger, "SELECT status FROM users WHERE username = 'dana'") == [("active",)]  # no -p: nothing
    assert cli(["sql", "action", "suspend_user", "--config", str(CONFIG), "--args", '{"username": "dana"}',
                "--dry-run"]) == 0
    assert cli(["sql", "action", "suspend_user", "--config", str(CONFIG), "--args", '{"username": "dana"}',
                "-p"]) == 0
    assert _query(ledger, "SELECT status FROM users WHERE username = 'dana'") == [("suspended",)]
    assert cli(["sql", "action", "suspend_user", "--config", str(CONFIG), "--args", "{}", "-p"]) == 1
    assert cli(["sql", "action", "suspend_user", "--config", str(CONFIG), "-p",
                "--args", '{"username": 5}']) == 1
    assert cli(["sql", "actions", "--config", str(CONFIG)]) == 0
    audit = [json.loads(line) for line in (tmp_path / "sync.c1z.audit.jsonl").read_text().splitlines()]
    assert [a["result"] for a in audit] == ["refused", "planned", "done", "failed", "failed"]
    assert all("dana" not in json.dumps(a) for a in audit)      # argument names only, never values


def test_validate_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["sql", "validate", "--config", str(CONFIG)]) == 0
    assert "needs environment variable(s): LEDGER_DB" in capsys.readouterr().out
    broken = tmp_path / "broken.yml"
    broken.write_text(CONFIG.read_text().replace("display_name: titleCase(.name)", "display_name: titleCase(.name")
                      .replace("WHERE gm.group_id = ?<group_id>", "WHERE gm.group_id = ?<groupid>"))
    assert cli(["sql", "validate", "--config", str(broken)]) == 1
    err = capsys.readouterr().err
    assert "resource type 'group', list.map.display_name (" in err and "does not compile" in err
    assert "resource type 'group', grants[0].query (" in err and "?<groupid> is not defined" in err


def test_broken_query_names_type_field_and_database_message(ledger: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(CONFIG.read_text().replace("FROM permissions ORDER BY id", "FROM permission ORDER BY id"))
    assert execute(SqlConnector, ["--config", str(broken), "-f", str(tmp_path / "x.c1z")]) == 1
    with pytest.raises(Exception, match=r"resource type 'permission', list.query \(.*broken.yml:\d+\): "
                                        r"database error: no such table: permission"):
        run_sync(broken, tmp_path / "y.c1z", monkeypatch, {})


def test_missing_database_file_is_one_clean_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("LEDGER_DB", str(tmp_path / "nope.db"))
    assert execute(SqlConnector, ["--config", str(CONFIG), "-f", str(tmp_path / "x.c1z"), "--log-level", "error"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "cannot open sqlite database" in err[0]
    with pytest.raises(ConfigError):
        connector(CONFIG).validate()
