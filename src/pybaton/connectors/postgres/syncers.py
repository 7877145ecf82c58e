"""The PostgreSQL connector's resource syncers (the read side; writes are in :mod:`.writers`).

Every syncer serves pages out of the :class:`~.source.PgSource` snapshot, so
listing 5,000 roles or the grants of 200 tables costs no query per resource.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar

from pybaton import model
from pybaton.connector import Page, PageToken, ResourceSyncer
from pybaton.connectors.grants import GrantMaker
from pybaton.connectors.paging import PageCache, page_map, page_of
from pybaton.connectors.postgres import writers
from pybaton.connectors.postgres.catalog import PUBLIC, RoleRow, Securable
from pybaton.connectors.postgres.model import (
    ADMIN,
    ATTRIBUTES,
    CLUSTER,
    DATABASE,
    DEFAULT_PRIVILEGE,
    FUNCTION,
    MEMBER,
    OWNER,
    PRINCIPAL_TYPES,
    ROLE,
    SCHEMA,
    SEQUENCE,
    TABLE,
    USER,
    VIEW,
    attribute_entitlements,
    membership_entitlements,
    privilege_entitlements,
    privilege_slug,
    privileges_of,
)
from pybaton.connectors.postgres.resources import public_resource, role_resource, securable_resource
from pybaton.connectors.postgres.source import PgSource
from pybaton.pb.c1.connector.v2 import entitlement_pb2, grant_pb2, resource_pb2

CLUSTER_ID = "cluster"


Row = tuple[str, str]  # (entitlement slug, role name): a grant before it is built


class PgSyncer(ResourceSyncer):
    """What every PostgreSQL syncer shares: the source, ``get`` through :meth:`lookup`, and grant
    pages built from ``(slug, role)`` rows computed once per resource."""

    def __init__(self, source: PgSource) -> None:
        self.source = source
        self._grant_rows: PageCache[Row] = PageCache()

    def _grant_page(self, rid: resource_pb2.ResourceId, page: PageToken, compute: Callable[[], Sequence[Row]],
                    *, expandable: bool = True) -> Page[grant_pb2.Grant]:
        """Grants of ``rid``, one page; ``expandable``: a grant to a role with members passes on to them."""
        rows = self._grant_rows.rows(f"{rid.resource_type}:{rid.resource}", self.source.cluster(), compute)
        make, source = GrantMaker(rid), self.source
        return page_map(rows, page, lambda row: make(row[0], source.principal(row[1]),
                                                     source.nested(row[1]) if expandable else None))

    def lookup(self, rid: str) -> resource_pb2.Resource | None:
        """The resource ``rid`` of this syncer's type, from the snapshot."""
        raise NotImplementedError

    def get(self, resource_id: resource_pb2.ResourceId,
            parent: resource_pb2.ResourceId | None = None) -> resource_pb2.Resource | None:
        if resource_id.resource_type != self.resource_type.id:
            return None
        return self.lookup(resource_id.resource)


# -- the cluster and its role attributes -----------------------------------------------------------

class ClusterSyncer(writers.AttributeWriter, PgSyncer):
    """One resource holding the role attributes (``superuser``, ``createdb`` …) as entitlements."""

    resource_type = CLUSTER

    def list(self, parent: resource_pb2.ResourceId | None, page: PageToken) -> Page[resource_pb2.Resource]:
        if parent is not None:
            return Page()
        return Page([self._cluster_resource()])

    def lookup(self, rid: str) -> resource_pb2.Resource | None:
        return self._cluster_resource() if rid == CLUSTER_ID else None

    def _cluster_resource(self) -> resource_pb2.Resource:
        version = self.source.cluster().version
        res = model.resource(CLUSTER, CLUSTER_ID, f"PostgreSQL {version // 10000} at {self.source.client.endpoint}")
        res.profile.CopyFrom(model.struct({"server_version_num": version, "endpoint": self.source.client.endpoint}))
        return res

    def static_entitlements(self) -> Sequence[entitlement_pb2.Entitlement]:
        return attribute_entitlements()

    def grants(self, resource: resource_pb2.Resource, page: PageToken) -> Page[grant_pb2.Grant]:
        """Role attributes are never inherited through membership: not expandable."""
        roles = self.source.cluster().roles
        return self._grant_page(resource.id, page, lambda: [(attr, row.name) for row in roles
                                                            for attr in ATTRIBUTES if getattr(row, attr)],
                                expandable=False)


# -- roles -----------------------------------------------------------------------------------------

