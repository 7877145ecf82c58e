"""The demo connector's resource syncers: one per Acme resource type.

:class:`DemoSyncer` does what every type shares (keyset-paged listing, ``get``,
grants from the ``access`` table); the mixins add the provisioning
capabilities only to the types that support them, so ``capabilities`` reports
exactly what the demo system can do.
"""

from __future__ import annotations

import datetime as dt
import re
from abc import abstractmethod
from collections.abc import Sequence
from typing import ClassVar

from pybaton import model
from pybaton.connector import (
    AccountInfo,
    Changes,
    CreateAccountResult,
    CreateAccountStatus,
    CredentialOptions,
    DeleteResult,
    GeneratedCredential,
    GrantResult,
    Page,
    PageToken,
    ResourceSyncer,
    RevokeResult,
)
from pybaton.connector.pagination import offset_of
from pybaton.connectors.demo import credentials as creds
from pybaton.connectors.demo import seed
from pybaton.connectors.demo.store import DemoStore, Row
from pybaton.connectors.entitlements import static_entitlement
from pybaton.errors import ProvisioningError
from pybaton.pb.c1.connector.v2 import (
    annotation_resource_tree_pb2,
    annotation_trait_pb2,
    entitlement_pb2,
    grant_pb2,
    resource_pb2,
)

_NO_ACCESS_DATA = annotation_resource_tree_pb2.SkipEntitlementsAndGrants()

USER = model.resource_type("user", "User", traits=["user"], annotations=[_NO_ACCESS_DATA])
GROUP = model.resource_type("group", "Group", traits=["group"])
ROLE = model.resource_type("role", "Role", traits=["role"])
APP = model.resource_type("app", "Application", traits=["app"])
PROJECT = model.resource_type("project", "Project", description="A repository or tracker project inside an app")
API_KEY = model.resource_type("api_key", "API key", traits=["secret"], annotations=[_NO_ACCESS_DATA])

PRINCIPAL_TYPES = ("user", "group")
_LOGIN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


def _timestamp(iso: str) -> dt.datetime:
    return dt.datetime.fromisoformat(iso)


def _member_of(group_id: str) -> str:
    return model.entitlement_id("group", group_id, "member")


def access_grant(target: resource_pb2.ResourceId, slug: str, principal_type: str,
                 principal_id: str) -> grant_pb2.Grant:
    """The grant for one ``access`` row; a group principal passes it on to its members (expandable)."""
    expandable = [_member_of(principal_id)] if principal_type == "group" else []
    return model.grant(model.entitlement_ref(target, slug), model.resource_id(principal_type, principal_id),
                       expandable=expandable)


def _next_key(rows: list[Row], size: int, key: str) -> tuple[list[Row], str]:
    """Split a ``size + 1`` look-ahead fetch into this page and the next token (no empty last page)."""
    if len(rows) <= size:
        return rows, ""
    return rows[:size], str(rows[size - 1][key])


