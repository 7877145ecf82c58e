"""The two classes a connector author subclasses: :class:`Connector` and :class:`ResourceSyncer`.

A connector is its metadata, its config model and one syncer per resource type.
A syncer lists resources (under a parent, for child types), and the entitlements
and grants of one resource, a page at a time. Everything optional (static
entitlements, targeted ``get``, provisioning) is a Protocol in
:mod:`pybaton.connector.capabilities` that the syncer may also implement.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Generic, TypeVar

from pybaton.connector.config import ConnectorConfig
from pybaton.connector.pagination import Page, PageToken
from pybaton.pb.c1.connector.v2 import entitlement_pb2, grant_pb2, resource_pb2

C = TypeVar("C", bound=ConnectorConfig)


@dataclass(frozen=True)
class ConnectorMetadata:
    """What ``capabilities``/``connectors`` show about a connector."""

    name: str
    display_name: str
    description: str = ""


class ResourceSyncer(ABC):
    """Serves one resource type. Override :meth:`list`; the rest default to nothing."""

    resource_type: ClassVar[resource_pb2.ResourceType]

    @abstractmethod
    def list(self, parent: resource_pb2.ResourceId | None, page: PageToken) -> Page[resource_pb2.Resource]:
        """Resources of this type (under ``parent`` for child types; ``None`` at the top)."""

    def entitlements(self, resource: resource_pb2.Resource,
                     page: PageToken) -> Page[entitlement_pb2.Entitlement]:
        """Entitlements of ``resource`` beyond its static ones."""
        return Page()

    def grants(self, resource: resource_pb2.Resource, page: PageToken) -> Page[grant_pb2.Grant]:
        """Grants of entitlements on ``resource``."""
        return Page()


class Connector(ABC, Generic[C]):
    """A system's access data, as resource syncers. Subclass with a config type.

    The toolkit instantiates it with a validated config, calls :meth:`validate`
    once (check credentials early, with a clear error), then uses
    :meth:`syncers`; :meth:`close` always runs at the end.
    """

    metadata: ClassVar[ConnectorMetadata]
    config_class: ClassVar[type[ConnectorConfig]] = ConnectorConfig
    # The page size the engine asks for when the operator gives no --page-size (None: Baton's 100).
    # A connector whose system answers large pages as cheaply as small ones (a database) declares
    # a larger one: fewer round trips. An explicit --page-size always wins.
    preferred_page_size: ClassVar[int | None] = None
    # True when the connector is pure computation (no sockets, files or threads a forked copy would
    # share): the engine may then run its grant listing in a forked child, on a second core.
    fork_safe: ClassVar[bool] = False

    def __init__(self, config: C) -> None:
        self.config = config

    @abstractmethod
    def syncers(self) -> Sequence[ResourceSyncer]:
        """One syncer per resource type, in the order types should be synced."""

    def validate(self) -> None:
        """Check the config against the system (e.g. one authenticated call)."""

    def close(self) -> None:
        """Release connections and other resources."""

    def syncer_for(self, resource_type: str) -> ResourceSyncer | None:
        for syncer in self.syncers():
            if syncer.resource_type.id == resource_type:
                return syncer
        return None
