"""How the workspace commands show their work: a live board of syncs, plans as tables, apply results.

The sync board is live only on a terminal (stderr, so stdout stays clean for
``-o json``); into a pipe or a log each system gets one line when it ends.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from pybaton.cli.render import Column, Listing, print_console, print_tables
from pybaton.reconcile.brake import BrakeCheck
from pybaton.reconcile.execute import Result
from pybaton.reconcile.plan import Action, Finding, Plan
from pybaton.reconcile.syncing import SystemSync
from pybaton.sync.progress import Progress

# -- the sync board ------------------------------------------------------------------------------


@dataclass
class _Row:
    phase: str = "waiting"
    count: int = 0
    total: int | None = None
    state: str = "running"
    detail: str = ""
    started: float = 0.0


class _RowProgress:
    """The engine's :class:`Progress` for one system's row."""

    def __init__(self, board: SyncBoard, name: str) -> None:
        self.board, self.name = board, name

    def phase(self, name: str, total: int | None = None) -> None:
        self.board.update(self.name, phase=name, count=0, total=total)

    def advance(self, count: int = 1) -> None:
        self.board.advance(self.name, count)

    def close(self) -> None:
        return None


class SyncBoard:
    """One row per system: phase, progress, then how it ended."""

    def __init__(self, systems: Sequence[str]) -> None:
        now = time.monotonic()
        self.rows = {name: _Row(started=now) for name in systems}
        self.lock = threading.Lock()
        self.console = Console(stderr=True, highlight=False)

    def progress_for(self, name: str) -> Progress:
        return _RowProgress(self, name)

    def update(self, name: str, **changes: object) -> None:
        with self.lock:
            row = self.rows[name]
            for key, value in changes.items():
                setattr(row, key, value)

    def advance(self, name: str, count: int) -> None:
        with self.lock:
            self.rows[name].count += count

    def done(self, result: SystemSync) -> None:
        detail = (f"sync {result.sync_id}: {result.stats.get('resources', 0)} resources, "
                  f"{result.stats.get('grants', 0)} grants" if result.ok else result.error)
        self.update(result.system, state="ok" if result.ok else "failed", detail=detail)
        if not self.console.is_terminal:
            mark = "synced" if result.ok else "FAILED"
            print(f"{result.system}: {mark} in {result.seconds:.1f}s: {detail}", file=sys.stderr)

    def render(self) -> Table:
        table = Table("system", "phase", "done", "", box=None)
        with self.lock:
            for name, row in self.rows.items():
                style = {"ok": "green", "failed": "red"}.get(row.state, "")
                of = f"/{row.total}" if row.total else ""
                phase = row.phase if row.state == "running" else row.state
                elapsed = f"{time.monotonic() - row.started:.0f}s" if row.state == "running" else ""
                table.add_row(name, Text(phase, style=style), f"{row.count}{of}",
                              Text(row.detail or elapsed, style=style))
        return table

    @contextmanager
    def live(self) -> Iterator[None]:
        if not self.console.is_terminal:
            yield
            return
        with Live(get_renderable=self.render, console=self.console, refresh_per_second=4):
            yield


def print_syncs(results: Sequence[SystemSync]) -> None:
    rows = [[r.system, "ok" if r.ok else "failed", r.sync_id, str(r.stats.get("resources", "")),
             str(r.stats.get("grants", "")), f"{r.seconds:.1f}s", r.error] for r in results]
    print_tables([("Workspace sync", ["system", "result", "sync", "resources", "grants", "time", "error"], rows)])


# -- plans -----------------------------------------------------------------------------------------

def _action_columns() -> list[Column[Action]]:
    return [
        Column("action", "kind", lambda a: a.kind.value),
        Column("system", "system", lambda a: a.system),
        Column("target", "target", lambda a: a.target),
        Column("account", "principal", lambda a: a.principal or ("(new account)" if a.needs else "")),
        Column("rules", "rules", lambda a: ", ".join(a.rules)),
        Column("evidence", "evidence", lambda a: "; ".join(a.evidence)),
    ]


def _finding_columns() -> list[Column[Finding]]:
    return [
        Column("finding", "kind", lambda f: f.kind),
        Column("system", "system", lambda f: f.system),
        Column("subject", "subject", lambda f: f.subject),
        Column("message", "message", lambda f: f.message),
        Column("rules", "rules", lambda f: ", ".join(f.rules)),
    ]


def print_plan(plan: Plan, brakes: Sequence[BrakeCheck]) -> None:
    basis = ", ".join(f"{s} {i}" for s, i in sorted(plan.basis.items()))
    print_console(Listing(f"Plan (from syncs: {basis})", "actions", _action_columns(), plan.actions))
    if plan.findings:
        print_console(Listing("Findings (reported, not changed)", "findings", _finding_columns(), plan.findings))
    for check in brakes:
        print(f"brake: {check.summary()}")


# -- apply -----------------------------------------------------------------------------------------

def result_line(result: Result) -> str:
    """``grant pg role:eng:member to user:ada: done``, as each action ends."""
    action = result.action
    message = f" ({result.message})" if result.message else ""
    return f"{action.id}: {result.status}{message}"
