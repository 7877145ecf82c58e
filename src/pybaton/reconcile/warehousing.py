"""The workspace and its warehouse: where it is, loading the systems' syncs, and correlating in it.

A workspace has a warehouse when its file has a ``warehouse:`` section (an
empty one means the embedded SQLite file in ``data_dir``; ``url_env`` names a
variable holding a PostgreSQL URL). With one, every sync of the workspace is
loaded into it, and the planner reads its state from it instead of the files.
``pybaton warehouse`` commands work on any workspace, with the embedded default
when nothing is configured.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pybaton.errors import ConfigError, WarehouseError
from pybaton.identity import SystemAccounts, correlate, read_accounts
from pybaton.reconcile.plan import Plan
from pybaton.reconcile.workspace import Workspace
from pybaton.warehouse.settings import WarehouseSettings

if TYPE_CHECKING:
    from pybaton.warehouse import LoadResult, Warehouse

log = logging.getLogger("pybaton.warehouse")


def configured(ws: Workspace) -> bool:
    return ws.spec.warehouse is not None


def open_warehouse(ws: Workspace | None, url: str | None = None) -> Warehouse:
    """``--warehouse URL``, else the workspace's setting, else the embedded file in its ``data_dir``."""
    from pybaton.warehouse import Warehouse

    settings = (ws.spec.warehouse if ws is not None else None) or WarehouseSettings()
    if url:
        return Warehouse.open(url, keep_syncs=settings.keep_syncs)
    if settings.url_env:
        value = os.environ.get(settings.url_env)
        if not value:
            raise ConfigError(f"{ws.path if ws else 'workspace'}: warehouse.url_env: environment variable "
                              f"{settings.url_env} is not set")
        return Warehouse.open(value, keep_syncs=settings.keep_syncs)
    if ws is None:
        raise WarehouseError("which warehouse? give --warehouse URL|PATH or a workspace (-w pybaton.yaml)")
    return Warehouse.open(ws.data_dir / settings.path, keep_syncs=settings.keep_syncs)


@dataclass(frozen=True)
class SystemLoad:
    """How loading one system ended: its result, or the one-line error."""

    system: str
    result: LoadResult | None = None
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.result is not None


def load_systems(ws: Workspace, wh: Warehouse, names: Iterable[str] | None = None) -> list[SystemLoad]:
    """Load each system's newest sync (one not loaded yet), then correlate the warehouse's people again."""
    wanted = list(dict.fromkeys(names if names is not None else ws.systems))
    out: list[SystemLoad] = []
    for name in wanted:
        spec = ws.system(name)
        path = ws.c1z(name)
        if not path.exists():
            out.append(SystemLoad(name, error=f"{name}: never synced ({path} does not exist)"))
            continue
        try:
            out.append(SystemLoad(name, wh.load(name, path, identity_provider=spec.identity_provider)))
        except WarehouseError as exc:
            log.warning("%s", exc)
            out.append(SystemLoad(name, error=str(exc)))
    correlate_in(ws, wh)
    return out


def correlate_in(ws: Workspace, wh: Warehouse) -> None:
    """Correlate the accounts of the current syncs and store the result (identities, accounts)."""
    with wh.stored_syncs() as stored:
        present = [n for n in ws.systems if n in stored]
        if not any(ws.system(n).identity_provider for n in present):
            return
        parts = [SystemAccounts(n, list(read_accounts(stored[n], n, with_groups=ws.system(n).identity_provider)),
                                ws.system(n).identity_provider, ws.system(n).attributes) for n in present]
        sync_ids = {n: stored[n].sync_id for n in present}
    wh.store_correlation(correlate(parts, ws.spec.identity), sync_ids)


def refresh(ws: Workspace, names: Iterable[str]) -> list[SystemLoad]:
    """After syncs: load ``names`` into the configured warehouse (nothing when none is configured)."""
    if not configured(ws):
        return []
    with open_warehouse(ws) as wh:
        return load_systems(ws, wh, names)


def record_findings(ws: Workspace, plan: Plan) -> None:
    """Keep the plan's findings in the configured warehouse (the ``findings`` table)."""
    if not configured(ws):
        return
    rows = [(f.kind, f.system, f.subject, f.message, ", ".join(f.rules)) for f in plan.findings]
    with open_warehouse(ws) as wh:
        wh.store_findings(rows)
