"""The reconcile loop end to end: OpenLDAP as identity provider, PostgreSQL and the demo company as apps.

Everything is checked on the servers themselves (``pg_roles``/``pg_auth_members``,
``ldapsearch``, the demo's database), never only in the ``.c1z``. The servers
are shared with the other tests of the session, so each test works in its own
LDAP subtree and with role names carrying its own suffix; the other tests'
roles are merely orphan accounts to this workspace (reported, never touched).
"""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from provision_helpers import Cli
from reconcile_support import WorkspaceDir, audit, demo_dump, demo_rows, holds

from pybaton.testing.servers import PostgresServer, SlapdServer

pytestmark = [pytest.mark.servers, pytest.mark.xdist_group("reconcile-servers")]

BASE = "dc=example,dc=org"


class Company:
    """One test's world: a subtree of people in LDAP, roles in PostgreSQL, a demo database, a workspace."""

    def __init__(self, root: Path, cli: Cli, slapd: SlapdServer, pg: PostgresServer,
                 monkeypatch: pytest.MonkeyPatch) -> None:
        self.sfx = uuid.uuid4().hex[:6]
        self.slapd, self.pg = slapd, pg
        self.tree = f"ou=rec{self.sfx},{BASE}"
        self.eng = f"rec_eng_{self.sfx}"
        monkeypatch.setenv("REC_LDAP_PASSWORD", slapd.bind_password)
        monkeypatch.setenv("REC_PG_DSN", pg.dsn())
        slapd.ldapadd(f"dn: {self.tree}\nobjectClass: organizationalUnit\nou: rec{self.sfx}\n\n"
                      f"dn: ou=people,{self.tree}\nobjectClass: organizationalUnit\nou: people\n")
        self.person("ada", "Ada Lovelace", "Ada.Lovelace@example.org", "Engineering")
        self.person("bob", "Bob Sales", f"bob.{self.sfx}@example.org", "Sales")
        pg.psql(f"CREATE ROLE {self.eng} NOLOGIN; CREATE ROLE {self.login('ada')} LOGIN; "
                f"CREATE ROLE {self.login('bob')} LOGIN; CREATE ROLE {self.login('mallory')} LOGIN; "
                f"CREATE ROLE svc_{self.sfx} LOGIN; GRANT {self.eng} TO svc_{self.sfx};")
        self.ws = WorkspaceDir(root, self.workspace(), self.policy(), cli)

    def login(self, name: str) -> str:
        return f"{name}_{self.sfx}"

    def dn(self, name: str) -> str:
        return f"uid={self.login(name)},ou=people,{self.tree}"

    def person(self, name: str, full: str, mail: str, department: str, status: str = "active") -> None:
        first, _, last = full.partition(" ")
        self.slapd.ldapadd(f"dn: {self.dn(name)}\nobjectClass: inetOrgPerson\nuid: {self.login(name)}\n"
                           f"cn: {full}\ngivenName: {first}\nsn: {last}\nmail: {mail}\n"
                           f"departmentNumber: {department}\nemployeeType: {status}\n")

    def set_status(self, name: str, status: str) -> None:
        self.slapd.ldapmodify(f"dn: {self.dn(name)}\nchangetype: modify\nreplace: employeeType\n"
                              f"employeeType: {status}\n")

    def workspace(self) -> dict[str, Any]:
        return {
            "data_dir": "data",
            "identity": {"rules": ["email", "login"], "domain_aliases": {"example.org": "acme.example"},
                         "service_accounts": {"patterns": ["^svc_"]}},
            "brake": {"max_revocations": 10, "max_percent": 100},
            "systems": {
                "ldap": {"connector": "ldap", "identity_provider": True, "read_only": True,
                         "attributes": {"department": "departmentNumber"},
                         "config": {"url": self.slapd.url, "base_dn": self.tree, "bind_dn": self.slapd.bind_dn,
                                    "password_env": "REC_LDAP_PASSWORD", "disabled_attribute": "employeeType",
                                    "disabled_values": ["disabled", "terminated"]}},
                "pg": {"connector": "postgres", "config": {"dsn_env": "REC_PG_DSN", "databases": ["postgres"]},
                       "protected": ["role:public:*"], "disable": {"revoke": "cluster:cluster:login"}},
                "demo": {"connector": "demo", "config": {"data_dir": "demo-db"}},
            },
        }

    def policy(self) -> dict[str, Any]:
        engineering = 'department == "Engineering"'
        return {
            "birthright": [
                {"name": "eng-db", "when": engineering, "system": "pg", "entitlement": f"role:{self.eng}:member",
                 "create_account": True},
                {"name": "eng-github", "when": engineering, "system": "demo", "entitlement": "app:github:write",
                 "create_account": True},
            ],
            "exclusive": [{"name": "eng-db-only", "system": "pg", "entitlement": f"role:{self.eng}:member",
                           "allow": engineering, "accounts": [f"user:svc_{self.sfx}"]}],
            "leavers": [{"name": "leavers-db", "systems": ["pg"], "account": "disable"},
                        {"name": "leavers-apps", "systems": ["demo"], "account": "keep"}],
            "orphans": [{"name": "orphans", "systems": ["pg", "demo"]}],
        }

    # -- what the servers hold ---------------------------------------------------------------------

    def members(self) -> set[str]:
        """Roles that are members of the engineering role, read from pg_auth_members."""
        out = self.pg.psql(f"SELECT u.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid "
                           f"JOIN pg_roles u ON u.oid = m.member WHERE r.rolname = '{self.eng}';")
        return {line.strip() for line in out.splitlines() if line.strip()}

    def memberships(self, name: str) -> int:
        out = self.pg.psql(f"SELECT count(*) FROM pg_auth_members m JOIN pg_roles u ON u.oid = m.member "
                           f"WHERE u.rolname = '{self.login(name)}';")
        return int(out.strip())

    def can_login(self, name: str) -> bool | None:
        out = self.pg.psql(f"SELECT rolcanlogin FROM pg_roles WHERE rolname = '{self.login(name)}';").strip()
        return None if not out else out == "t"

    def demo_access(self, principal: str) -> int:
        return len(demo_rows(self.ws.root / "demo-db", "select 1 from access where principal_type = 'user' and "
                                                        "principal_id = ?", (principal,)))

    def pg_state(self) -> str:
        return self.pg.psql("SELECT rolname, rolcanlogin FROM pg_roles ORDER BY 1; SELECT roleid, member "
                            "FROM pg_auth_members ORDER BY 1, 2;")

    def cleanup(self) -> None:
        """Drop this test's roles (every name carries the suffix), so the cluster stays small."""
        names = self.pg.psql(f"SELECT rolname FROM pg_roles WHERE rolname LIKE '%{self.sfx}';").split()
        if names:
            self.pg.psql(f"DROP ROLE {', '.join(names)};")


