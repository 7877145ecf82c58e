"""Benchmark reconcile planning, one pass against the fixed point, on a big synthetic tenant.

Two ``scale`` systems with the same people: ``hr`` (the identity provider,
read-only) and ``app``, 20k users in 2k groups nested 4 levels deep with
200k direct memberships. The policy has issue 17's shape: nobody may hold
an app permission some group passes on (``app:app0:admin`` when its groups
fit), and everyone must hold the membership of the group that group is nested
in — which its holders have only through the group they are removed from, so
the fixed point grants it to them directly.

Printed: the time of one planning pass (what the planner did before it
planned to a fixed point), and of the whole fixed-point plan, with the
actions and passes each needed. Syncing the two systems is not counted.
There is no target in the design for planning; the figure to watch is the
fixed point's cost relative to one pass.

    python bench/bench_reconcile.py            # --scale 0.1 for a quick look
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from pybaton.reconcile import load_policy, load_workspace, open_state, sync_systems
from pybaton.reconcile.planner import Planner, make_plan
from pybaton.reconcile.state import SystemState


def calibration() -> float:
    """A fixed pure-Python loop: how fast this machine is right now, to read the figures against."""
    started = time.perf_counter()
    total = 0
    for i in range(5_000_000):
        total += i % 7
    return time.perf_counter() - started


def rules(birthright: str, forbidden: str) -> dict[str, Any]:
    return {"birthright": [{"name": "everyone-in", "when": "true", "system": "app", "entitlement": birthright}],
            "exclusive": [{"name": "nobody", "system": "app", "entitlement": forbidden, "allow": "false"}]}


def issue_shape(app: SystemState) -> tuple[str, str]:
    """An app permission some group passes on, and the membership of the group that group is nested in (which
    does not pass the permission on itself, so the two rules do not conflict)."""
    graph = app.expansion_graph()
    out = graph.outgoing()
    for forbidden in (f"app:app{a}:{slug}" for a in range(2) for slug in ("admin", "write", "read")):
        for (ptype, pid), _ in sorted(app.holders(forbidden).items()):
            if ptype != "group":
                continue
            for grant in app.held_by((ptype, pid)):
                ent = grant.entitlement.id
                if ent.startswith("group:") and forbidden not in reachable(graph.ids, out, graph.index[ent]):
                    return ent, forbidden
    return "app:app0:read", "app:app0:admin"


def reachable(ids: list[str], out: list[list[int]], start: int) -> set[str]:
    seen, todo = {start}, [start]
    while todo:
        for nxt in out[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return {ids[n] for n in seen}


def workspace(root: Path, users: int) -> Path:
    flags = {"users": users, "groups": users // 10, "depth": 4, "grants": users * 10, "apps": 2}
    (root / "policy.yaml").write_text(yaml.safe_dump(rules("app:app0:read", "app:app0:admin")))
    path = root / "pybaton.yaml"
    path.write_text(yaml.safe_dump({
        "data_dir": "data", "policies": ["policy.yaml"], "identity": {"rules": ["email", "login"]},
        "systems": {"hr": {"connector": "scale", "identity_provider": True, "read_only": True, "config": flags},
                    "app": {"connector": "scale", "config": flags}}}))
    return path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the 20k users")
    args = parser.parse_args()
    users = max(100, int(20_000 * args.scale))
    print(f"calibration: {calibration():.2f} s (5M-step pure-Python loop)", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        ws = load_workspace(workspace(Path(tmp), users))
        started = time.perf_counter()
        if not all(s.ok for s in sync_systems(ws)):
            raise SystemExit("sync failed")
        print(f"synced 2 systems of {users:,} users in {time.perf_counter() - started:.1f} s (not counted)")
        with open_state(ws) as state:
            parent, forbidden = issue_shape(state.systems["app"])
        (Path(tmp) / "policy.yaml").write_text(yaml.safe_dump(rules(parent, forbidden)))
        policy = load_policy(ws)
        now = dt.datetime.now(dt.UTC)
        with open_state(ws) as state:
            started = time.perf_counter()
            one = Planner(ws, policy, state, now, {}).run()
            single = time.perf_counter() - started
        with open_state(ws) as state:
            started = time.perf_counter()
            plan, _ = make_plan(ws, policy, state, now=now)
            fixed = time.perf_counter() - started
        inherited = sum(1 for a in plan.actions if any(" loses " in e for e in a.evidence))
        kinds = Counter(a.kind.value for a in plan.actions)
        print(f"birthright: {parent}, exclusive: nobody holds {forbidden}; plan: {dict(sorted(kinds.items()))}, "
              f"{sum(1 for f in plan.findings if f.kind == 'conflict')} conflicts")
        print(f"one planning pass: {single:.2f} s, {len(one.actions):,} actions")
        print(f"fixed-point plan:  {fixed:.2f} s, {len(plan.actions):,} actions "
              f"({inherited:,} grants for access the plan's own removals take away); "
              f"{fixed / single if single else 0:.1f}x one pass (no target; the design sets none for planning)")


if __name__ == "__main__":
    main()
