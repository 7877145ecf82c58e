"""One reconcile cycle converges, whatever the nesting and the rules: a property test on the demo connector.

Each example rewires the app's groups at random — which group is nested in
which (cycles included), which group holds which app permission — and draws
birthright and exclusive rules over those permissions and memberships. Then
one real cycle runs (sync, plan, apply, re-sync) and:

- after it, a new plan has no actions: everything is fixed, and what the rules
  disagree about is reported as a conflict, not acted on;
- the state the planner imagined its plan leads to (expansion re-applied) is
  exactly what the sync after the apply shows, sources included;
- at every step of the apply (the app's database read after each action,
  independently of the expansion code), nobody a birthright covers — and
  whom no reported conflict names — is without what it guarantees once they
  have it; at the end they all hold it.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from reconcile_support import WorkspaceDir, demo_rows
from test_reconcile_fixpoint import access_of, effective_holders, two_companies

from pybaton.reconcile import (
    ApplyOptions,
    load_policy,
    load_workspace,
    open_state,
    plan_now,
    run_loop,
    sync_systems,
)
from pybaton.reconcile.execute import Result
from pybaton.reconcile.planner import make_plan
from pybaton.reconcile.simulate import simulate

GROUPS = ("engineering", "platform", "sre", "backend", "security", "sales", "on-call", "leadership")
PERMISSIONS = ("app:github:read", "app:github:admin", "app:aws:admin", "app:aws:viewer", "app:jira:browse")
MEMBERSHIPS = tuple(f"group:{g}:member" for g in GROUPS)
CONDITIONS: dict[str, Callable[[str], bool]] = {
    "true": lambda department: True,
    "false": lambda department: False,
    'department == "engineering"': lambda department: department == "engineering",
    'department == "sales"': lambda department: department == "sales",
}


@dataclass(frozen=True)
class Scenario:
    nesting: frozenset[tuple[str, str]]  # (child group, parent group)
    group_grants: frozenset[tuple[str, str]]  # (group, permission)
    birthright: tuple[tuple[str, str], ...]  # (entitlement, condition)
    exclusive: tuple[tuple[str, str], ...]  # (entitlement, allow)

    def policy(self) -> dict[str, Any]:
        return {
            "birthright": [{"name": f"b{i}", "when": when, "system": "acme", "entitlement": ent}
                           for i, (ent, when) in enumerate(self.birthright)],
            "exclusive": [{"name": f"e{i}", "system": "acme", "entitlement": ent, "allow": allow}
                          for i, (ent, allow) in enumerate(self.exclusive)],
        }


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    """Random nesting and group permissions; rules drawn mostly over what those groups pass on, so that
    removals often take away inherited access and rules often meet through nesting."""
    pairs = st.tuples(st.sampled_from(GROUPS), st.sampled_from(GROUPS)).filter(lambda p: p[0] != p[1])
    nesting = frozenset(draw(st.sets(pairs, max_size=7)))
    group_grants = frozenset(draw(st.sets(st.tuples(st.sampled_from(GROUPS), st.sampled_from(PERMISSIONS)),
                                          min_size=1, max_size=8)))
    passed_on = sorted({perm for _, perm in group_grants})
    involved = sorted({f"group:{g}:member" for g, _ in group_grants} | {f"group:{g}:member" for pair in nesting
                                                                       for g in pair})
    anything = st.sampled_from(PERMISSIONS + MEMBERSHIPS)
    conditions = st.sampled_from(sorted(CONDITIONS))
    gives = st.sampled_from(["true", 'department == "engineering"']) | conditions  # mostly someone
    allows = st.sampled_from(["false", 'department == "sales"']) | conditions  # mostly forbids someone
    birthright = draw(st.lists(st.tuples(st.sampled_from(passed_on) | anything, gives), min_size=1, max_size=3))
    exclusive = draw(st.lists(st.tuples(st.sampled_from(involved + passed_on) | anything, allows), min_size=1,
                              max_size=2))
    return Scenario(nesting, group_grants, tuple(birthright), tuple(exclusive))


def workspace(root: Path, policy: dict[str, Any]) -> WorkspaceDir:
    ws = two_companies(root, policy)
    ws.workspace["brake"] = {"max_revocations": 10_000, "max_percent": 100}  # the property is about planning
    ws.write()
    return ws


def sync(ws: WorkspaceDir) -> None:
    assert all(s.ok for s in sync_systems(load_workspace(ws.path)))


@pytest.fixture(scope="module")
def seeded_pair(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The two demo companies, seeded and synced once; each example works on a copy."""
    root = tmp_path_factory.mktemp("pair")
    sync(workspace(root, {"birthright": []}))
    return root