@pytest.fixture
def company(tmp_path: Path, cli: Cli, slapd_server: SlapdServer, postgres_server: PostgresServer,
            monkeypatch: pytest.MonkeyPatch) -> Any:
    world = Company(tmp_path, cli, slapd_server, postgres_server, monkeypatch)
    yield world
    world.cleanup()


def drift(line: str) -> str:
    """``drift 2, fixed 2, failed 0, …`` from a summary line."""
    return line.split(": ", 1)[1]


def test_the_idp_drives_access_in_postgres_and_the_demo(company: Company) -> None:
    ws, c = company.ws, company
    ada, bob, carol, mallory = (c.login(n) for n in ("ada", "bob", "carol", "mallory"))

    # 1. first run: Ada (Engineering) gets the engineering role and GitHub write; Bob (Sales) nothing
    assert drift(ws.reconcile()).startswith("drift 2, fixed 2, failed 0, skipped by brake 0, remaining 0")
    assert c.members() == {ada, f"svc_{c.sfx}"}  # the service account is allowed by name, never a person
    assert holds(ws.root / "demo-db", "app", "github", "write", "user:ada.lovelace")
    people = json.loads(ws.ok("identities", "-o", "json").out)
    ada_links = next(i for i in people["identities"] if i["name"] == ada)["accounts"]
    assert {(a["system"], a["account"], a["rule"]) for a in ada_links} == {
        ("ldap", f"user:{c.dn('ada')}", "source"), ("pg", f"user:{ada}", "login"),
        ("demo", "user:ada.lovelace", "email")}
    assert {"account": f"user:{mallory}", "system": "pg"}.items() <= next(
        o for o in people["orphans"] if o["account"] == f"user:{mallory}").items()
    assert f"user:svc_{c.sfx}" in {s["account"] for s in people["service"]}

    # 2. right after, nothing to do
    assert drift(ws.reconcile()).startswith("drift 0, fixed 0")

    # 3. a new hire in Engineering gets a login role, the engineering role, and a demo account with GitHub write
    c.person("carol", "Carol Shaw", f"carol.{c.sfx}@example.org", "Engineering")
    assert drift(ws.reconcile()).startswith("drift 4, fixed 4, failed 0")
    assert c.can_login("carol") is True and carol in c.members()
    assert holds(ws.root / "demo-db", "app", "github", "write", f"user:{carol}")
    assert drift(ws.reconcile()).startswith("drift 0, fixed 0")

    # 4. GRANTs made by hand to someone not allowed (Sales; an account of nobody) are revoked
    c.pg.psql(f"GRANT {c.eng} TO {bob}; GRANT {c.eng} TO {mallory};")
    ws.ok("workspace", "sync", "pg")
    plan = ws.plan()
    revokes = {a["target"]: a for a in plan["actions"] if a["kind"] == "revoke"}
    assert set(revokes) == {f"role:{c.eng}:member:user:{bob}", f"role:{c.eng}:member:user:{mallory}"}
    assert 'department == "Engineering" (department="Sales")' in " ".join(
        revokes[f"role:{c.eng}:member:user:{bob}"]["evidence"])
    assert drift(ws.reconcile()).startswith("drift 2, fixed 2, failed 0")
    assert c.members() == {ada, carol, f"svc_{c.sfx}"}
    assert drift(ws.reconcile()).startswith("drift 0, fixed 0")

    # 5. disabling Ada in LDAP takes her access away everywhere, and disables her database login
    demo_grants = c.demo_access("ada.lovelace")
    assert demo_grants > 1
    c.set_status("ada", "disabled")
    line = ws.reconcile()
    assert drift(line).startswith(f"drift {demo_grants + 2}, fixed {demo_grants + 2}, failed 0")
    assert c.memberships("ada") == 0 and c.can_login("ada") is False
    assert c.demo_access("ada.lovelace") == 0
    assert drift(ws.reconcile()).startswith("drift 0, fixed 0")
    pg_audit = audit(ws.data_dir / "pg.c1z.audit.jsonl")
    assert {line["result"] for line in pg_audit} <= {"granted", "revoked", "created"}
    assert not [line for line in pg_audit if line["result"] not in ("granted", "revoked", "created")]


