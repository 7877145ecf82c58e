"""Provisioning for the PostgreSQL connector: the write capabilities, as mixins of the syncers.

Each write re-reads the catalogs first (so it acts on the server's state, not
on what an earlier sync saw), does nothing and says so when the server
already is as asked (idempotency), runs its statements in one transaction and
drops the snapshot so that later reads see the change.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from psycopg import sql

from pybaton import model
from pybaton.connector.capabilities import (
    AccountInfo,
    CreateAccountResult,
    CreateAccountStatus,
    CredentialOptions,
    DeleteResult,
    GeneratedCredential,
    GrantResult,
    RevokeResult,
)
from pybaton.connector.passwords import system_password, wants_password
from pybaton.connectors.entitlements import entitlement_target
from pybaton.connectors.grants import membership_grant
from pybaton.connectors.postgres import statements
from pybaton.connectors.postgres.catalog import PUBLIC, Securable
from pybaton.connectors.postgres.model import (
    ADMIN,
    ATTRIBUTES,
    MEMBER,
    OWNER,
    parse_privilege_slug,
    privileges_of,
)
from pybaton.connectors.postgres.resources import BOOTSTRAP_SUPERUSER_OID, role_resource
from pybaton.connectors.postgres.source import PgSource
from pybaton.errors import ProvisioningError
from pybaton.pb.c1.connector.v2 import entitlement_pb2, grant_pb2, resource_pb2

log = logging.getLogger("pybaton.connectors.postgres")

MAX_NAME_BYTES = 63  # NAMEDATALEN - 1: longer names are silently truncated by the server


class Writer:
    """What the write mixins share: the source, the syncer's type, target parsing and running SQL."""

    source: PgSource
    resource_type: ClassVar[resource_pb2.ResourceType]

    def _target(self, ent: entitlement_pb2.Entitlement) -> tuple[resource_pb2.ResourceId, str]:
        rid, slug = entitlement_target(ent)
        if rid.resource_type != self.resource_type.id:
            raise ProvisioningError(f"{ent.id!r} is not an entitlement of a {self.resource_type.id}")
        return rid, slug

    def _run(self, stmts: Sequence[sql.Composed], database: str | None = None) -> None:
        try:
            self.source.client.execute(stmts, database)
        finally:
            self.source.invalidate()

    def _grant_of(self, rid: resource_pb2.ResourceId, slug: str, role: str) -> grant_pb2.Grant:
        return membership_grant(model.entitlement_ref(rid, slug), self.source.principal(role),
                                self.source.nested(role))


# -- privileges on databases, schemas, relations, functions, default privileges ---------------------

