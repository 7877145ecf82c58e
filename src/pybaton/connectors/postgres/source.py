"""The connector's view of one cluster during a run: connections plus the catalog snapshots.

Syncers never query on their own: they ask :class:`PgSource`, which reads the
shared catalogs once and each database's catalogs once (on first use), so a
sync costs a handful of queries per database however many roles and tables
there are. Every write calls :meth:`PgSource.invalidate`, so reads after it see
its effect.
"""

from __future__ import annotations

import logging

from pybaton import model
from pybaton.connectors.memo import Memo, MemoMap
from pybaton.connectors.postgres import catalog, names
from pybaton.connectors.postgres.catalog import PUBLIC, Cluster, DatabaseCatalog, Securable
from pybaton.connectors.postgres.client import PgClient
from pybaton.connectors.postgres.config import PostgresConfig
from pybaton.connectors.postgres.model import MEMBER
from pybaton.errors import ConfigError, PermissionDeniedError, ProvisioningError, UnreachableError
from pybaton.pb.c1.connector.v2 import resource_pb2

log = logging.getLogger("pybaton.connectors.postgres")


class PgSource:
    def __init__(self, config: PostgresConfig) -> None:
        self.config = config
        self.client = PgClient(config.conninfo(), config.connect_timeout)
        self._cluster: Memo[Cluster] = Memo(lambda: catalog.load_cluster(self.client))
        self._catalogs: MemoMap[DatabaseCatalog] = MemoMap(self._load_catalog)
        # Per-snapshot answers asked for once per grant (hundreds of thousands of times in a big sync).
        self._principals: dict[str, resource_pb2.ResourceId] = {}
        self._nested: dict[str, str | None] = {}

    # -- snapshots -----------------------------------------------------------------------------------

    def cluster(self) -> Cluster:
        return self._cluster.get()

    def catalog(self, database: str) -> DatabaseCatalog:
        return self._catalogs.get(database)

    def _load_catalog(self, database: str) -> DatabaseCatalog:
        """One database's catalogs; a database we may not connect to is synced without its contents."""
        try:
            return catalog.load_database(self.client, self.cluster(), database, self.config.schemas,
                                         self.config.include_extension_objects)
        except (UnreachableError, PermissionDeniedError, ConfigError) as exc:
            log.warning("database %s: its schemas and objects are not synced: %s", database, exc)
            return catalog.unreachable_database(database)

    def invalidate(self) -> None:
        self._cluster.reset()
        self._catalogs.reset()
        self._principals = {}
        self._nested = {}

    def close(self) -> None:
        self.client.close()

    # -- selections ----------------------------------------------------------------------------------

    def databases(self) -> list[Securable]:
        """The databases to sync: those named by ``--databases``, else every connectable non-template."""
        wanted = set(self.config.databases)
        found = self.cluster().databases
        if wanted:
            missing = wanted - {d.rid for d in found}
            if missing:
                raise ConfigError(f"no database {', '.join(sorted(missing))} in the cluster", field="databases")
            return [d for d in found if d.rid in wanted]
        return [d for d in found if d.profile["allow_connections"] and not d.profile["template"]]

    def securable(self, kind: str, rid: str) -> Securable | None:
        """The object behind a resource id, from the snapshot (None when it no longer exists)."""
        if kind == "database":
            return self.cluster().database(rid)
        return self.catalog(names.database_of(rid)).by_id.get((kind, rid))

    def children(self, parent: resource_pb2.ResourceId, kind: str) -> list[Securable]:
        if parent.resource_type == "database":
            database = parent.resource
        else:
            database = names.database_of(parent.resource)
        return self.catalog(database).children.get((parent.resource_type, parent.resource, kind), [])

    # -- principals ----------------------------------------------------------------------------------

    def principal(self, role: str) -> resource_pb2.ResourceId:
        """``user:<name>`` for a role with LOGIN, ``role:<name>`` otherwise (and for PUBLIC)."""
        found = self._principals.get(role)
        if found is None:
            row = self.cluster().by_name.get(role)
            found = self._principals[role] = model.resource_id("user" if row is not None and row.login else "role",
                                                               role)
        return found

    def nested(self, role: str) -> str | None:
        """The ``member`` entitlement whose holders also get what ``role`` holds, if it has members."""
        if role not in self._nested:
            self._nested[role] = self._nested_of(role)
        return self._nested[role]

    def _nested_of(self, role: str) -> str | None:
        if role == PUBLIC:
            return model.entitlement_id("role", PUBLIC, MEMBER) if self.config.expand_public else None
        if not self.cluster().has_members(role):
            return None
        rid = self.principal(role)
        return model.entitlement_id(rid.resource_type, rid.resource, MEMBER)

    def role_name(self, principal: resource_pb2.ResourceId, *, allow_public: bool = True) -> str:
        """The role a principal names, checked to exist (PUBLIC only where the caller accepts it)."""
        if principal.resource_type not in ("user", "role"):
            raise ProvisioningError(f"only PostgreSQL roles can hold this, not {principal.resource_type!r}")
        name = principal.resource
        if name == PUBLIC and principal.resource_type == "role":
            if not allow_public:
                raise ProvisioningError("PUBLIC is not a role: it cannot be given this")
            return name
        if name not in self.cluster().by_name:
            raise ProvisioningError(f"no role {name!r} in the cluster")
        return name