class RoleSyncer(writers.MembershipWriter, writers.RoleDeleter, PgSyncer):
    """Roles without LOGIN (group roles), and the PUBLIC pseudo-role first."""

    resource_type = ROLE
    login: ClassVar[bool] = False

    def _roles(self) -> list[RoleRow | None]:
        """This type's roles in name order; ``None`` stands for PUBLIC, first among group roles."""
        found: list[RoleRow | None] = [r for r in self.source.cluster().roles if r.login == self.login]
        return found if self.login else [None, *found]

    def list(self, parent: resource_pb2.ResourceId | None, page: PageToken) -> Page[resource_pb2.Resource]:
        if parent is not None:
            return Page()
        return page_map(self._roles(), page, lambda r: public_resource() if r is None else role_resource(r))

    def lookup(self, rid: str) -> resource_pb2.Resource | None:
        if rid == PUBLIC and not self.login:
            return public_resource()
        row = self.source.cluster().by_name.get(rid)
        return role_resource(row) if row is not None and row.login == self.login else None

    def static_entitlements(self) -> Sequence[entitlement_pb2.Entitlement]:
        return membership_entitlements()

    def grants(self, resource: resource_pb2.Resource, page: PageToken) -> Page[grant_pb2.Grant]:
        rid = resource.id
        if rid.resource == PUBLIC and rid.resource_type == ROLE.id:
            return self._grant_page(rid, page, self._public_members, expandable=False)
        return self._grant_page(rid, page, lambda: self._members(rid.resource))

    def _public_members(self) -> Sequence[Row]:
        """Every role is a member of PUBLIC (recorded only with ``--expand-public``)."""
        if not self.source.config.expand_public:
            return []
        return [(MEMBER, r.name) for r in self.source.cluster().roles]

    def _members(self, role: str) -> Sequence[Row]:
        """``member`` (and ``admin``, with the admin option) per pg_auth_members."""
        rows: list[Row] = []
        for member, admin in self.source.cluster().members.get(role, []):
            rows.append((MEMBER, member))
            if admin:
                rows.append((ADMIN, member))
        return rows


class UserSyncer(writers.AccountWriter, RoleSyncer):
    """Roles with LOGIN: accounts, which can be created, deleted and given new passwords."""

    resource_type = USER
    login = True


# -- databases, schemas and what is in them --------------------------------------------------------

class SecurableSyncer(writers.PrivilegeWriter, PgSyncer):
    """A kind of object with an ACL and an owner, listed under its parent (a database or schema)."""

    parent_types: ClassVar[tuple[str, ...]] = ("schema",)

    def _objects(self, parent: resource_pb2.ResourceId | None) -> Sequence[Securable]:
        if parent is None or parent.resource_type not in self.parent_types:
            return []
        return self.source.children(parent, self.resource_type.id)

    def list(self, parent: resource_pb2.ResourceId | None, page: PageToken) -> Page[resource_pb2.Resource]:
        return page_map(self._objects(parent), page, securable_resource)

    def lookup(self, rid: str) -> resource_pb2.Resource | None:
        obj = self.source.securable(self.resource_type.id, rid)
        return securable_resource(obj) if obj is not None else None

    def static_entitlements(self) -> Sequence[entitlement_pb2.Entitlement]:
        kind = self.resource_type.id
        return privilege_entitlements(privileges_of(kind, self.source.cluster().version), owner=True)

    def grants(self, resource: resource_pb2.Resource, page: PageToken) -> Page[grant_pb2.Grant]:
        obj = self.source.securable(self.resource_type.id, resource.id.resource)
        return self._grant_page(resource.id, page, lambda: self._acl_rows(obj) if obj is not None else [])

    def _acl_rows(self, obj: Securable) -> Sequence[Row]:
        """One grant per privilege held (two with the grant option), and ``owner``."""
        known = set(self._privileges(obj))
        rows: list[Row] = []
        for entry in obj.acl:
            if entry.privilege in known:
                options = (False, True) if obj.may_grant(entry) else (False,)
                rows.extend((privilege_slug(entry.privilege, option), entry.grantee) for option in options)
        if obj.owner is not None:
            rows.append((OWNER, obj.owner))
        return rows

    def _privileges(self, obj: Securable) -> tuple[str, ...]:
        return privileges_of(obj.objtype or obj.kind, self.source.cluster().version)


class DatabaseSyncer(SecurableSyncer):
    resource_type = DATABASE

    def _objects(self, parent: resource_pb2.ResourceId | None) -> Sequence[Securable]:
        return self.source.databases() if parent is None else []


class SchemaSyncer(SecurableSyncer):
    resource_type = SCHEMA
    parent_types = ("database",)


class TableSyncer(SecurableSyncer):
    resource_type = TABLE


class ViewSyncer(SecurableSyncer):
    resource_type = VIEW


class SequenceSyncer(SecurableSyncer):
    resource_type = SEQUENCE


class FunctionSyncer(SecurableSyncer):
    resource_type = FUNCTION


class DefaultPrivilegeSyncer(SecurableSyncer):
    """``ALTER DEFAULT PRIVILEGES`` entries: their entitlements depend on the kind of object they cover."""

    resource_type = DEFAULT_PRIVILEGE
    parent_types = ("database", "schema")

    def static_entitlements(self) -> Sequence[entitlement_pb2.Entitlement]:
        return []

    def entitlements(self, resource: resource_pb2.Resource,
                     page: PageToken) -> Page[entitlement_pb2.Entitlement]:
        obj = self.source.securable(self.resource_type.id, resource.id.resource)
        if obj is None:
            return Page()
        return page_of([_stamp(t, resource) for t in privilege_entitlements(self._privileges(obj), owner=False)],
                       page)


def _stamp(template: entitlement_pb2.Entitlement, resource: resource_pb2.Resource) -> entitlement_pb2.Entitlement:
    """A template entitlement placed on one resource (what the engine does for static entitlements)."""
    return model.entitlement(resource, template.slug, purpose=template.purpose, display_name=template.display_name,
                             description=template.description, grantable_to=PRINCIPAL_TYPES)


def all_syncers(source: PgSource) -> list[PgSyncer]:
    """In sync order: principals first, then the tree from the databases down."""
    return [ClusterSyncer(source), UserSyncer(source), RoleSyncer(source), DatabaseSyncer(source),
            SchemaSyncer(source), TableSyncer(source), ViewSyncer(source), SequenceSyncer(source),
            FunctionSyncer(source), DefaultPrivilegeSyncer(source)]