class DemoSyncer(ResourceSyncer):
    """Lists one table of the demo store, a page at a time, in id order."""

    # Child types: the parent's resource type and the column holding its id.
    parent_type: ClassVar[str | None] = None
    parent_column: ClassVar[str] = ""

    def __init__(self, store: DemoStore, page_cap: int) -> None:
        self.store = store
        self.page_cap = page_cap

    @abstractmethod
    def build(self, row: Row) -> resource_pb2.Resource:
        """The resource for one row of this type's table."""

    def _size(self, page: PageToken) -> int:
        """The engine's page size, capped like a real API caps it (so the demo really pages)."""
        return max(1, min(page.size, self.page_cap))

    def list(self, parent: resource_pb2.ResourceId | None, page: PageToken) -> Page[resource_pb2.Resource]:
        parent_type = parent.resource_type if parent is not None else None
        if parent_type != self.parent_type:
            return Page()
        size = self._size(page)
        scope = (self.parent_column, parent.resource) if parent is not None else None
        rows = self.store.page(self.resource_type.id, after=page.token, size=size + 1, parent=scope)
        rows, token = _next_key(rows, size, "id")
        return Page([self.build(r) for r in rows], token)

    def get(self, resource_id: resource_pb2.ResourceId,
            parent: resource_pb2.ResourceId | None = None) -> resource_pb2.Resource | None:
        if resource_id.resource_type != self.resource_type.id:
            return None
        row = self.store.get(resource_id.resource_type, resource_id.resource)
        return None if row is None else self.build(row)

    def current_cursor(self) -> str:
        return self.store.change_cursor()

    def changes(self, cursor: str) -> Changes:
        """Resources of this type the change log names since ``cursor``: re-read, or gone."""
        ids, after = self.store.changed_since(self.resource_type.id, cursor)
        rows = {i: self.store.get(self.resource_type.id, i) for i in ids}
        return Changes(after, resources=[self.build(r) for r in rows.values() if r is not None],
                       deleted_resources=[model.resource_id(self.resource_type.id, i)
                                          for i, r in rows.items() if r is None])

    def grants(self, resource: resource_pb2.Resource, page: PageToken) -> Page[grant_pb2.Grant]:
        size = self._size(page)
        rows = self.store.access(resource.id.resource_type, resource.id.resource, after=offset_of(page.token),
                                 size=size + 1)
        rows, token = _next_key(rows, size, "seq")
        return Page([access_grant(resource.id, r["slug"], r["principal_type"], r["principal_id"]) for r in rows],
                    token)

    def _own(self, resource_id: resource_pb2.ResourceId) -> str:
        """The id of ``resource_id`` after checking it is of this syncer's type."""
        if resource_id.resource_type != self.resource_type.id:
            raise ProvisioningError(f"{resource_id.resource_type}:{resource_id.resource} is not a "
                                    f"{self.resource_type.id}")
        return resource_id.resource


class GrantableSyncer(DemoSyncer):
    """Grant and revoke entitlements of this type to users and groups, saying when there was nothing to do."""

    static_slugs: ClassVar[tuple[str, ...]] = ()

    def grant(self, principal: resource_pb2.Resource, entitlement: entitlement_pb2.Entitlement) -> GrantResult:
        target, slug = self._target(entitlement)
        ptype, pid = principal.id.resource_type, principal.id.resource
        self._check_principal(target, ptype, pid)
        added = self.store.add_access(target.resource_type, target.resource, slug, ptype, pid)
        return GrantResult([access_grant(target, slug, ptype, pid)], already_exists=not added)

    def revoke(self, grant: grant_pb2.Grant) -> RevokeResult:
        target, slug = self._target(grant.entitlement, must_exist=False)
        pid = grant.principal.id
        removed = self.store.remove_access(target.resource_type, target.resource, slug, pid.resource_type,
                                           pid.resource)
        return RevokeResult(already_revoked=not removed)

    def _target(self, entitlement: entitlement_pb2.Entitlement, *,
                must_exist: bool = True) -> tuple[resource_pb2.ResourceId, str]:
        """The entitlement's resource and slug, checked against the store when granting."""
        if entitlement.resource.id.resource:
            target = entitlement.resource.id
            slug = entitlement.slug or entitlement.id.rpartition(":")[2]
        else:
            rtype, rid, slug = model.split_entitlement_id(entitlement.id)
            target = model.resource_id(rtype, rid)
        self._own(target)
        if must_exist and not self._offers(target.resource, slug):
            raise ProvisioningError(f"no entitlement {entitlement.id!r} in the demo system")
        return target, slug

    def _offers(self, resource_id: str, slug: str) -> bool:
        if not self.store.exists(self.resource_type.id, resource_id):
            return False
        return slug in self.static_slugs or self.store.has_entitlement(self.resource_type.id, resource_id, slug)

    def _check_principal(self, target: resource_pb2.ResourceId, ptype: str, pid: str) -> None:
        if ptype not in PRINCIPAL_TYPES:
            raise ProvisioningError(f"only users and groups can hold demo entitlements, not {ptype!r}")
        if not self.store.exists(ptype, pid):
            raise ProvisioningError(f"principal {ptype}:{pid} does not exist in the demo system")
        if ptype == "group" and target.resource_type == "group" and self.store.group_contains(pid, target.resource):
            raise ProvisioningError(f"group {pid} contains group {target.resource}: nesting it there "
                                    "would make a cycle")


