"""Reconciliation: the access the policy wants, compared with what the systems have, and the drift fixed.

- :mod:`.workspace`: ``pybaton.yaml``, the systems and where their syncs live;
- :mod:`.syncing`: every system synced at once;
- :mod:`.policy`: the rules (birthright, exclusive, leavers, orphans, toxic);
- :mod:`.planner`: desired versus actual over the latest syncs → a :class:`Plan`;
- :mod:`.apply`: the plan executed through :mod:`pybaton.provision`, with the brake, then verified;
- :mod:`.loop`: sync → plan → apply → verify, once or continuously.
"""

from pybaton.reconcile.apply import ApplyOptions, ApplyReport, BrakeError, apply_plan
from pybaton.reconcile.loop import Cycle, plan_now, run_cycle, run_loop
from pybaton.reconcile.plan import Action, Finding, Kind, Plan, load_plan
from pybaton.reconcile.policy import Policy, load_policy
from pybaton.reconcile.state import State, open_state
from pybaton.reconcile.syncing import SystemSync, sync_systems
from pybaton.reconcile.workspace import Workspace, load_workspace, workspace_lock

__all__ = ["Action", "ApplyOptions", "ApplyReport", "BrakeError", "Cycle", "Finding", "Kind", "Plan", "Policy",
           "State", "SystemSync", "Workspace", "apply_plan", "load_plan", "load_policy", "load_workspace",
           "open_state", "plan_now", "run_cycle", "run_loop", "sync_systems", "workspace_lock"]
