"""The workspace, policy, plan, apply and the reconcile loop, on two demo databases (HR as IdP, an app).

The real-server scenario (OpenLDAP as IdP, PostgreSQL and the demo as apps) is
in ``test_reconcile_servers.py``; here every rule and safety mechanism is
checked on systems that need no server: what is planned and why, that apply
changes exactly that, and that a second run plans nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import sqlite3
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from provision_helpers import Cli
from reconcile_support import WorkspaceDir, audit, demo_dump, demo_pair, demo_rows, holds

from pybaton.c1z import container
from pybaton.connectors.demo import DemoStore
from pybaton.connectors.demo import seed as demo_seed
from pybaton.errors import ConfigError
from pybaton.reconcile import ApplyOptions, load_policy, load_workspace, run_loop, workspace_lock
from pybaton.sync import work_dir_for

ENGINEERS_READ_FIGMA: dict[str, Any] = {"birthright": [{
    "name": "eng-figma", "when": 'department == "engineering"', "system": "app",
    "entitlement": "app:figma:viewer", "create_account": True}]}


def new_hire(ws: WorkspaceDir, login: str, department: str, *, email: str | None = None) -> None:
    """Add a person to HR (the identity provider)."""
    store = DemoStore.open(ws.root / "hr-db")
    try:
        store.create_user(demo_seed.Person(login, login.replace(".", " ").title(), email or f"{login}@acme.example",
                                           department, None, "Engineer", None, "E9999",
                                           created_at="2024-01-01T00:00:00+00:00"), None)
    finally:
        store.close()


def set_status(db: Path, login: str, status: str) -> None:
    conn = sqlite3.connect(db / "acme.sqlite")
    with conn:
        conn.execute("update users set status = ? where id = ?", (status, login))
    conn.close()


@pytest.fixture
def pair(tmp_path: Path, cli: Cli) -> WorkspaceDir:
    ws = demo_pair(tmp_path, {"birthright": [{"name": "eng-github", "when": 'department == "engineering"',
                                              "system": "app", "entitlement": "app:github:read",
                                              "create_account": True}]}, cli)
    ws.ok("workspace", "sync")
    return ws


def figma_entitlement(ws: WorkspaceDir) -> None:
    """The demo has no Figma; give the app one (a new per-resource entitlement) so birthrights have work."""
    with sqlite3.connect(ws.root / "app-db" / "acme.sqlite") as conn:
        conn.execute("insert into apps values ('figma', 'Figma', 'Design', 'https://figma.example')")
        conn.execute("insert into entitlements (resource_type, resource_id, slug, display_name, purpose) "
                     "values ('app', 'figma', 'viewer', 'Viewer', 'permission')")


# -- the workspace file --------------------------------------------------------------------------------

def _workspace(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pybaton.yaml"
    path.write_text(text)
    return path


def test_literal_secrets_are_refused_with_their_line(tmp_path: Path) -> None:
    path = _workspace(tmp_path, "systems:\n  idp:\n    connector: demo\n    identity_provider: true\n"
                                "  pg:\n    connector: postgres\n    config:\n"
                                "      dsn: postgresql://baton:hunter2@db/postgres\n")
    with pytest.raises(ConfigError) as exc:
        load_workspace(path)
    assert "pybaton.yaml:8: systems.pg.config.dsn: secrets are never written in the workspace file" in str(exc.value)
    assert "hunter2" not in str(exc.value)
    path.write_text("systems:\n  idp: {connector: demo, identity_provider: true}\n"
                    "  gh:\n    command: [baton-github]\n    env: {BATON_TOKEN: ghp_literal}\n")
    with pytest.raises(ConfigError, match=r"pybaton.yaml:\d+: systems.gh.env.BATON_TOKEN: secrets are never"):
        load_workspace(path)


def test_secrets_come_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _workspace(tmp_path, "systems:\n  idp: {connector: demo, identity_provider: true}\n"
                                "  pg:\n    connector: postgres\n    config:\n      dsn_env: REC_PG_DSN\n"
                                "      password: ${REC_PG_PASSWORD}\n"
                                "  gh:\n    command: [baton-github]\n    env: {BATON_TOKEN: '${REC_GH}'}\n")
    ws = load_workspace(path)
    with pytest.raises(ConfigError, match=r"pybaton.yaml:6: systems.pg.config.dsn_env: environment variable "
                                          "REC_PG_DSN is not set"):
        ws.connector("pg")
    monkeypatch.setenv("REC_PG_DSN", "postgresql://baton@127.0.0.1:1/postgres")
    monkeypatch.setenv("REC_PG_PASSWORD", "s3cret-pw")
    monkeypatch.setenv("REC_GH", "ghp_from_env")
    connector = ws.connector("pg")
    assert connector.config.password.get_secret_value() == "s3cret-pw"
    assert ws.external_entry("gh").env == {"BATON_TOKEN": "ghp_from_env"}
    assert "s3cret-pw" not in ws.redactor()("error: password s3cret-pw rejected")
    assert "ghp_from_env" not in ws.redactor()("token ghp_from_env")


@pytest.mark.parametrize(("text", "message"), [
    ("systems:\n  a: {connector: demo}\n", "mark at least one system with identity_provider: true"),
    ("systems:\n  a: {connector: demo, identity_provider: true, colour: red}\n",
     "pybaton.yaml:2: systems.a.colour: Extra inputs are not permitted"),
    ("systems:\n  a:\n    connector: nope\n    identity_provider: true\n",
     "pybaton.yaml:3: systems.a.connector: no built-in connector 'nope'"),
    ("systems:\n  a:\n    connector: demo\n    identity_provider: true\n    config: {max_page_size: 0}\n",
     "pybaton.yaml:5: systems.a.config.max_page_size: Input should be greater than or equal to 1"),
    ("systems:\n  a: {connector: demo, command: [x], identity_provider: true}\n", "either connector"),
])
def test_workspace_errors_name_the_key_and_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as exc:
        ws = load_workspace(_workspace(tmp_path, text))
        ws.connector("a")
    assert message in str(exc.value)


def test_relative_paths_are_relative_to_the_workspace_file(tmp_path: Path) -> None:
    ws = load_workspace(_workspace(tmp_path, "data_dir: state\nsystems:\n  a:\n    connector: demo\n"
                                             "    identity_provider: true\n    config: {data_dir: db}\n"))
    assert ws.data_dir == tmp_path.resolve() / "state"
    assert ws.connector("a").config.data_dir == tmp_path.resolve() / "db"


# -- the policy file -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("policy", "message"), [
    ({"birthright": [{"name": "x", "system": "nowhere", "entitlement": "a:b:c"}]},
     "policy.yaml:3: birthright[0].system: no system 'nowhere'"),
    ({"birthright": [{"name": "x", "system": "app", "entitlement": "a:b:c", "when": "department =="}]},
     "policy.yaml:5: birthright[0].when: 'department ==' is not a valid CEL expression"),
    ({"exclusive": [{"name": "x", "system": "app", "entitlement": "a:b:c"}]}, "say who may hold it"),
    ({"orphans": [{"name": "x", "grace": "soon"}]}, "'soon' is not a duration"),
    ({"leavers": [{"name": "x"}, {"name": "x"}]}, "leavers/x is also defined at"),
])
def test_policy_errors_name_the_key_and_line(tmp_path: Path, policy: dict[str, Any], message: str) -> None:
    ws = demo_pair(tmp_path, policy)
    with pytest.raises(ConfigError) as exc:
        load_policy(load_workspace(ws.path))
    assert message in str(exc.value)


# -- syncing the workspace -----------------------------------------------------------------------------

def test_workspace_sync_runs_every_system_and_keeps_the_previous_sync(pair: WorkspaceDir) -> None:
    pair.ok("workspace", "sync")
    for name in ("hr", "app"):
        listing = pair.pybaton("syncs", "-f", pair.data_dir / f"{name}.c1z", "-o", "json")
        assert len([s for s in json.loads(listing.out)["syncs"] if s["syncType"] == "full"]) == 2  # diff has both
    assert pair.pybaton("diff", "-f", pair.data_dir / "app.c1z").code == 0


def test_sync_all_is_the_workspace_sync(pair: WorkspaceDir) -> None:
    result = pair.ok("sync", "--all")
    for name in ("hr", "app"):
        assert name in result.out
        listing = pair.pybaton("syncs", "-f", pair.data_dir / f"{name}.c1z", "-o", "json")
        assert len(json.loads(listing.out)["syncs"]) >= 1


def test_a_failing_system_does_not_stop_the_others(pair: WorkspaceDir) -> None:
    pair.workspace["systems"]["broken"] = {"command": ["false"]}
    pair.write()
    result = pair.run("workspace", "sync")
    assert result.code == 1
    assert "broken   failed" in result.out and "hr       ok" in result.out and "app      ok" in result.out
    assert (pair.data_dir / "app.c1z").exists()


def test_a_damaged_working_copy_is_not_resumed_from(pair: WorkspaceDir) -> None:
    """A damaged working copy in ``<file>.wip`` (disk full, a bad disk) is not resumed from: the sync starts afresh."""
    c1z = pair.data_dir / "app.c1z"
    unpacked = pair.root / "full.sqlite"
    container.unpack(c1z, unpacked)
    workdir = work_dir_for(c1z)
    workdir.mkdir()
    (workdir / "db.sqlite").write_bytes(unpacked.read_bytes()[: unpacked.stat().st_size // 2])
    result = pair.ok("workspace", "sync")
    assert "app      ok" in result.out
    assert not workdir.exists()


# -- identities ----------------------------------------------------------------------------------------

def test_identities_reports(pair: WorkspaceDir) -> None:
    set_status(pair.root / "hr-db", "ada.lovelace", "disabled")
    pair.ok("workspace", "sync")
    doc = json.loads(pair.ok("identities", "-o", "json").out)
    ada = next(i for i in doc["identities"] if i["name"] == "ada.lovelace")
    assert ada["status"] == "disabled"
    assert {(a["system"], a["rule"]) for a in ada["accounts"]} == {("hr", "source"), ("app", "email")}
    assert {s["account"] for s in doc["service"]} == {"user:svc-deploy-bot"}
    assert {(row["system"], row["account"]) for row in doc["leavers"]} >= {("app", "user:ada.lovelace")}
    leavers = pair.ok("identities", "--leavers", "-o", "csv").out.splitlines()
    assert leavers[0] == "identity,name,identity_status,system,account,account_status,grants"
    assert any(line.startswith("hr/user:ada.lovelace,ada.lovelace,disabled,app,user:ada.lovelace,enabled,")
               for line in leavers)
    assert pair.run("identities", "--orphans", "--leavers").code == 2


# -- plan and apply ------------------------------------------------------------------------------------

def test_birthright_creates_the_account_then_grants_and_a_second_run_plans_nothing(pair: WorkspaceDir) -> None:
    new_hire(pair, "new.hire", "engineering")
    pair.ok("workspace", "sync")
    plan = pair.plan()
    assert [(a["kind"], a["target"], a["principal"]) for a in plan["actions"]] == [
        ("create-account", "new.hire", ""), ("grant", "app:github:read", "")]
    create, grant = plan["actions"]
    assert grant["needs"] == create["id"] == "create-account app new.hire"
    assert create["rules"] == ["birthright/eng-github"] and create["profile"]["department"] == "engineering"
    assert 'department == "engineering" (department="engineering")' in create["evidence"][0]
    line = pair.reconcile()
    assert "drift 2, fixed 2, failed 0, skipped by brake 0, remaining 0" in line
    assert holds(pair.root / "app-db", "app", "github", "read", "user:new.hire")
    assert pair.reconcile().split(": ", 1)[1].startswith("drift 0, fixed 0")


def test_exclusive_access_is_fixed_at_the_group_membership(pair: WorkspaceDir) -> None:
    pair.policy = {"exclusive": [{"name": "gh-admin", "system": "app", "entitlement": "app:github:admin",
                                  "allow": 'department == "security"', "accounts": ["user:svc-deploy-bot"]}]}
    pair.write()
    actions = pair.plan()["actions"]
    revoked = {a["target"] for a in actions}
    # the VP of Engineering holds it directly; the SRE team through group:sre (a derived grant: never revoked)
    assert "app:github:admin:user:grace.easley" in revoked
    assert {t for t in revoked if t.startswith("group:sre:member:user:")} == {
        "group:sre:member:user:barbara.clarke", "group:sre:member:user:dennis.turing",
        "group:sre:member:user:ken.corbato"}
    assert not any(t.startswith("app:github:admin:user:") and "grace" not in t for t in revoked)
    via_group = next(a for a in actions if a["target"] == "group:sre:member:user:ken.corbato")
    assert "user:ken.corbato holds app:github:admin through group:sre:member" in via_group["evidence"]
    pair.reconcile()
    rows = demo_rows(pair.root / "app-db", "select principal_id from access where resource_type = 'group' and "
                                           "resource_id = 'sre' and principal_type = 'user'")
    assert rows == []
    assert pair.plan()["actions"] == []


def test_leavers_lose_every_grant_and_their_account(pair: WorkspaceDir) -> None:
    pair.policy = {"leavers": [{"name": "leavers", "account": "delete"}]}
    pair.write()
    set_status(pair.root / "hr-db", "ada.lovelace", "disabled")
    pair.ok("workspace", "sync")
    kinds = [(a["kind"], a["target"]) for a in pair.plan()["actions"] if "ada.lovelace" in a["target"]]
    assert kinds[-1] == ("delete", "user:ada.lovelace")  # removals first, the account last
    assert {k for k, _ in kinds[:-1]} == {"revoke"}
    pair.reconcile()
    assert demo_rows(pair.root / "app-db", "select 1 from users where id = 'ada.lovelace'") == []
    assert pair.plan()["actions"] == []


def test_orphans_are_reported_then_deleted_after_the_grace_period(pair: WorkspaceDir) -> None:
    store = DemoStore.open(pair.root / "app-db")
    store.create_user(demo_seed.Person("ghost", "Ghost", "ghost@elsewhere.example", "sales", None, "", None, "",
                                       created_at="2024-01-01T00:00:00+00:00"), None)
    store.close()
    pair.policy = {"orphans": [{"name": "orphans", "action": "delete", "grace": "7d"}]}
    pair.write()
    pair.ok("workspace", "sync")
    plan = pair.plan()
    assert plan["actions"] == []
    finding = next(f for f in plan["findings"] if f["kind"] == "orphan")
    assert finding["subject"] == "user:ghost" and "deleted from" in finding["message"]
    seen = json.loads((pair.data_dir / "orphans.json").read_text())
    first = seen["app/user:ghost"]
    pair.plan()
    assert json.loads((pair.data_dir / "orphans.json").read_text())["app/user:ghost"] == first  # first sighting kept
    seen["app/user:ghost"] = (dt.datetime.now(dt.UTC) - dt.timedelta(days=8)).isoformat()
    (pair.data_dir / "orphans.json").write_text(json.dumps(seen))
    assert [(a["kind"], a["target"]) for a in pair.plan()["actions"]] == [("delete", "user:ghost")]


def test_toxic_combinations_are_reported_and_fixed_only_when_told(pair: WorkspaceDir) -> None:
    toxic = {"name": "admin-and-github-admin", "a": {"system": "app", "entitlement": "app:github:admin"},
             "b": {"system": "app", "entitlement": "role:admin:assigned"}}
    pair.policy = {"toxic": [toxic]}
    pair.write()
    plan = pair.plan()
    assert plan["actions"] == []
    # the VP of Engineering holds both directly; the SRE lead is an admin and gets GitHub admin through the SRE team
    assert sorted(f["subject"] for f in plan["findings"] if f["kind"] == "violation") == \
        ["dennis.turing", "grace.easley"]
    pair.policy = {"toxic": [{**toxic, "drop": "b"}]}
    pair.write()
    assert [(a["kind"], a["target"]) for a in pair.plan()["actions"]] == \
        [("revoke", "role:admin:assigned:user:dennis.turing"), ("revoke", "role:admin:assigned:user:grace.easley")]


def test_toxic_combinations_across_systems(pair: WorkspaceDir) -> None:
    pair.policy = {"toxic": [{"name": "hr-admin-and-aws", "a": {"system": "hr", "entitlement": "role:admin:assigned"},
                              "b": {"system": "app", "entitlement": "app:aws:admin"}, "drop": "b"}]}
    pair.write()
    plan = pair.plan()
    # the SRE lead is an admin in HR and holds AWS admin in the app through the SRE team
    assert "dennis.turing" in {f["subject"] for f in plan["findings"] if f["kind"] == "violation"}
    assert ("revoke", "group:sre:member:user:dennis.turing") in {(a["kind"], a["target"]) for a in plan["actions"]}


def test_exclusive_access_by_explicit_list(pair: WorkspaceDir) -> None:
    pair.policy = {"exclusive": [{"name": "gh-admin", "system": "app", "entitlement": "app:github:admin",
                                  "identities": ["grace.easley", "Barbara.Clarke@acme.example"],
                                  "accounts": ["user:svc-deploy-bot"]}]}
    pair.write()
    assert {a["principal"] for a in pair.plan()["actions"]} == {"user:dennis.turing", "user:ken.corbato"}


def test_read_only_systems_are_planned_for_but_never_written(pair: WorkspaceDir) -> None:
    pair.workspace["systems"]["hr"]["read_only"] = True
    pair.policy = {"birthright": [{"name": "hr-auditors", "when": 'department == "finance"', "system": "hr",
                                   "entitlement": "role:billing-admin:assigned"}]}
    pair.write()
    plan = pair.plan()
    assert plan["actions"] == []
    assert {f["kind"] for f in plan["findings"]} == {"read-only"}


def test_a_failed_action_is_reported_kept_and_retried_on_the_next_run(pair: WorkspaceDir) -> None:
    figma_entitlement(pair)
    pair.policy["birthright"].append({"name": "eng-figma", "when": 'department == "engineering"',
                                      "system": "app", "entitlement": "app:figma:viewer"})
    pair.write()
    new_hire(pair, "new.hire", "engineering")
    pair.ok("workspace", "sync")
    with sqlite3.connect(pair.root / "app-db" / "acme.sqlite") as conn:  # the app loses Figma after the sync
        conn.execute("delete from entitlements where resource_id = 'figma'")
    result = pair.run("apply", "-p")
    assert result.code == 1
    assert "grant app app:figma:viewer to user:alan.milner: failed (no entitlement 'app:figma:viewer'" in result.out
    assert "create-account app new.hire: done" in result.out  # the rest went ahead and stays: no rollback
    assert holds(pair.root / "app-db", "app", "github", "read", "user:new.hire")
    failures = [line for line in audit(pair.data_dir / "reconcile.audit.jsonl") if line["result"] == "failed"]
    assert failures and all("no entitlement" in line["error"] for line in failures)
    with sqlite3.connect(pair.root / "app-db" / "acme.sqlite") as conn:
        conn.execute("insert into entitlements (resource_type, resource_id, slug, display_name, purpose) "
                     "values ('app', 'figma', 'viewer', 'Viewer', 'permission')")
    line = pair.reconcile()  # the 16 failed grants, and the new hire's (who has an account now)
    assert f"drift {len(failures) + 1}, fixed {len(failures) + 1}, failed 0" in line and "remaining 0" in line
    assert holds(pair.root / "app-db", "app", "figma", "viewer", "user:new.hire")


def test_new_accounts_get_a_password_only_encrypted_to_the_operator(pair: WorkspaceDir) -> None:
    pyrage = pytest.importorskip("pyrage")
    identity = pyrage.x25519.Identity.generate()
    pair.workspace["credentials"] = {"recipient": str(identity.to_public())}
    pair.write()
    new_hire(pair, "new.hire", "engineering")
    out = pair.reconcile()
    assert "fixed 2" in out
    [sealed] = list((pair.data_dir / "credentials").glob("app-new.hire-*.age"))
    assert sealed.stat().st_mode & 0o777 == 0o600
    doc = json.loads(pyrage.decrypt(sealed.read_bytes(), [identity]))
    password = doc["credentials"][0]["value"]
    store = DemoStore.open(pair.root / "app-db")
    try:
        assert store.check_password("new.hire", password)
    finally:
        store.close()
    for path in pair.data_dir.rglob("*"):
        if path.is_file() and path.suffix != ".age":
            assert password.encode() not in path.read_bytes(), path


def test_conflicting_rules_are_reported_and_neither_acts(pair: WorkspaceDir) -> None:
    pair.policy = {"birthright": [{"name": "all-aws", "when": "true", "system": "app",
                                   "entitlement": "app:aws:admin"}],
                   "exclusive": [{"name": "aws-admins", "system": "app", "entitlement": "app:aws:admin",
                                  "allow": 'department == "engineering"'}]}
    pair.write()
    plan = pair.plan()
    conflicts = [f for f in plan["findings"] if f["kind"] == "conflict"]
    assert conflicts and all(set(f["rules"]) == {"birthright/all-aws", "exclusive/aws-admins"} for f in conflicts)
    assert {a["kind"] for a in plan["actions"]} == {"grant"}  # only to engineers, whom both rules agree on
    people = {a["principal"] for a in plan["actions"]}
    assert "user:ada.lovelace" not in people  # the CEO: wanted by one rule, forbidden by the other


def test_a_condition_that_cannot_be_evaluated_never_revokes(pair: WorkspaceDir) -> None:
    pair.policy = {"exclusive": [{"name": "x", "system": "app", "entitlement": "app:github:admin",
                                  "allow": 'team.startsWith("s")'}]}
    pair.write()
    plan = pair.plan()
    assert plan["actions"] == []  # the SRE team is allowed; the VP of Engineering has no team: not evaluable
    problem = next(f for f in plan["findings"] if f["kind"] == "condition-error")
    assert problem["subject"] == "grace.easley" and "team: not set for this person" in problem["message"]


def test_a_saved_plan_is_applied_as_is_and_refused_once_stale(pair: WorkspaceDir) -> None:
    new_hire(pair, "new.hire", "engineering")
    pair.ok("workspace", "sync")
    saved = pair.root / "plan.json"
    pair.ok("plan", "--out", saved)
    assert json.loads(saved.read_text())["basis"].keys() == {"hr", "app"}
    pair.ok("workspace", "sync", "app")
    stale = pair.run("apply", saved, "-p")
    assert stale.code == 1 and "the plan is stale: app (planned from sync" in stale.err
    pair.ok("plan", "--out", saved)
    assert pair.run("apply", saved).code == 1  # provisioning not enabled
    applied = pair.ok("apply", saved, "-p")
    assert "create-account app new.hire: done" in applied.out and "verified: no drift left" in applied.out


def test_plan_exit_code_for_ci(pair: WorkspaceDir) -> None:
    assert pair.run("plan", "--exit-code").code == 0
    new_hire(pair, "new.hire", "engineering")
    pair.ok("workspace", "sync")
    assert pair.run("plan", "--exit-code").code == 2


def test_the_brake_refuses_large_plans_and_nothing_changes(pair: WorkspaceDir) -> None:
    pair.workspace["brake"] = {"max_revocations": 2, "max_percent": 50}
    pair.policy = {"leavers": [{"name": "leavers"}]}
    pair.write()
    for login in ("ada.lovelace", "grace.johnson"):
        set_status(pair.root / "hr-db", login, "disabled")
    pair.ok("workspace", "sync")
    before = demo_dump(pair.root / "app-db")
    refused = pair.run("apply", "-p")
    assert refused.code == 3 and "refused by the brake: app:" in refused.err and "nothing was changed" in refused.err
    assert demo_dump(pair.root / "app-db") == before
    held = pair.run("reconcile", "--once", "-p")
    assert held.code == 3 and "fixed 0, failed 0, skipped by brake" in held.out
    assert demo_dump(pair.root / "app-db") == before
    pair.ok("apply", "-p", "--allow-large")
    assert pair.plan()["actions"] == []


def test_the_brake_can_be_set_in_the_policy_and_per_system(pair: WorkspaceDir) -> None:
    pair.policy = {"brake": {"max_revocations": 0, "max_percent": 100},
                   "exclusive": [{"name": "gh-admin", "system": "app", "entitlement": "app:github:admin",
                                  "allow": "false"}]}
    pair.write()
    refused = pair.run("apply", "-p")
    assert refused.code == 3 and "exceed the brake of 0 or 100%" in refused.err
    pair.workspace["systems"]["app"]["brake"] = {"max_revocations": 10, "max_percent": 100}  # the system's wins
    pair.write()
    assert "verified: no drift left" in pair.ok("apply", "-p").out


def test_conditions_can_ask_about_idp_group_membership(pair: WorkspaceDir) -> None:
    figma_entitlement(pair)
    pair.policy = {"birthright": [{"name": "sre-figma", "when": '"sre" in groups', "system": "app",
                                   "entitlement": "app:figma:viewer"}]}
    pair.write()
    pair.ok("workspace", "sync")
    assert {a["principal"] for a in pair.plan()["actions"]} == {
        "user:barbara.clarke", "user:dennis.turing", "user:ken.corbato"}


def test_dry_run_validates_everything_and_changes_nothing(pair: WorkspaceDir) -> None:
    new_hire(pair, "new.hire", "engineering")
    pair.policy["leavers"] = [{"name": "leavers", "account": "delete"}]
    pair.write()
    set_status(pair.root / "hr-db", "ada.lovelace", "disabled")
    pair.ok("workspace", "sync")
    before, c1z = demo_dump(pair.root / "app-db"), (pair.data_dir / "app.c1z").read_bytes()
    out = pair.ok("apply", "--dry-run").out
    assert "create-account app new.hire: planned" in out and "delete app user:ada.lovelace: planned" in out
    assert "nothing was changed" in out
    assert "(dry run)" in pair.reconcile("--dry-run")
    assert demo_dump(pair.root / "app-db") == before
    assert {line["result"] for line in audit(pair.data_dir / "app.c1z.audit.jsonl")} == {"planned"}
    assert (pair.data_dir / "app.c1z").read_bytes() != c1z  # reconcile synced it; apply --dry-run wrote nothing
    assert len(pair.plan()["actions"]) > 2  # still all there


def test_a_connector_command_is_a_system_like_any_other(pair: WorkspaceDir) -> None:
    """An external executable (here the demo, run as a command) is synced, planned for and written to."""
    run_demo = "import sys; from pybaton.connector import run; from pybaton.connectors.demo import DemoConnector; " \
               "run(DemoConnector, sys.argv[1:])"
    pair.workspace["systems"]["ext"] = {"command": [sys.executable, "-c", run_demo], "kind": "pybaton",
                                        "env": {"BATON_DATA_DIR": str(pair.root / "ext-db")}}
    pair.policy["birthright"].append({"name": "ext-github", "when": 'department == "engineering"',
                                      "system": "ext", "entitlement": "app:github:read", "create_account": True})
    pair.write()
    new_hire(pair, "new.hire", "engineering")
    assert "drift 4, fixed 4, failed 0" in pair.reconcile()  # an account and a grant, in app and in ext
    assert holds(pair.root / "ext-db", "app", "github", "read", "user:new.hire")
    assert "drift 0" in pair.reconcile()


# -- the loop ------------------------------------------------------------------------------------------

def test_one_reconcile_per_workspace(pair: WorkspaceDir) -> None:
    ws = load_workspace(pair.path)
    with workspace_lock(ws, "test"):
        busy = pair.run("reconcile", "--once", "-p")
    assert busy.code == 1 and "is busy: test (pid" in busy.err


def test_the_loop_runs_cycles_until_stopped(pair: WorkspaceDir) -> None:
    ws = load_workspace(pair.path)
    lines: list[str] = []
    stop = threading.Event()

    def emit(line: str) -> None:
        lines.append(line)
        if len(lines) == 1:
            new_hire(pair, "late.hire", "engineering")  # drift appears between two cycles
        if len(lines) == 3:
            stop.set()

    code = run_loop(ws, None, ApplyOptions(enabled=True), interval=0.05, emit=emit, stop=stop)
    assert code == 0 and len(lines) == 3
    assert "drift 0" in lines[0] and "drift 2, fixed 2" in lines[1] and "drift 0" in lines[2]


def test_a_system_that_fails_to_sync_does_not_stop_the_others(pair: WorkspaceDir) -> None:
    pair.workspace["systems"]["broken"] = {"command": ["false"]}
    pair.write()
    new_hire(pair, "new.hire", "engineering")
    result = pair.run("reconcile", "--once", "-p")
    assert result.code == 1
    assert "drift 2, fixed 2, failed 0" in result.out and "sync failed: broken" in result.out
    assert holds(pair.root / "app-db", "app", "github", "read", "user:new.hire")


def test_an_idp_that_fails_to_sync_stops_every_write(pair: WorkspaceDir) -> None:
    set_status(pair.root / "hr-db", "ada.lovelace", "disabled")
    pair.policy = {"leavers": [{"name": "leavers", "account": "delete"}]}
    pair.workspace["systems"]["hr"]["config"]["data_dir"] = "/proc/no-such-dir/hr"
    pair.write()
    before = demo_dump(pair.root / "app-db")
    out = pair.run("reconcile", "--once", "-p").out
    assert "drift 0" in out and "sync failed: hr" in out
    assert demo_dump(pair.root / "app-db") == before


def test_killing_apply_midway_then_reconciling_converges(tmp_path: Path, cli: Cli) -> None:
    """``kill -9`` of ``pybaton apply`` mid-plan: the next reconcile does the rest, nothing twice, nothing lost."""
    everyone = {"birthright": [{"name": f"all-{slug}", "when": "true", "system": "app",
                                "entitlement": f"app:figma:{slug}"} for slug in ("viewer", "editor")]}
    ws = demo_pair(tmp_path, everyone, cli, brake={"max_revocations": 10, "max_percent": 5})
    ws.ok("workspace", "sync")
    figma_entitlement(ws)
    with sqlite3.connect(ws.root / "app-db" / "acme.sqlite") as conn:
        conn.execute("insert into entitlements (resource_type, resource_id, slug, display_name, purpose) "
                     "values ('app', 'figma', 'editor', 'Editor', 'permission')")
    ws.ok("workspace", "sync")
    planned = [a["id"] for a in ws.plan()["actions"]]
    assert len(planned) == 98  # 49 enabled people (one has left, the bot is no person) x 2
    journal = ws.data_dir / "app.c1z.audit.jsonl"
    proc = ws.subprocess("apply", "-p")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(audit(journal)) < 5 and proc.poll() is None:
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = [line["target"] for line in audit(journal) if line["result"] == "granted"]
    assert 0 < len(done_before) < 98, "apply was not killed midway"
    assert "verified" not in proc.stdout.read()  # type: ignore[union-attr]
    assert "drift" in ws.reconcile()
    grants = [json.dumps(line["target"], sort_keys=True) for line in audit(journal) if line["result"] == "granted"]
    assert len(grants) == len(set(grants)) == 98  # every grant made exactly once across both runs
    rows = demo_rows(ws.root / "app-db", "select slug, count(*) from access where resource_id = 'figma' "
                                         "group by slug")
    assert dict(rows) == {"viewer": 49, "editor": 49}
    assert "drift 0" in ws.reconcile()
