"""``pybaton doctor``: can every system of a workspace be reached with the settings it has?

Each check is the one a sync starts with: a built-in connector is built from
the workspace's settings and its ``validate()`` runs (PostgreSQL connects and
reads its catalogs, LDAP binds and reads the base entry, an HTTP API makes one
authenticated call …). A connector executable is run with ``capabilities``:
that shows the command starts and accepts its settings; whether its system
answers is only known when it syncs, and the line says so. Systems are checked
concurrently, and every failure is that system's line, never the whole run's.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from pybaton.connector.external import run_command
from pybaton.extras import missing_extra
from pybaton.reconcile.syncing import describe_error
from pybaton.reconcile.workspace import Workspace


@dataclass(frozen=True)
class SystemCheck:
    """How one system's check ended, in words an operator can act on."""

    system: str
    ok: bool
    detail: str
    seconds: float

    def line(self) -> str:
        return f"{'ok' if self.ok else 'FAIL':<4}  {self.system}: {self.detail} ({self.seconds:.1f}s)"


def _validate_builtin(ws: Workspace, name: str) -> str:
    connector = ws.connector(name)
    try:
        connector.validate()
    finally:
        connector.close()
    return f"{connector.metadata.name} connector reached the system"


def _run_capabilities(ws: Workspace, name: str) -> str:
    entry = ws.external_entry(name)
    run_command(entry, ["capabilities"], what=f"{entry.command[0]} capabilities")
    return f"{entry.command[0]} runs and answers capabilities (its system is reached when it syncs)"


def check_system(ws: Workspace, name: str) -> SystemCheck:
    """Check one system; any failure is returned as its one line (redacted), never raised."""
    started = time.monotonic()
    check = _run_capabilities if ws.system(name).command is not None else _validate_builtin
    try:
        detail = check(ws, name)
    except Exception as exc:  # one system's failure must not hide the others
        error = missing_extra(exc, f"the {name} system") or exc
        return SystemCheck(name, False, ws.redactor()(describe_error(error)), time.monotonic() - started)
    return SystemCheck(name, True, detail, time.monotonic() - started)


def check_systems(ws: Workspace, names: Iterable[str] | None = None) -> list[SystemCheck]:
    """Check ``names`` (default: every system) concurrently; results in the order the systems were named."""
    wanted = list(dict.fromkeys(names if names is not None else ws.systems))
    for name in wanted:
        ws.system(name)  # an unknown name is an error before anything starts
    with ThreadPoolExecutor(max_workers=max(1, len(wanted)), thread_name_prefix="pybaton-doctor") as pool:
        return list(pool.map(lambda name: check_system(ws, name), wanted))
