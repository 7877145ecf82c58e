"""One sync held in the warehouse, answering the questions a ``.c1z`` reader answers.

:class:`StoredSync` satisfies :class:`pybaton.c1z.SyncQueries`: correlation,
the reconcile planner and the listings run on it unchanged, and what it returns
is what the file's reader returned for the same sync (the protobuf messages are
kept as the file stored them), in the file's order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from google.protobuf.message import Message
from sqlalchemy import ColumnElement, Connection, Select, Table, and_, func, select

from pybaton.c1z.expandable import ExpandableGrant, ExpansionRecord, expandable_grant
from pybaton.errors import WarehouseError
from pybaton.pb.c1.connector.v2 import entitlement_pb2, grant_pb2, resource_pb2
from pybaton.warehouse import schema as s

M = TypeVar("M", bound=Message)
STREAM_BATCH = 2000


@dataclass(frozen=True)
class SyncRef:
    """A sync the warehouse holds: its system, Baton sync id, and the warehouse's key for it."""

    system: str
    sync_id: str
    sync_pk: int


class StoredSync:
    """Read access to one stored sync over an open connection."""

    def __init__(self, conn: Connection, ref: SyncRef) -> None:
        self.conn = conn
        self.ref = ref

    @property
    def sync_id(self) -> str:
        return self.ref.sync_id

    def _messages(self, factory: Callable[[bytes], M], table: Table, order: Any,
                  *where: ColumnElement[bool]) -> Iterator[M]:
        query: Select[Any] = select(table.c.data).where(table.c.sync_pk == self.ref.sync_pk, *where).order_by(order)
        result = self.conn.execution_options(yield_per=STREAM_BATCH).execute(query)
        for (blob,) in result:
            yield factory(bytes(blob))

    def _one(self, factory: Callable[[bytes], M], table: Table, *where: ColumnElement[bool]) -> M | None:
        query = select(table.c.data).where(table.c.sync_pk == self.ref.sync_pk, *where).limit(1)
        blob = self.conn.execute(query).scalar()
        return factory(bytes(blob)) if blob is not None else None

    # -- resource types and resources ----------------------------------------------------------

    def resource_types(self) -> list[resource_pb2.ResourceType]:
        return list(self._messages(resource_pb2.ResourceType.FromString, s.resource_types,
                                   s.resource_types.c.seq))

    def resource_type(self, type_id: str) -> resource_pb2.ResourceType | None:
        return self._one(resource_pb2.ResourceType.FromString, s.resource_types,
                         s.resource_types.c.resource_type_id == type_id)

    def resources(self, resource_type: str | None = None, *,
                  parent: tuple[str, str] | None = None) -> Iterator[resource_pb2.Resource]:
        t = s.resources.c
        where: list[ColumnElement[bool]] = []
        if resource_type:
            where.append(t.resource_type_id == resource_type)
        if parent:
            where.append(and_(t.parent_resource_type_id == parent[0], t.parent_resource_id == parent[1]))
        return self._messages(resource_pb2.Resource.FromString, s.resources, t.resource_pk, *where)

    def resource(self, resource_type: str, resource_id: str) -> resource_pb2.Resource | None:
        t = s.resources.c
        return self._one(resource_pb2.Resource.FromString, s.resources,
                         t.resource_type_id == resource_type, t.resource_id == resource_id)

    # -- entitlements --------------------------------------------------------------------------

    def entitlements(self, resource_type: str | None = None,
                     resource_id: str | None = None) -> Iterator[entitlement_pb2.Entitlement]:
        t = s.entitlements.c
        where: list[ColumnElement[bool]] = []
        if resource_type:
            where.append(t.resource_type_id == resource_type)
        if resource_id is not None:
            where.append(t.resource_id == resource_id)
        return self._messages(entitlement_pb2.Entitlement.FromString, s.entitlements, t.entitlement_pk, *where)

    def entitlement(self, entitlement_id: str) -> entitlement_pb2.Entitlement | None:
        t = s.entitlements.c
        return self._one(entitlement_pb2.Entitlement.FromString, s.entitlements, t.entitlement_id == entitlement_id)

    # -- grants --------------------------------------------------------------------------------

    def grants(self, *, entitlement_id: str | None = None, resource_type: str | None = None,
               resource_id: str | None = None,
               principal: tuple[str, str] | None = None) -> Iterator[grant_pb2.Grant]:
        return self._messages(grant_pb2.Grant.FromString, s.grants, s.grants.c.grant_pk,
                              *_grant_filter(entitlement_id, resource_type, resource_id, principal))

    def principals(self, *, entitlement_id: str | None = None, resource_type: str | None = None,
                   resource_id: str | None = None) -> Iterator[tuple[str, str]]:
        """Distinct principals of the matching grants, in order of their first grant."""
        t = s.grants.c
        query = (select(t.principal_type, t.principal_id)
                 .where(t.sync_pk == self.ref.sync_pk, *_grant_filter(entitlement_id, resource_type, resource_id, None))
                 .group_by(t.principal_type, t.principal_id).order_by(func.min(t.grant_pk)))
        for ptype, pid in self.conn.execution_options(yield_per=STREAM_BATCH).execute(query):
            yield str(ptype), str(pid)

    def expandable_grants(self) -> Iterator[ExpandableGrant]:
        """The sync's expandable grants, as the file's reader gives them (the loader kept its order)."""
        held = select(s.syncs.c.has_expansions).where(s.syncs.c.sync_pk == self.ref.sync_pk)
        if not self.conn.execute(held).scalar():
            raise WarehouseError(f"warehouse: sync {self.ref.sync_id} of {self.ref.system} was loaded before the "
                                 "warehouse kept grant expandability; sync the system again (its next sync is "
                                 "loaded whole) or plan from the files")
        t = s.grant_expansions.c
        query = (select(t.grant_id, t.entitlement_id, t.principal_type, t.principal_id, t.data)
                 .where(t.sync_pk == self.ref.sync_pk).order_by(t.expansion_pk))
        for gid, dst, ptype, pid, blob in self.conn.execution_options(yield_per=STREAM_BATCH).execute(query):
            yield expandable_grant(ExpansionRecord(gid, dst, ptype, pid, bytes(blob) if blob is not None else None))


def _grant_filter(entitlement_id: str | None, resource_type: str | None, resource_id: str | None,
                  principal: tuple[str, str] | None) -> list[ColumnElement[bool]]:
    t = s.grants.c
    where: list[ColumnElement[bool]] = []
    if entitlement_id is not None:
        where.append(t.entitlement_id == entitlement_id)
    if resource_type:
        where.append(t.resource_type_id == resource_type)
    if resource_id is not None:
        where.append(t.resource_id == resource_id)
    if principal is not None:
        where.append(and_(t.principal_type == principal[0], t.principal_id == principal[1]))
    return where