class PrivilegeWriter(Writer):
    """GRANT / REVOKE of a privilege (``select``, ``select-with-grant-option``…) and ``owner``."""

    def _object(self, rid: resource_pb2.ResourceId) -> Securable | None:
        self.source.invalidate()
        return self.source.securable(rid.resource_type, rid.resource)

    def _privilege(self, obj: Securable, slug: str) -> tuple[str, bool]:
        privilege, option = parse_privilege_slug(slug)
        if privilege not in privileges_of(obj.objtype or obj.kind, self.source.cluster().version):
            raise ProvisioningError(f"{obj.kind} {obj.display_name} has no privilege {slug!r}")
        return privilege, option

    @staticmethod
    def _where(obj: Securable) -> str | None:
        """The database to run in: GRANT ON DATABASE works from the main one (even on a database
        that refuses connections); everything else from its own database."""
        return None if obj.kind == "database" else obj.database

    def grant(self, principal: resource_pb2.Resource, entitlement: entitlement_pb2.Entitlement) -> GrantResult:
        rid, slug = self._target(entitlement)
        obj = self._object(rid)
        if obj is None:
            raise ProvisioningError(f"no {rid.resource_type} {rid.resource} in the cluster")
        role = self.source.role_name(principal.id, allow_public=slug != OWNER)
        if slug == OWNER:
            if obj.alter is None:
                raise ProvisioningError(f"{obj.kind} {obj.display_name} has no owner to change")
            already = obj.owner == role
            statement = statements.alter_owner(obj, role)
        else:
            privilege, option = self._privilege(obj, slug)
            already = obj.holds(role, privilege, option)
            statement = statements.grant_privilege(obj, privilege, role, option)
        if already:
            log.info("%s already holds %s", role, entitlement.id)
        else:
            self._run([statement], self._where(obj))
        return GrantResult([self._grant_of(rid, slug, role)], already_exists=already)

    def revoke(self, grant: grant_pb2.Grant) -> RevokeResult:
        rid, slug = self._target(grant.entitlement)
        if slug == OWNER:
            raise ProvisioningError("every object has an owner: grant 'owner' to another role instead of revoking it")
        obj = self._object(rid)
        role = grant.principal.id.resource
        if obj is None or (role != PUBLIC and role not in self.source.cluster().by_name):
            return RevokeResult(already_revoked=True)
        privilege, option = self._privilege(obj, slug)
        if not obj.holds(role, privilege, option):
            return RevokeResult(already_revoked=True)
        if option and role == obj.owner:
            raise ProvisioningError(f"{role} owns {obj.display_name} and so always holds the grant option; "
                                    "grant 'owner' to another role to take it away")
        self._run([statements.revoke_privilege(obj, privilege, role, grant_option_only=option)], self._where(obj))
        self._check_revoked(rid, role, privilege, option)
        return RevokeResult()

    def _check_revoked(self, rid: resource_pb2.ResourceId, role: str, privilege: str, option: bool) -> None:
        """REVOKE only removes what the acting role (or, for a superuser, the owner) granted: say so
        when someone else's grant keeps the privilege in place, rather than report success."""
        after = self.source.securable(rid.resource_type, rid.resource)
        if after is not None and after.holds(role, privilege, option):
            raise ProvisioningError(f"{role} still holds {privilege.upper()} on {after.display_name}: another role "
                                    "granted it too; revoke it as that role (or with CASCADE from it)")


# -- role membership -------------------------------------------------------------------------------

class MembershipWriter(Writer):
    """GRANT role TO member [WITH ADMIN OPTION] and the matching REVOKEs."""

    def _role(self, rid: resource_pb2.ResourceId) -> str:
        if rid.resource == PUBLIC and rid.resource_type == "role":
            raise ProvisioningError("every role is a member of PUBLIC; that cannot be granted or revoked")
        self.source.invalidate()
        if rid.resource not in self.source.cluster().by_name:
            raise ProvisioningError(f"no role {rid.resource!r} in the cluster")
        return rid.resource

    def _membership(self, role: str, member: str) -> bool | None:
        """None: not a member; else whether with admin option."""
        return dict(self.source.cluster().members.get(role, [])).get(member)

    def grant(self, principal: resource_pb2.Resource, entitlement: entitlement_pb2.Entitlement) -> GrantResult:
        rid, slug = self._target(entitlement)
        if slug not in (MEMBER, ADMIN):
            raise ProvisioningError(f"roles have no entitlement {slug!r}")
        role = self._role(rid)
        member = self.source.role_name(principal.id, allow_public=False)
        admin = self._membership(role, member)
        already = admin is not None and (slug == MEMBER or admin)
        if already:
            log.info("%s already holds %s", member, entitlement.id)
        else:
            self._run([statements.grant_role(role, member, admin=slug == ADMIN)])
        return GrantResult([self._grant_of(rid, slug, member)], already_exists=already)

    def revoke(self, grant: grant_pb2.Grant) -> RevokeResult:
        rid, slug = self._target(grant.entitlement)
        if slug not in (MEMBER, ADMIN):
            raise ProvisioningError(f"roles have no entitlement {slug!r}")
        role = self._role(rid)
        admin = self._membership(role, grant.principal.id.resource)
        if admin is None or (slug == ADMIN and not admin):
            return RevokeResult(already_revoked=True)
        self._run([statements.revoke_role(role, grant.principal.id.resource, admin_only=slug == ADMIN)])
        return RevokeResult()


