"""The actual state: every system's latest full sync, open for lookups, and the correlation over them.

The syncs come from the systems' ``.c1z`` files, or — when the workspace has a
warehouse — from the warehouse's current syncs; both answer the same questions
(:class:`~pybaton.c1z.SyncQueries`), so the planner cannot tell them apart.

The planner asks many small questions — who holds this entitlement, what does
this account hold, through which group — so each system's ``.c1z`` stays open
for the duration and every answer comes from an indexed query, remembered
once asked. Nothing here writes.
"""

from __future__ import annotations

import contextlib
import fnmatch
from collections.abc import Iterator
from dataclasses import dataclass, field

from pybaton.c1z import C1ZFile, SyncQueries, SyncReader
from pybaton.errors import C1ZError, UserError
from pybaton.identity import Account, Correlation, SystemAccounts, correlate, read_accounts
from pybaton.pb.c1.connector.v2 import entitlement_pb2, grant_pb2
from pybaton.reconcile.workspace import SystemSpec, Workspace
from pybaton.sync.expand_graph import EntitlementGraph
from pybaton.sync.expand_store import sync_graph

Principal = tuple[str, str]


class SystemState:
    """One system's latest full sync: its accounts, and lookups of its grants."""

    def __init__(self, name: str, spec: SystemSpec, reader: SyncQueries, accounts: list[Account]) -> None:
        self.name = name
        self.spec = spec
        self.reader = reader
        self.sync_id = reader.sync_id
        self.accounts = accounts
        self._accounts = {(a.resource_type, a.resource_id): a for a in accounts}
        self._holders: dict[str, dict[Principal, grant_pb2.Grant]] = {}
        self._held: dict[Principal, list[grant_pb2.Grant]] = {}
        self._entitlements: dict[str, entitlement_pb2.Entitlement | None] = {}
        self._graph: EntitlementGraph | None = None

    def account(self, principal: Principal) -> Account | None:
        return self._accounts.get(principal)

    def holders(self, entitlement_id: str) -> dict[Principal, grant_pb2.Grant]:
        """Every principal holding the entitlement (directly or through a group), with its grant."""
        if entitlement_id not in self._holders:
            self._holders[entitlement_id] = {
                (g.principal.id.resource_type, g.principal.id.resource): g
                for g in self.reader.grants(entitlement_id=entitlement_id)}
        return self._holders[entitlement_id]

    def held_by(self, principal: Principal) -> list[grant_pb2.Grant]:
        if principal not in self._held:
            self._held[principal] = list(self.reader.grants(principal=principal))
        return self._held[principal]

    def grant(self, entitlement_id: str, principal: Principal) -> grant_pb2.Grant | None:
        return self.holders(entitlement_id).get(principal)

    def entitlement(self, entitlement_id: str) -> entitlement_pb2.Entitlement | None:
        if entitlement_id not in self._entitlements:
            self._entitlements[entitlement_id] = self.reader.entitlement(entitlement_id)
        return self._entitlements[entitlement_id]

    def expansion_graph(self) -> EntitlementGraph:
        """Which entitlements pass on to which (nested groups): what the sync's grant expansion followed."""
        if self._graph is None:
            self._graph = sync_graph(self.reader)
        return self._graph

    def is_protected(self, entitlement_id: str) -> bool:
        """Entitlements the workspace says are never revoked here (e.g. PostgreSQL's PUBLIC)."""
        return any(fnmatch.fnmatchcase(entitlement_id, p) for p in self.spec.protected)


@dataclass
class State:
    """What the latest syncs say, with the people behind the accounts."""

    systems: dict[str, SystemState]
    correlation: Correlation
    missing: dict[str, str] = field(default_factory=dict)  # system → why it has no usable sync

    @property
    def basis(self) -> dict[str, str]:
        return {name: s.sync_id for name, s in self.systems.items()}


def _open_system(stack: contextlib.ExitStack, ws: Workspace, name: str) -> SyncQueries | str:
    """The system's latest sync, or why there is none (never synced, no finished sync, unreadable)."""
    path = ws.c1z(name)
    if not path.exists():
        return "never synced (pybaton workspace sync)"
    try:
        c1z = stack.enter_context(C1ZFile.open(path))
        return SyncReader.of(c1z)
    except C1ZError as exc:
        return str(exc)


def _file_syncs(stack: contextlib.ExitStack, ws: Workspace) -> dict[str, SyncQueries | str]:
    return {name: _open_system(stack, ws, name) for name in ws.systems}


def _warehouse_syncs(stack: contextlib.ExitStack, ws: Workspace) -> dict[str, SyncQueries | str]:
    from pybaton.reconcile.warehousing import open_warehouse

    wh = stack.enter_context(open_warehouse(ws))
    stored: dict[str, SyncQueries] = dict(stack.enter_context(wh.stored_syncs()))
    return {name: stored.get(name, "not in the warehouse (pybaton workspace sync, or pybaton warehouse load)")
            for name in ws.systems}


@contextlib.contextmanager
def open_state(ws: Workspace) -> Iterator[State]:
    """Open every system's latest sync and correlate; an identity provider without one is an error.

    With a warehouse configured, the syncs are the warehouse's current ones; otherwise the files'.
    """
    with contextlib.ExitStack() as stack:
        opened = _warehouse_syncs(stack, ws) if ws.spec.warehouse is not None else _file_syncs(stack, ws)
        systems: dict[str, SystemState] = {}
        missing: dict[str, str] = {}
        for name, reader in opened.items():
            if isinstance(reader, str):
                missing[name] = reader
                continue
            spec = ws.system(name)
            accounts = list(read_accounts(reader, name, with_groups=spec.identity_provider))
            systems[name] = SystemState(name, spec, reader, accounts)
        idps = [n for n in ws.identity_providers() if n in missing]
        if idps:
            raise UserError(f"identity provider {idps[0]} has no usable sync: {missing[idps[0]]}")
        parts = [SystemAccounts(n, s.accounts, s.spec.identity_provider, s.spec.attributes)
                 for n, s in systems.items()]
        yield State(systems, correlate(parts, ws.spec.identity), missing)