def test_the_brake_refuses_a_large_plan_and_nothing_changes(company: Company) -> None:
    ws, c = company.ws, company
    ws.ok("workspace", "sync")
    ws.reconcile()  # the first run's birthrights
    c.pg.psql(f"GRANT {c.eng} TO {c.login('bob')}; GRANT {c.eng} TO {c.login('mallory')};")
    ws.workspace["systems"]["pg"]["brake"] = {"max_revocations": 1, "max_percent": 100}
    ws.write()
    ws.ok("workspace", "sync")
    before = c.pg_state()
    refused = ws.run("apply", "-p")
    assert refused.code == 3
    assert "refused by the brake: pg: 2 removals" in refused.err and "nothing was changed" in refused.err
    assert c.pg_state() == before
    held = ws.run("reconcile", "--once", "-p")
    assert held.code == 3 and "skipped by brake 2" in held.out
    assert c.pg_state() == before and {c.login("bob"), c.login("mallory")} <= c.members()
    allowed = ws.ok("apply", "-p", "--allow-large")
    assert "verified: no drift left" in allowed.out
    assert c.members() == {c.login("ada"), f"svc_{c.sfx}"}


def test_dry_run_changes_nothing_on_the_servers(company: Company) -> None:
    ws, c = company.ws, company
    c.person("carol", "Carol Shaw", f"carol.{c.sfx}@example.org", "Engineering")
    c.pg.psql(f"GRANT {c.eng} TO {c.login('bob')};")
    ws.ok("workspace", "sync")
    before_pg, before_demo = c.pg_state(), demo_dump(ws.root / "demo-db")
    before_ldap = c.slapd.ldapsearch("(objectClass=*)", base=c.tree)
    out = ws.ok("apply", "--dry-run").out
    assert f"create-account pg {c.login('carol')}: planned" in out
    assert f"revoke pg role:{c.eng}:member:user:{c.login('bob')}: planned" in out
    assert "(dry run)" in ws.reconcile("--dry-run")
    assert c.pg_state() == before_pg and demo_dump(ws.root / "demo-db") == before_demo
    assert c.slapd.ldapsearch("(objectClass=*)", base=c.tree) == before_ldap
    assert c.can_login("carol") is None and c.login("bob") in c.members()
    assert {line["result"] for line in audit(ws.data_dir / "pg.c1z.audit.jsonl")} == {"planned"}