# -- role attributes -------------------------------------------------------------------------------

class AttributeWriter(Writer):
    """ALTER ROLE … SUPERUSER / NOSUPERUSER and the other security attributes."""

    def _attribute(self, slug: str) -> tuple[str, str]:
        if slug not in ATTRIBUTES:
            raise ProvisioningError(f"the cluster has no attribute {slug!r}; it has {', '.join(ATTRIBUTES)}")
        _, on, off = ATTRIBUTES[slug]
        return on, off

    def grant(self, principal: resource_pb2.Resource, entitlement: entitlement_pb2.Entitlement) -> GrantResult:
        rid, slug = self._target(entitlement)
        on, _ = self._attribute(slug)
        self.source.invalidate()
        role = self.source.role_name(principal.id, allow_public=False)
        already = bool(getattr(self.source.cluster().by_name[role], slug))
        if not already:
            self._run([statements.alter_role(role, on)])
        return GrantResult([model.grant(model.entitlement_ref(rid, slug), self.source.principal(role))],
                           already_exists=already)

    def revoke(self, grant: grant_pb2.Grant) -> RevokeResult:
        _, slug = self._target(grant.entitlement)
        _, off = self._attribute(slug)
        self.source.invalidate()
        row = self.source.cluster().by_name.get(grant.principal.id.resource)
        if row is None or not getattr(row, slug):
            return RevokeResult(already_revoked=True)
        self._run([statements.alter_role(row.name, off)])
        return RevokeResult()


# -- roles themselves: delete, create, passwords ---------------------------------------------------

@dataclass(frozen=True)
class Dependents:
    """What depends on a role, per database ("" for shared objects such as databases)."""

    owned: dict[str, int]
    privileges: dict[str, int]

    @property
    def any(self) -> bool:
        return bool(self.owned or self.privileges)

    @property
    def databases(self) -> list[str]:
        return sorted({*self.owned, *self.privileges} - {""})


@dataclass(frozen=True)
class _DependencyRow:
    database: str
    kind: str
    count: int


_DEPENDENCIES = """
SELECT coalesce(d.datname, '') AS database, s.deptype::text AS kind, count(*)::int8 AS count
FROM pg_shdepend s LEFT JOIN pg_database d ON d.oid = s.dbid
WHERE s.refclassid = 'pg_authid'::regclass AND s.refobjid = %s
GROUP BY 1, 2"""


