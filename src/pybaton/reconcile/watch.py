"""``pybaton reconcile --watch``: react to changes as they happen, for the people they concern.

The loop watches every system whose connector has an event feed (Baton's
``ListEvents``), from the feed's head when the watch starts, every ``poll``
seconds; every ``interval`` it also looks at every system (for those without a
feed). A system with news gets an incremental sync (``sync --incremental``),
and the plan is cut down to the actions about the accounts that sync found
changed — and the identities they belong to, in every system: a person disabled
in the identity provider loses access in the apps, and nobody else is touched.
Actions are applied exactly as ``reconcile`` applies them (brake, audit,
verification). When an incremental sync is not possible (no cursor yet), that
system was read whole and the cycle plans for everyone, as ``reconcile`` does.

Drift that existed before the watch started is left to ``pybaton reconcile``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from pybaton.c1z import C1ZFile
from pybaton.connector.capabilities import EventFeed
from pybaton.reconcile.apply import ApplyOptions, apply_plan
from pybaton.reconcile.execute import Result
from pybaton.reconcile.loop import Cycle, plan_now, without_systems
from pybaton.reconcile.plan import Action, Plan
from pybaton.reconcile.policy import load_policy
from pybaton.reconcile.syncing import sync_system
from pybaton.reconcile.workspace import Workspace, workspace_lock
from pybaton.sync.incremental import last_changes

log = logging.getLogger("pybaton.reconcile")

EVERYONE = None  # touched_accounts' answer when a system was read whole


class FeedWatcher:
    """One system's event feed, followed from its head; :meth:`news` says whether anything happened."""

    def __init__(self, name: str, connector: Any) -> None:
        self.name = name
        self.connector = connector
        self.cursor = ""
        while True:  # skip history: the watch reacts to what happens from now on
            page = connector.list_events(self.cursor, 250)
            self.cursor = page.cursor or self.cursor
            if not page.has_more:
                break

    def news(self) -> bool:
        found = False
        while True:
            page = self.connector.list_events(self.cursor, 250)
            found = found or bool(page.events)
            self.cursor = page.cursor or self.cursor
            if not page.has_more:
                return found

    def close(self) -> None:
        self.connector.close()


def feeds_of(ws: Workspace) -> list[FeedWatcher]:
    """A watcher for every built-in system whose connector has an event feed."""
    watchers = []
    for name, spec in ws.systems.items():
        if spec.command is not None:
            continue
        connector = ws.connector(name)
        if isinstance(connector, EventFeed):
            watchers.append(FeedWatcher(name, connector))
        else:
            connector.close()
    return watchers


def touched_accounts(path: Path) -> set[str] | None:
    """Accounts (``type:id``) the last incremental run of a file changed; None when the last run was a full read."""
    with C1ZFile.open(path) as c1z:
        return last_changes(c1z.conn)


def concerns(action: Action, accounts: set[str], identities: set[str]) -> bool:
    """Whether ``action`` is about a changed account of its system, or about a changed person."""
    if action.identity and action.identity in identities:
        return True
    mine = {a.split("/", 1)[1] for a in accounts if a.startswith(action.system + "/")}
    return bool(action.principal in mine or action.target in mine or
                any(action.target.endswith(":" + a) for a in mine))


def only_touched(plan: Plan, accounts: set[str]) -> Plan:
    """The plan cut down to what concerns ``accounts`` (``system/type:id``) and their identities."""
    identities = set(accounts)  # an identity's id is its identity-provider account's key
    for action in plan.actions:
        if concerns(action, accounts, set()) and action.identity:
            identities.add(action.identity)
    kept = [a for a in plan.actions if concerns(a, accounts, identities)]
    return plan.model_copy(update={"actions": kept})


def watch_cycle(ws: Workspace, systems: Sequence[str], policy_paths: Sequence[Path] | None, options: ApplyOptions,
                *, report: Callable[[Result], None] = lambda r: None) -> Cycle:
    """Incremental syncs of ``systems``, then plan and apply for what they found changed."""
    cycle = Cycle(dt.datetime.now(dt.UTC), dry_run=options.dry_run)
    try:
        policy = load_policy(ws, policy_paths)
        cycle.syncs = [sync_system(ws, name, incremental=True) for name in systems]
        accounts: set[str] | None = set()
        for done in cycle.syncs:
            if done.ok and accounts is not None:
                found = touched_accounts(ws.c1z(done.system))
                accounts = None if found is None else accounts | {f"{done.system}/{a}" for a in found}
        failed = cycle.sync_failed
        plan = plan_now(ws, policy)
        idp_down = [s for s in failed if ws.system(s).identity_provider]
        skipped = list(ws.systems) if idp_down else failed
        why = f"identity provider {idp_down[0]} could not be synced" if idp_down else "its sync failed this cycle"
        plan = without_systems(plan, skipped, why)
        cycle.plan = plan if accounts is None else only_touched(plan, accounts)
        options = dataclasses.replace(options, skip_braked=True, policy_brake=options.policy_brake or policy.brake)
        cycle.report = apply_plan(ws, cycle.plan, options, report=report,
                                  replan=lambda: plan_now(ws, policy, record_orphans=False))
    except Exception as exc:  # a failed cycle is reported; watching goes on
        cycle.error = ws.redactor()(str(exc) or type(exc).__name__)
    return cycle


def _due(watchers: Iterable[FeedWatcher]) -> list[str]:
    due = []
    for watcher in watchers:
        try:
            if watcher.news():
                due.append(watcher.name)
        except Exception as exc:  # a feed that fails now is asked again at the next poll
            log.warning("event feed of %s: %s", watcher.name, exc)
    return due


def watch_loop(ws: Workspace, policy_paths: Sequence[Path] | None, options: ApplyOptions, *, interval: float,
               poll: float, emit: Callable[[str], None], report: Callable[[Result], None] = lambda r: None,
               stop: threading.Event | None = None) -> int:
    """Watch until ``stop`` is set; one summary line per cycle that ran; the last cycle's exit code."""
    stop = stop or threading.Event()
    code = 0
    with workspace_lock(ws, "pybaton reconcile --watch"):
        watchers = feeds_of(ws)
        emit(f"watching {', '.join(w.name for w in watchers) or 'no event feeds'}; every system every "
             f"{interval:g}s")
        next_sweep = time.monotonic() + interval
        try:
            while not stop.is_set():
                due = _due(watchers)
                if time.monotonic() >= next_sweep:
                    due = list(ws.systems)
                    next_sweep = time.monotonic() + interval
                if due:
                    cycle = watch_cycle(ws, [s for s in ws.systems if s in due], policy_paths, options,
                                        report=report)
                    log.info("%s", cycle.line())
                    emit(cycle.line())
                    code = cycle.exit_code
                    _due(watchers)  # what the cycle itself wrote is not news
                stop.wait(poll)
        finally:
            for watcher in watchers:
                watcher.close()
    return code


__all__ = ["FeedWatcher", "concerns", "feeds_of", "only_touched", "touched_accounts", "watch_cycle", "watch_loop"]
