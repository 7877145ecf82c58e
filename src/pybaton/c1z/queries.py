"""What a reader of one sync answers, as a Protocol: a ``.c1z`` run or the same sync held elsewhere.

:class:`~pybaton.c1z.reader.SyncReader` answers from a file; the warehouse
answers the same questions from its tables (``pybaton.warehouse.StoredSync``).
Code that only asks these questions (correlation, the reconcile state, the
listings) takes either.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from pybaton.c1z.expandable import ExpandableGrant
from pybaton.pb.c1.connector.v2 import entitlement_pb2, grant_pb2, resource_pb2


class SyncQueries(Protocol):
    """Indexed questions about one sync run, answered in the store's order."""

    @property
    def sync_id(self) -> str: ...

    def resource_types(self) -> list[resource_pb2.ResourceType]: ...

    def resource_type(self, type_id: str) -> resource_pb2.ResourceType | None: ...

    def resources(self, resource_type: str | None = None, *,
                  parent: tuple[str, str] | None = None) -> Iterator[resource_pb2.Resource]: ...

    def resource(self, resource_type: str, resource_id: str) -> resource_pb2.Resource | None: ...

    def entitlements(self, resource_type: str | None = None,
                     resource_id: str | None = None) -> Iterator[entitlement_pb2.Entitlement]: ...

    def entitlement(self, entitlement_id: str) -> entitlement_pb2.Entitlement | None: ...

    def grants(self, *, entitlement_id: str | None = None, resource_type: str | None = None,
               resource_id: str | None = None,
               principal: tuple[str, str] | None = None) -> Iterator[grant_pb2.Grant]: ...

    def principals(self, *, entitlement_id: str | None = None, resource_type: str | None = None,
                   resource_id: str | None = None) -> Iterator[tuple[str, str]]: ...

    def expandable_grants(self) -> Iterator[ExpandableGrant]:
        """Every grant that passes its entitlement on (Baton's ``GrantExpandable``): the expansion graph's
        input, in the order the sync's expansion read it."""
        ...