class RoleDeleter(Writer):
    """DROP ROLE, refusing when the role owns objects unless ``--reassign-owned-to`` says who takes them."""

    def delete_resource(self, resource_id: resource_pb2.ResourceId) -> DeleteResult:
        if resource_id.resource_type != self.resource_type.id:
            raise ProvisioningError(f"{resource_id.resource_type}:{resource_id.resource} is not a "
                                    f"{self.resource_type.id}")
        name = resource_id.resource
        if name == PUBLIC:
            raise ProvisioningError("PUBLIC is not a role and cannot be dropped")
        self.source.invalidate()
        row = self.source.cluster().by_name.get(name)
        if row is None:
            return DeleteResult(already_deleted=True)
        self._refuse_special(name, row.oid)
        deps = self._dependents(row.oid)
        target = self.source.config.reassign_owned_to
        if deps.owned and not target:
            where = ", ".join(sorted(db or "(cluster-wide: databases)" for db in deps.owned))
            raise ProvisioningError(f"role {name!r} owns {sum(deps.owned.values())} object(s) in {where}; set "
                                    "--reassign-owned-to ROLE to hand them over, or drop them first")
        if target:
            self.source.role_name(model.resource_id("role", target), allow_public=False)
        # REASSIGN/DROP OWNED act on the current database and on shared objects (databases themselves).
        places = deps.databases or ([self.source.client.main_database] if deps.any else [])
        for database in places:
            clean = [statements.reassign_owned(name, target)] if target else []
            self._run([*clean, statements.drop_owned(name)], database)
        self._run([statements.drop_role(name)])
        return DeleteResult()

    def _refuse_special(self, name: str, oid: int) -> None:
        """Roles PostgreSQL needs, or this connector needs to go on working."""
        current = self.source.client.value("SELECT current_user")
        if oid == BOOTSTRAP_SUPERUSER_OID or name.startswith("pg_"):
            raise ProvisioningError(f"role {name!r} is built into PostgreSQL and cannot be dropped")
        if name == current:
            raise ProvisioningError(f"role {name!r} is the role this connector is connected as")

    def _dependents(self, oid: int) -> Dependents:
        owned: dict[str, int] = {}
        privileges: dict[str, int] = {}
        for row in self.source.client.rows(_DependencyRow, _DEPENDENCIES, (oid,)):
            bucket = owned if row.kind == "o" else privileges  # "a" ACL, "r" policy, "i" initial privileges
            bucket[row.database] = bucket.get(row.database, 0) + row.count
        return Dependents(owned, privileges)


class AccountWriter(Writer):
    """CREATE ROLE … LOGIN PASSWORD and ALTER ROLE … PASSWORD, with generated passwords."""

    def create_account(self, info: AccountInfo, credentials: CredentialOptions) -> CreateAccountResult:
        name = _valid_role_name(info.login)
        self.source.invalidate()
        if name in self.source.cluster().by_name:
            return CreateAccountResult(CreateAccountStatus.ALREADY_EXISTS, self._resource(name),
                                       message=f"role {name!r} already exists; its password was not changed")
        password = system_password(credentials, system="postgres") if wants_password(credentials) else None
        self._run([statements.create_login_role(name, self._verifier(name, password) if password else None)])
        creds = [GeneratedCredential("password", password, f"password of PostgreSQL role {name}")] if password else []
        return CreateAccountResult(CreateAccountStatus.SUCCESS, self._resource(name), creds)

    def rotate_credentials(self, resource_id: resource_pb2.ResourceId,
                           credentials: CredentialOptions) -> Sequence[GeneratedCredential]:
        name = resource_id.resource
        self.source.invalidate()
        row = self.source.cluster().by_name.get(name)
        if row is None:
            raise ProvisioningError(f"no role {name!r} in the cluster")
        if not row.login:
            raise ProvisioningError(f"role {name!r} cannot log in (NOLOGIN): a password would not be used")
        password = system_password(credentials, system="postgres")
        self._run([statements.set_password(name, self._verifier(name, password))])
        return [GeneratedCredential("password", password, f"password of PostgreSQL role {name}")]

    def _verifier(self, role: str, password: str) -> str:
        """The SCRAM-SHA-256 verifier of ``password``, computed by libpq on this side of the wire."""
        conn = self.source.client.conn()
        return conn.pgconn.encrypt_password(password.encode(), role.encode(), b"scram-sha-256").decode()

    def _resource(self, name: str) -> resource_pb2.Resource | None:
        row = self.source.cluster().by_name.get(name)
        return role_resource(row) if row is not None else None


def _valid_role_name(login: str) -> str:
    """Any name PostgreSQL accepts as a new role (quoting makes any characters safe)."""
    if not login:
        raise ProvisioningError("a role name is required (--create-account-login)")
    if len(login.encode()) > MAX_NAME_BYTES:
        raise ProvisioningError(f"role name {login[:20]!r}… is longer than {MAX_NAME_BYTES} bytes")
    if login.lower() in (PUBLIC, "none") or login.startswith("pg_") or "\x00" in login:
        raise ProvisioningError(f"{login!r} is reserved in PostgreSQL and cannot name a role")
    return login