def test_killing_apply_midway_then_reconciling_converges_on_the_servers(company: Company) -> None:
    """``kill -9`` of ``pybaton apply`` while it writes to PostgreSQL: the next reconcile finishes the job."""
    ws, c = company.ws, company
    hires = [f"hire{i}" for i in range(12)]
    for name in hires:
        c.person(name, f"{name.title()} Person", f"{name}.{c.sfx}@example.org", "Engineering")
    ws.ok("workspace", "sync")
    assert len(ws.plan()["actions"]) == 50  # 12 hires x (account + role) x (pg, demo), and Ada's two
    pg_audit = ws.data_dir / "pg.c1z.audit.jsonl"
    proc = ws.subprocess("apply", "-p")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(audit(pg_audit)) < 3 and proc.poll() is None:
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    created_before = [line for line in audit(pg_audit) if line["result"] == "created"]
    assert 0 < len(created_before) < 12, "apply was not killed midway"
    assert drift(ws.reconcile()).split(",")[2] == " failed 0"
    for name in hires:
        assert c.can_login(name) is True and c.login(name) in c.members()
        assert holds(ws.root / "demo-db", "app", "github", "write", f"user:{c.login(name)}")
    for path in (pg_audit, ws.data_dir / "demo.c1z.audit.jsonl"):
        writes = [json.dumps([line["operation"], line["target"]], sort_keys=True) for line in audit(path)
                  if line["result"] in ("created", "granted")]
        assert len(writes) == len(set(writes)), f"a write was made twice: {path.name}"
    assert drift(ws.reconcile()).startswith("drift 0, fixed 0")


def _without_time(plan: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in plan.items() if k != "created_at"}


def test_the_plan_from_the_warehouse_equals_the_plan_from_the_files(company: Company, postgres_server: PostgresServer,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    ws, c = company.ws, company
    c.pg.psql(f"GRANT {c.eng} TO {c.login('bob')}; GRANT {c.eng} TO {c.login('mallory')};")
    c.set_status("ada", "disabled")  # a leaver: revocations everywhere, a disabled login
    ws.ok("workspace", "sync")
    from_files = ws.plan()
    people = json.loads(ws.ok("identities", "-o", "json").out)
    assert {a["kind"] for a in from_files["actions"]} >= {"revoke", "disable"}
    warehouse_db = f"rec_wh_{c.sfx}"
    postgres_server.create_database(warehouse_db)
    monkeypatch.setenv("REC_WAREHOUSE_URL", postgres_server.dsn(warehouse_db))
    for setting in ({}, {"url_env": "REC_WAREHOUSE_URL"}):  # the embedded SQLite default, then PostgreSQL
        ws.workspace["warehouse"] = setting
        ws.write()
        loaded = ws.pybaton("warehouse", "load", "-w", ws.path)
        assert loaded.code == 0, loaded.err
        assert _without_time(ws.plan()) == _without_time(from_files)
        assert json.loads(ws.ok("identities", "-o", "json").out) == people
        kinds = ws.pybaton("warehouse", "sql", "select kind from findings", "-o", "json", "-w", ws.path).out
        assert sorted(r["kind"] for r in json.loads(kinds)["rows"]) == sorted(f["kind"] for f in from_files["findings"])