class DeletableSyncer(DemoSyncer):
    """Delete resources of this type; deleting what is gone succeeds and says so."""

    def delete_resource(self, resource_id: resource_pb2.ResourceId) -> DeleteResult:
        return DeleteResult(already_deleted=not self.store.delete(self.resource_type.id, self._own(resource_id)))


class RotatableSyncer(DemoSyncer):
    """Replace a resource's secret; the store keeps only its hash."""

    credential_name: ClassVar[str] = "password"

    def rotate_credentials(self, resource_id: resource_pb2.ResourceId,
                           credentials: CredentialOptions) -> Sequence[GeneratedCredential]:
        rid = self._own(resource_id)
        if not self.store.exists(self.resource_type.id, rid):
            raise ProvisioningError(f"{self.resource_type.id}:{rid} does not exist in the demo system")
        return [self._new_secret(rid, credentials)]

    def _new_secret(self, rid: str, options: CredentialOptions) -> GeneratedCredential:
        value = creds.generate(options)
        self.store.set_credential(self.resource_type.id, rid, creds.hash_secret(value))
        return GeneratedCredential(self.credential_name, value, f"new {self.credential_name} of "
                                                                 f"{self.resource_type.id}:{rid}")


class UserSyncer(DeletableSyncer, RotatableSyncer):
    """Employees and the deploy bot; accounts can be created, deleted and have their password rotated."""

    resource_type = USER

    def build(self, row: Row) -> resource_pb2.Resource:
        profile = {k: row[k] for k in ("department", "team", "title", "manager_id") if row[k]}
        trait = model.user_trait(emails=[row["email"]], login=row["id"], status=row["status"],
                                 account_type=row["account_type"], profile=profile,
                                 employee_ids=[row["employee_id"]] if row["employee_id"] else ())
        trait.created_at.FromDatetime(_timestamp(row["created_at"]))
        given, _, family = str(row["display_name"]).partition(" ")
        trait.structured_name.CopyFrom(annotation_trait_pb2.UserTrait.StructuredName(
            given_name=given, family_name=family))
        return model.resource(USER, row["id"], row["display_name"], description=row["title"], traits=[trait])

    def create_account(self, info: AccountInfo, credentials: CredentialOptions) -> CreateAccountResult:
        login = info.login.strip().lower()
        if not _LOGIN.match(login):
            raise ProvisioningError(f"login {info.login!r} is not valid (lowercase letters, digits, . _ -)")
        existing = self.store.get("user", login)
        if existing is not None:
            return CreateAccountResult(CreateAccountStatus.ALREADY_EXISTS, self.build(existing),
                                       message=f"user {login} already exists")
        secret = _initial_password(credentials)
        person = self._person(login, info)
        if not self.store.create_user(person, creds.hash_secret(secret) if secret else None):
            existing = self.store.get("user", login)
            return CreateAccountResult(CreateAccountStatus.ALREADY_EXISTS,
                                       self.build(existing) if existing is not None else None)
        created = [GeneratedCredential("password", secret, f"initial password of {login}")] if secret else []
        row = self.store.get("user", login)
        return CreateAccountResult(CreateAccountStatus.SUCCESS, self.build(row) if row is not None else None,
                                   created, message=f"created user {login}")

    def _person(self, login: str, info: AccountInfo) -> seed.Person:
        profile = info.profile
        manager = str(profile.get("manager_id") or "") or None
        if manager is not None and not self.store.exists("user", manager):
            raise ProvisioningError(f"manager {manager!r} does not exist in the demo system")
        email = info.emails[0] if info.emails else f"{login}@{seed.DOMAIN}"
        return seed.Person(
            id=login, display_name=str(profile.get("display_name") or profile.get("name") or login), email=email,
            department=str(profile.get("department") or "unassigned"), team=None,
            title=str(profile.get("title") or ""), manager_id=manager,
            employee_id=str(profile.get("employee_id") or ""),
            created_at=dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat())


