"""Syncing every system of a workspace at once, each into its own ``.c1z`` under ``data_dir``.

Systems are independent, so they sync concurrently (one thread each: the work
is mostly waiting on servers and SQLite, which release the GIL), and a failure
in one is reported for that system while the others finish. Each sync adds a
run to the system's file; the engine keeps the workspace's ``keep_syncs``
newest full runs, so ``pybaton diff`` can always compare the last two. When
the workspace has a warehouse, the new syncs are loaded into it; a system whose
load fails counts as not synced (the warehouse still holds its previous sync).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any

from pybaton.connector.base import Connector
from pybaton.errors import PyBatonError
from pybaton.reconcile import warehousing
from pybaton.reconcile.workspace import Workspace
from pybaton.sync import SyncOptions, SyncResult, sync
from pybaton.sync.external import sync_external
from pybaton.sync.progress import Progress

log = logging.getLogger("pybaton.reconcile")

ProgressFor = Callable[[str], Progress | None]


@dataclass(frozen=True)
class SystemSync:
    """How one system's sync ended."""

    system: str
    ok: bool
    sync_id: str = ""
    seconds: float = 0.0
    stats: dict[str, Any] = field(default_factory=dict)
    error: str = ""


def describe_error(exc: BaseException) -> str:
    """One line: our errors say what they are; anything else is named by its type."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return text if isinstance(exc, PyBatonError) and text else f"{type(exc).__name__}: {text}".rstrip(": ")


def run_sync(ws: Workspace, name: str, progress: Progress | None = None, *, incremental: bool | None = None,
             wrap: Callable[[Connector[Any]], Connector[Any]] | None = None) -> SyncResult:
    """Sync one system into its file (errors raised as they are); ``wrap`` may put a hook before every call,
    ``incremental`` overrides the system's setting."""
    ws.data_dir.mkdir(parents=True, exist_ok=True)
    if ws.system(name).command is not None:
        return sync_external(ws.external_entry(name), ws.c1z(name))
    connector = ws.connector(name)
    if wrap is not None:
        connector = wrap(connector)
    try:
        options = SyncOptions(keep_syncs=ws.spec.keep_syncs,
                              incremental=ws.system(name).incremental if incremental is None else incremental)
        return sync(connector, ws.c1z(name), options, progress)
    finally:
        connector.close()


def sync_system(ws: Workspace, name: str, progress: Progress | None = None, *,
                incremental: bool | None = None) -> SystemSync:
    """Sync one system; any failure is returned (redacted), never raised, so the others go on.

    ``incremental`` overrides the system's ``incremental`` setting (``reconcile --watch`` asks for it).
    """
    started = time.monotonic()
    try:
        result = run_sync(ws, name, progress, incremental=incremental)
    except Exception as exc:  # one system's failure must not stop the others
        error = ws.redactor()(describe_error(exc))
        log.warning("sync of %s failed: %s", name, error)
        return SystemSync(name, False, seconds=time.monotonic() - started, error=error)
    return SystemSync(name, True, result.sync_id, time.monotonic() - started, dict(result.stats))


def sync_systems(ws: Workspace, names: Iterable[str] | None = None, *, progress_for: ProgressFor | None = None,
                 on_done: Callable[[SystemSync], None] | None = None) -> list[SystemSync]:
    """Sync ``names`` (default: every system) concurrently; results in the order the systems were named."""
    wanted = list(dict.fromkeys(names if names is not None else ws.systems))
    for name in wanted:
        ws.system(name)  # an unknown name is an error before anything starts
    results: dict[str, SystemSync] = {}
    with ThreadPoolExecutor(max_workers=max(1, len(wanted)), thread_name_prefix="pybaton-sync") as pool:
        futures = {pool.submit(sync_system, ws, name, progress_for(name) if progress_for else None): name
                   for name in wanted}
        for future in as_completed(futures):
            result = future.result()
            results[result.system] = result
            if on_done is not None:
                on_done(result)
    _load_into_warehouse(ws, results)
    return [results[name] for name in wanted]


def _load_into_warehouse(ws: Workspace, results: dict[str, SystemSync]) -> None:
    """Load what synced into the configured warehouse; a failed load marks that system's result failed."""
    synced = [name for name, result in results.items() if result.ok]
    if not synced or not warehousing.configured(ws):
        return
    try:
        failed = {load.system: load.error for load in warehousing.refresh(ws, synced) if not load.ok}
    except PyBatonError as exc:
        failed = dict.fromkeys(synced, describe_error(exc))
    for name, error in failed.items():
        log.warning("loading %s into the warehouse failed: %s", name, error)
        results[name] = dataclasses.replace(results[name], ok=False, error=f"warehouse load failed: {error}")
