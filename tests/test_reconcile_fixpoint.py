"""Planning to a fixed point: one cycle converges, and the plan never takes away what a rule guarantees.

The scenario is issue 17's: ``hr`` (the demo company, read-only) is the
identity provider, ``acme`` (a second demo company) the app; everyone must
hold GitHub read, nobody AWS admin. The SRE team holds AWS admin through
``group:sre`` and GitHub read through the same membership (SRE is nested in
platform, platform in engineering, and engineering holds GitHub read). Taking
the three SREs out of ``group:sre`` must not leave them without GitHub read at
any moment: the system is checked after every single action, not only at the end.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from provision_helpers import Cli
from reconcile_support import WorkspaceDir, demo_rows

from pybaton.reconcile import ApplyOptions, load_workspace, run_loop
from pybaton.reconcile.execute import Result

SRE = ("user:barbara.clarke", "user:dennis.turing", "user:ken.corbato")

ISSUE_POLICY: dict[str, Any] = {
    "birthright": [{"name": "everyone-github-read", "when": "true", "system": "acme",
                    "entitlement": "app:github:read"}],
    "exclusive": [{"name": "aws-admin-nobody", "system": "acme", "entitlement": "app:aws:admin", "allow": "false"}],
}

# Who holds an entitlement in the demo app right now, directly or through (nested) groups: read from the app's
# own database, independently of any sync or of the expansion code under test.
_EFFECTIVE = """
with recursive member_of(user_id, grp) as (
    select principal_id, resource_id from access
     where resource_type = 'group' and slug = 'member' and principal_type = 'user'
    union
    select m.user_id, a.resource_id from access a join member_of m
        on a.principal_type = 'group' and a.principal_id = m.grp and a.resource_type = 'group' and a.slug = 'member'
)
select principal_id from access where resource_type = ?1 and resource_id = ?2 and slug = ?3 and principal_type = 'user'
union
select m.user_id from access a join member_of m on a.principal_type = 'group' and a.principal_id = m.grp
 where a.resource_type = ?1 and a.resource_id = ?2 and a.slug = ?3
"""


def effective_holders(db: Path, entitlement: str) -> set[str]:
    rtype, rid, slug = entitlement.split(":")
    return {f"user:{row[0]}" for row in demo_rows(db, _EFFECTIVE, (rtype, rid, slug))}


def two_companies(root: Path, policy: dict[str, Any], cli: Cli | None = None) -> WorkspaceDir:
    """The issue's workspace: ``hr`` as the read-only identity provider, ``acme`` as the app."""
    return WorkspaceDir(root, {
        "data_dir": "data",
        "identity": {"rules": ["email", "login"], "service_accounts": {"patterns": ["^svc-"]}},
        "brake": {"max_revocations": 50, "max_percent": 50},
        "systems": {
            "hr": {"connector": "demo", "identity_provider": True, "read_only": True,
                   "config": {"data_dir": "hr-db"}},
            "acme": {"connector": "demo", "config": {"data_dir": "acme-db"}},
        },
    }, policy, cli)


@pytest.fixture
def issue_ws(tmp_path: Path, cli: Cli) -> WorkspaceDir:
    ws = two_companies(tmp_path, ISSUE_POLICY, cli)
    ws.ok("workspace", "sync")
    return ws


def test_the_plan_grants_directly_what_its_own_revocations_would_take_away(issue_ws: WorkspaceDir) -> None:
    plan = issue_ws.plan()
    kinds = [a["kind"] for a in plan["actions"]]
    assert kinds == sorted(kinds, key=["create-account", "grant", "revoke", "disable", "delete"].index)
    revokes = {a["target"] for a in plan["actions"] if a["kind"] == "revoke"}
    assert revokes == {f"group:sre:member:{who}" for who in SRE}
    grants = {a["principal"]: a for a in plan["actions"] if a["kind"] == "grant"}
    assert all(a["target"] == "app:github:read" for a in grants.values())
    for who in SRE:  # held through SRE today; granted directly because the plan removes them from SRE
        assert who in grants
    ken = grants["user:ken.corbato"]
    assert ken["rules"] == ["birthright/everyone-github-read"]
    assert ("user:ken.corbato loses app:github:read (inherited through group:sre:member) when removed from "
            "group:sre by exclusive/aws-admin-nobody") in ken["evidence"]
    assert not [f for f in plan["findings"] if f["kind"] == "conflict"]


def test_one_cycle_converges_and_nobody_is_ever_without_the_birthright(issue_ws: WorkspaceDir) -> None:
    db = issue_ws.root / "acme-db"
    before = effective_holders(db, "app:github:read")
    assert set(SRE) <= before
    checked: list[str] = []

    def after_each_action(result: Result) -> None:
        """The app's own database, after every write: nobody who held GitHub read has lost it."""
        holders = effective_holders(db, "app:github:read")
        assert before <= holders, f"after {result.action.id} ({result.status}): {sorted(before - holders)} lost it"
        checked.append(result.action.id)

    lines: list[str] = []
    code = run_loop(load_workspace(issue_ws.path), None, ApplyOptions(enabled=True), interval=None,
                    emit=lines.append, report=after_each_action)
    assert code == 0, lines
    drift = int(lines[-1].split("drift ")[1].split(",")[0])
    assert drift == len(checked) > 0
    assert f"fixed {drift}, failed 0, skipped by brake 0, remaining 0" in lines[-1]
    assert effective_holders(db, "app:aws:admin") == set()
    people = {f"user:{row[0]}" for row in demo_rows(db, "select id from users where status = 'enabled' "
                                                        "and id not like 'svc-%' and id != 'deploy-bot'")}
    assert people <= effective_holders(db, "app:github:read")
    assert "drift 0, fixed 0" in issue_ws.reconcile()  # a second cycle right after has nothing to do