def _initial_password(options: CredentialOptions) -> str:
    """A random password, or ``""`` when the account signs in another way (``none``, ``sso``)."""
    return creds.generate(options) if options.kind == "random_password" else ""


class GroupSyncer(GrantableSyncer, DeletableSyncer):
    """Groups, nested through group-principal memberships (expandable grants)."""

    resource_type = GROUP
    static_slugs = ("member",)

    def build(self, row: Row) -> resource_pb2.Resource:
        return model.resource(GROUP, row["id"], row["display_name"], description=row["description"],
                              traits=[model.group_trait()])

    def static_entitlements(self) -> Sequence[entitlement_pb2.Entitlement]:
        return [static_entitlement("member", description="Member of the group", grantable_to=[USER, GROUP])]


class RoleSyncer(GrantableSyncer):
    """Console roles, assigned to users or (expandably) to groups."""

    resource_type = ROLE
    static_slugs = ("assigned",)

    def build(self, row: Row) -> resource_pb2.Resource:
        return model.resource(ROLE, row["id"], row["display_name"], description=row["description"],
                              traits=[model.role_trait()])

    def static_entitlements(self) -> Sequence[entitlement_pb2.Entitlement]:
        return [static_entitlement("assigned", description="Has the role", grantable_to=[USER, GROUP])]


class _CatalogSyncer(GrantableSyncer):
    """Types whose entitlements differ per resource (stored in the ``entitlements`` table)."""

    def entitlements(self, resource: resource_pb2.Resource,
                     page: PageToken) -> Page[entitlement_pb2.Entitlement]:
        size = self._size(page)
        rows = self.store.entitlements(resource.id.resource_type, resource.id.resource,
                                       after=offset_of(page.token), size=size + 1)
        rows, token = _next_key(rows, size, "seq")
        purpose = {"assignment": model.ASSIGNMENT, "permission": model.PERMISSION}
        return Page([model.entitlement(resource, r["slug"], purpose=purpose[r["purpose"]],
                                       display_name=r["display_name"], grantable_to=[USER, GROUP])
                     for r in rows], token)


class AppSyncer(_CatalogSyncer):
    """SaaS apps with their own permissions; projects are their child resources."""

    resource_type = APP

    def build(self, row: Row) -> resource_pb2.Resource:
        return model.resource(APP, row["id"], row["display_name"], description=row["description"],
                              traits=[model.app_trait(help_url=row["help_url"])], child_types=[PROJECT.id])


class ProjectSyncer(_CatalogSyncer):
    """Repositories and tracker projects, listed under their app (a child resource type)."""

    resource_type = PROJECT
    parent_type = APP.id
    parent_column = "app_id"

    def build(self, row: Row) -> resource_pb2.Resource:
        return model.resource(PROJECT, row["id"], row["display_name"], description=row["description"],
                              parent=model.resource_id(APP.id, row["app_id"]))


class ApiKeySyncer(DeletableSyncer, RotatableSyncer):
    """API keys (secret trait) owned by service accounts; rotating one issues a new key."""

    resource_type = API_KEY
    credential_name = "api_key"

    def build(self, row: Row) -> resource_pb2.Resource:
        trait = annotation_trait_pb2.SecretTrait(
            identity_id=model.resource_id(USER.id, row["owner_id"]),
            credential_type=annotation_trait_pb2.SecretTrait.CREDENTIAL_TYPE_STATIC_SECRET)
        if row["created_by_id"]:
            trait.created_by_id.CopyFrom(model.resource_id(USER.id, row["created_by_id"]))
        trait.created_at.FromDatetime(_timestamp(row["created_at"]))
        trait.expires_at.FromDatetime(_timestamp(row["expires_at"]))
        return model.resource(API_KEY, row["id"], row["display_name"], traits=[trait])


def all_syncers(store: DemoStore, page_cap: int) -> list[DemoSyncer]:
    """In sync order: principals first, then what they are granted."""
    classes: tuple[type[DemoSyncer], ...] = (UserSyncer, GroupSyncer, RoleSyncer, AppSyncer, ProjectSyncer,
                                             ApiKeySyncer)
    return [cls(store, page_cap) for cls in classes]
