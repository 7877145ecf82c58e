"""``pybaton reconcile --watch``: a change in the identity provider is fixed in the apps within seconds,
for the person it concerns only (drift from before the watch is left to ``reconcile``)."""

from __future__ import annotations

import json
import signal
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from provision_helpers import Cli
from reconcile_support import WorkspaceDir, audit, demo_pair, demo_rows
from test_reconcile_servers import Company

from pybaton.c1z import C1ZFile
from pybaton.reconcile.plan import Action, Kind, Plan
from pybaton.reconcile.watch import only_touched
from pybaton.testing.servers import PostgresServer
from pybaton.testing.servers.slapd_syncprov import SyncprovSlapdServer


def set_status(db: Path, login: str, status: str) -> None:
    conn = sqlite3.connect(db / "acme.sqlite")
    with conn:
        conn.execute("update users set status = ? where id = ?", (status, login))
    conn.close()


def app_grants(ws: WorkspaceDir, login: str) -> list[tuple[str, ...]]:
    return demo_rows(ws.root / "app-db", "select resource_type, resource_id, slug from access where principal_type = "
                                         "'user' and principal_id = ?", (login,))


@pytest.fixture
def watched(tmp_path: Path, cli: Cli) -> WorkspaceDir:
    ws = demo_pair(tmp_path, {"leavers": [{"name": "leavers"}]}, cli)
    ws.ok("workspace", "sync")
    ws.reconcile()
    return ws


def test_a_leaver_loses_access_within_seconds_and_nobody_else_is_touched(watched: WorkspaceDir) -> None:
    other = demo_rows(watched.root / "app-db", "select principal_id from access where principal_type = 'user' and "
                                               "principal_id != 'ada.lovelace' order by principal_id limit 1")[0][0]
    assert app_grants(watched, "ada.lovelace") and app_grants(watched, other)
    set_status(watched.root / "hr-db", other, "disabled")  # drift from before the watch, synced, not applied
    watched.ok("workspace", "sync")
    proc = watched.subprocess("reconcile", "--watch", "--poll", "0.2", "--interval", "1h", "-p")
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith("watching hr, app; every system every 3600s")
        changed = time.monotonic()
        set_status(watched.root / "hr-db", "ada.lovelace", "disabled")
        while app_grants(watched, "ada.lovelace") and time.monotonic() - changed < 60:
            time.sleep(0.1)
        took = time.monotonic() - changed
        line = proc.stdout.readline()
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=60)
    assert app_grants(watched, "ada.lovelace") == [], err
    assert took < 30
    assert " reconcile: drift " in line and "failed 0" in line, line + err
    assert app_grants(watched, other)  # not concerned by what changed
    written = [str(line) for line in audit(watched.data_dir / "app.c1z.audit.jsonl")]
    assert any("ada.lovelace" in line for line in written)  # audited as every apply is
    assert not any(other in line for line in written)
    assert proc.returncode == 0, err


def test_only_touched_keeps_actions_about_changed_accounts_and_their_identities() -> None:
    actions = [Action(kind=Kind.REVOKE, system="app", target="group:eng:member:user:ada", identity="hr/user:ada"),
               Action(kind=Kind.REVOKE, system="app", target="group:eng:member:user:bob", identity="hr/user:bob"),
               Action(kind=Kind.GRANT, system="app", target="app:x:read", principal="user:cy", identity="hr/user:cy"),
               Action(kind=Kind.DELETE, system="app", target="user:dan")]
    plan = Plan(workspace="w", created_at="now", basis={}, actions=actions)
    kept = only_touched(plan, {"hr/user:ada", "app/user:cy", "app/user:dan"})
    assert [a.target for a in kept.actions] == ["group:eng:member:user:ada", "app:x:read", "user:dan"]


def run_types(path: Path) -> list[str]:
    with C1ZFile.open(path) as c1z:
        return [r.sync_type for r in c1z.sync_runs()]


def test_workspace_system_marked_incremental_syncs_incrementally(tmp_path: Path, cli: Cli) -> None:
    ws = demo_pair(tmp_path, {"leavers": [{"name": "leavers"}]}, cli)
    ws.workspace["systems"]["hr"]["incremental"] = True
    ws.write()
    ws.ok("workspace", "sync")
    set_status(ws.root / "hr-db", "ada.lovelace", "disabled")
    ws.ok("workspace", "sync")
    assert run_types(ws.data_dir / "hr.c1z") == ["full", "partial_upserts", "partial_deletions"]
    assert run_types(ws.data_dir / "app.c1z") == ["full", "full"]
    leavers = [a for a in ws.plan()["actions"] if "ada.lovelace" in a["target"]]
    assert leavers and {a["kind"] for a in leavers} == {"revoke"}


@pytest.fixture(scope="module")
def syncprov_server() -> Iterator[SyncprovSlapdServer]:
    with SyncprovSlapdServer() as server:
        yield server


@pytest.mark.servers
@pytest.mark.xdist_group("reconcile-servers")
def test_a_person_disabled_in_ldap_loses_postgres_access_through_the_watch(
        tmp_path: Path, cli: Cli, syncprov_server: SyncprovSlapdServer, postgres_server: PostgresServer,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """LDAP (syncprov: the sync cookie) as identity provider, PostgreSQL as the app: the watch's sweep syncs
    LDAP incrementally, sees Ada disabled, and revokes her role membership and login in PostgreSQL."""
    c = Company(tmp_path, cli, syncprov_server, postgres_server, monkeypatch)
    try:
        c.ws.workspace["systems"]["ldap"]["incremental"] = True
        c.ws.write()
        c.ws.reconcile()
        assert c.login("ada") in c.members() and c.can_login("ada") is True
        proc = c.ws.subprocess("reconcile", "--watch", "-p", "--poll", "0.2", "--interval", "1s")
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline().startswith("watching demo; every system every 1s")
            c.set_status("ada", "disabled")
            changed = time.monotonic()
            while (c.memberships("ada") or c.can_login("ada")) and time.monotonic() - changed < 120:
                time.sleep(0.2)
        finally:
            proc.send_signal(signal.SIGTERM)
            _out, err = proc.communicate(timeout=60)
        assert c.memberships("ada") == 0 and c.can_login("ada") is False, err
        assert c.login("bob") not in c.members() and c.can_login("bob") is True  # Bob (Sales) untouched
        ldap_runs = run_types(c.ws.data_dir / "ldap.c1z")
        assert ldap_runs[-3:] == ["full", "partial_upserts", "partial_deletions"], ldap_runs
        assert any(line.get("result") == "revoked" and c.login("ada") in json.dumps(line)
                   for line in audit(c.ws.data_dir / "pg.c1z.audit.jsonl"))
        assert proc.returncode == 0, err
    finally:
        c.cleanup()