def rewire(db: Path, scenario: Scenario) -> None:
    """Replace every group-held grant of the app (its nesting and group permissions) with the scenario's."""
    with sqlite3.connect(db / "acme.sqlite") as conn:
        conn.execute("delete from access where principal_type = 'group'")
        conn.executemany("insert into access (resource_type, resource_id, slug, principal_type, principal_id) "
                         "values ('group', ?, 'member', 'group', ?)", [(p, c) for c, p in sorted(scenario.nesting)])
        conn.executemany("insert into access (resource_type, resource_id, slug, principal_type, principal_id) "
                         "values (?, ?, ?, 'group', ?)",
                         [(*perm.split(":"), g) for g, perm in sorted(scenario.group_grants)])


def covered(root: Path, scenario: Scenario) -> dict[str, set[str]]:
    """Entitlement → the app accounts a birthright says must hold it (enabled HR people with an app account)."""
    people = demo_rows(root / "hr-db", "select id, department from users where status = 'enabled' "
                                       "and account_type = 'human'")
    accounts = {row[0] for row in demo_rows(root / "acme-db", "select id from users")}
    out: dict[str, set[str]] = {}
    for ent, when in scenario.birthright:
        out.setdefault(ent, set()).update(f"user:{login}" for login, dept in people
                                          if CONDITIONS[when](dept) and login in accounts)
    return out


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(scenario=scenarios())
def test_one_cycle_converges_and_never_takes_a_birthright_away(seeded_pair: Path, scenario: Scenario) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "ws"
        shutil.copytree(seeded_pair, root)
        ws = workspace(root, scenario.policy())
        db = root / "acme-db"
        rewire(db, scenario)
        sync(ws)
        wanted = covered(root, scenario)
        before = {ent: effective_holders(db, ent) for ent in wanted}
        conflicted: set[tuple[str, str]] = set()  # (rule, subject) of every reported conflict
        broken: list[str] = []

        def after_each_action(result: Result) -> None:
            for ent, people in wanted.items():
                now = effective_holders(db, ent)
                gone = {p for p in (people & before[ent]) - now if not _in_conflict(conflicted, scenario, ent, p)}
                if gone:
                    broken.append(f"after {result.action.id}: {sorted(gone)} lost {ent}")

        loaded = load_workspace(ws.path)
        with open_state(loaded) as state:
            first, _ = make_plan(loaded, load_policy(loaded), state)
            entitlements = sorted(e.id for e in state.systems["acme"].reader.entitlements())
            imagined = access_of(simulate(state, first.actions).systems["acme"], entitlements)
        conflicted.update((rule, f.subject) for f in first.findings if f.kind == "conflict" for rule in f.rules)
        event(f"conflicts reported: {bool(conflicted)}")
        event(f"grants for what the plan's own removals take away: "
              f"{any(' loses ' in e for a in first.actions for e in a.evidence)}")
        lines: list[str] = []
        code = run_loop(loaded, None, ApplyOptions(enabled=True), interval=None, emit=lines.append,
                        report=after_each_action)
        assert code == 0, lines
        assert broken == []
        with open_state(loaded) as state:  # the planner's imagined result is exactly what the re-sync shows
            assert access_of(state.systems["acme"], entitlements) == imagined
        after = plan_now(loaded, load_policy(loaded), record_orphans=False)
        assert [a.id for a in after.actions] == [], lines
        for ent, people in wanted.items():
            missing = {p for p in people - effective_holders(db, ent)
                       if not _in_conflict(conflicted, scenario, ent, p)}
            assert missing == set(), f"{ent}: {sorted(missing)}"


def _in_conflict(conflicted: set[tuple[str, str]], scenario: Scenario, ent: str, principal: str) -> bool:
    login = principal.partition(":")[2]
    rules = {f"birthright/b{i}" for i, (e, _) in enumerate(scenario.birthright) if e == ent}
    return any((rule, login) in conflicted for rule in rules)
