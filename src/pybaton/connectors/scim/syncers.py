"""SCIM Users and Groups as Baton resources, and the writes a SCIM server accepts.

* ``user``: the user trait from ``userName`` (login), ``emails`` (primary
  first), ``active`` (``false`` → disabled), ``externalId``, ``name`` and the
  Enterprise User extension (``employeeNumber`` → employee id; department,
  manager…) in the profile. Accounts can be created (POST), deleted (DELETE,
  or deactivated with ``active: false`` when the operator asks) and have their
  password rotated where the server supports ``changePassword``.
* ``group``: every group has a ``member`` entitlement; each member is a grant,
  a nested group's grant is expandable (its members hold the parent's
  membership too). Members are added and removed with PATCH, in batches of at
  most ``max_members_per_patch``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

from pybaton import model
from pybaton.connector import (
    AccountInfo,
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
from pybaton.connector.http import HttpConflictError
from pybaton.connector.passwords import generate_password
from pybaton.connectors.entitlements import static_entitlement
from pybaton.connectors.scim.changes import ScimChanges
from pybaton.connectors.scim.client import ENTERPRISE_SCHEMA, USER_SCHEMA, ScimClient
from pybaton.errors import ProvisioningError
from pybaton.pb.c1.connector.v2 import (
    annotation_resource_tree_pb2,
    annotation_trait_pb2,
    entitlement_pb2,
    grant_pb2,
    resource_pb2,
)

log = logging.getLogger("pybaton.connectors.scim")

USER = model.resource_type("user", "User", traits=["user"], description="A SCIM User",
                           annotations=[annotation_resource_tree_pb2.SkipEntitlementsAndGrants()])
GROUP = model.resource_type("group", "Group", traits=["group"], description="A SCIM Group")

SCIM_TYPE = {"user": "User", "group": "Group"}
BATON_TYPE = {v: k for k, v in SCIM_TYPE.items()}
_ENTERPRISE_PROFILE = ("employeeNumber", "costCenter", "organization", "division", "department")


def _member_of(group_id: str) -> str:
    return model.entitlement_id(GROUP.id, group_id, "member")


def _sub(obj: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """A complex attribute (``name``, the enterprise extension…), or an empty mapping."""
    value = obj.get(key)
    return value if isinstance(value, Mapping) else {}


def _emails(user: Mapping[str, Any]) -> list[str]:
    """Addresses with the primary one first (Baton marks the first as primary)."""
    entries = [e for e in user.get("emails") or [] if isinstance(e, Mapping) and e.get("value")]
    entries.sort(key=lambda e: not e.get("primary"))
    return [str(e["value"]) for e in entries]


def _display_name(user: Mapping[str, Any]) -> str:
    name = _sub(user, "name")
    given = " ".join(str(p) for p in (name.get("givenName"), name.get("familyName")) if p)
    return str(user.get("displayName") or name.get("formatted") or given or user.get("userName") or user["id"])


def user_profile(user: Mapping[str, Any]) -> dict[str, Any]:
    """The profile Baton shows for a user: core attributes plus the Enterprise User extension."""
    name, ext = _sub(user, "name"), _sub(user, ENTERPRISE_SCHEMA)
    manager = _sub(ext, "manager")
    profile: dict[str, Any] = {
        "userName": user.get("userName"), "externalId": user.get("externalId"),
        "givenName": name.get("givenName"), "familyName": name.get("familyName"),
        "title": user.get("title"), "userType": user.get("userType"),
        "manager_id": manager.get("value"), "manager_name": manager.get("displayName"),
    }
    profile.update({key: ext.get(key) for key in _ENTERPRISE_PROFILE})
    return {k: v for k, v in profile.items() if v not in (None, "")}


def user_resource(user: Mapping[str, Any]) -> resource_pb2.Resource:
    """A SCIM User as a Baton ``user`` resource (``active: false`` → disabled)."""
    ext = _sub(user, ENTERPRISE_SCHEMA)
    employee = str(ext.get("employeeNumber") or "")
    status = "disabled" if user.get("active") is False else "enabled"
    trait = model.user_trait(emails=_emails(user), login=str(user.get("userName") or ""), status=status,
                             profile=user_profile(user), employee_ids=[employee] if employee else ())
    return model.resource(USER, str(user["id"]), _display_name(user), description=str(user.get("title") or ""),
                          traits=[trait])


def group_resource(group: Mapping[str, Any]) -> resource_pb2.Resource:
    profile = {k: group.get(k) for k in ("displayName", "externalId") if group.get(k)}
    return model.resource(GROUP, str(group["id"]), str(group.get("displayName") or group["id"]),
                          traits=[model.group_trait(profile)])


class ScimSyncer(ScimChanges, ResourceSyncer):
    """What both types share: paged listing and targeted ``get`` through one :class:`ScimClient`."""

    scim_type: ClassVar[str] = ""
    list_params: ClassVar[Mapping[str, str]] = {}

    def __init__(self, client: ScimClient, filter_expr: str = "") -> None:
        self.client = client
        self.filter = filter_expr

    def build(self, item: Mapping[str, Any]) -> resource_pb2.Resource:
        raise NotImplementedError

    def params(self) -> dict[str, str]:
        return {**self.list_params, **({"filter": self.filter} if self.filter else {})}

    def list(self, parent: resource_pb2.ResourceId | None, page: PageToken) -> Page[resource_pb2.Resource]:
        if parent is not None:
            return Page()
        got = self.client.list_page(self.scim_type, page.token, page.size, params=self.params())
        self.seen(got.resources, first=page.first, last=not got.next_token)
        return Page([self.build(r) for r in got.resources if r.get("id")], got.next_token)

    def seen(self, items: Sequence[Mapping[str, Any]], *, first: bool, last: bool) -> None:
        """Hook: what a listing page showed (groups remember their ids)."""

    def get(self, resource_id: resource_pb2.ResourceId,
            parent: resource_pb2.ResourceId | None = None) -> resource_pb2.Resource | None:
        if resource_id.resource_type != self.resource_type.id:
            return None
        found = self.client.get(self.scim_type, resource_id.resource, params=self.list_params or None)
        return None if found is None else self.build(found)

    def _own(self, resource_id: resource_pb2.ResourceId) -> str:
        if resource_id.resource_type != self.resource_type.id:
            raise ProvisioningError(f"{resource_id.resource_type}:{resource_id.resource} is not a "
                                    f"{self.resource_type.id}")
        return resource_id.resource

    def delete_resource(self, resource_id: resource_pb2.ResourceId) -> DeleteResult:
        return DeleteResult(already_deleted=not self.client.delete(self.scim_type, self._own(resource_id)))


class UserSyncer(ScimSyncer):
    """SCIM Users: listed, created, deleted or deactivated, password rotated."""

    resource_type = USER
    scim_type = "User"

    def __init__(self, client: ScimClient, filter_expr: str = "", *, deactivate: bool = False) -> None:
        super().__init__(client, filter_expr)
        self.deactivate = deactivate

    def build(self, item: Mapping[str, Any]) -> resource_pb2.Resource:
        return user_resource(item)

    def create_account(self, info: AccountInfo, credentials: CredentialOptions) -> CreateAccountResult:
        login = info.login.strip()
        if not login:
            raise ProvisioningError("a SCIM user needs a login (userName)")
        password = generate_password(credentials, who="the SCIM connector") if credentials.kind == "random_password" else ""
        try:
            created = self.client.create(self.scim_type, self._new_user(login, info, password))
        except HttpConflictError:
            existing = self.client.find(self.scim_type, "userName", login)
            return CreateAccountResult(CreateAccountStatus.ALREADY_EXISTS,
                                       user_resource(existing) if existing else None,
                                       message=f"user {login} already exists")
        secrets = [GeneratedCredential("password", password, f"initial password of {login}")] if password else []
        return CreateAccountResult(CreateAccountStatus.SUCCESS, user_resource(created), secrets,
                                   message=f"created user {login}")

    @staticmethod
    def _new_user(login: str, info: AccountInfo, password: str) -> dict[str, Any]:
        profile = info.profile
        body: dict[str, Any] = {"schemas": [USER_SCHEMA], "userName": login, "active": True}
        if info.emails:
            body["emails"] = [{"value": e, "primary": i == 0} for i, e in enumerate(info.emails)]
        name = {k: str(profile[k]) for k in ("givenName", "familyName", "formatted") if profile.get(k)}
        if name:
            body["name"] = name
        for key in ("displayName", "externalId", "title", "userType"):
            if profile.get(key):
                body[key] = str(profile[key])
        ext = {k: str(profile[k]) for k in _ENTERPRISE_PROFILE if profile.get(k)}
        if ext:
            body["schemas"].append(ENTERPRISE_SCHEMA)
            body[ENTERPRISE_SCHEMA] = ext
        if password:
            body["password"] = password
        return body

    def delete_resource(self, resource_id: resource_pb2.ResourceId) -> DeleteResult:
        """DELETE, or with ``deactivate`` set, ``active: false`` (the account stays, disabled)."""
        if not self.deactivate:
            return super().delete_resource(resource_id)
        rid = self._own(resource_id)
        current = self.client.get(self.scim_type, rid, params={"attributes": "active"})
        if current is None or current.get("active") is False:
            return DeleteResult(already_deleted=True)
        self.client.patch(self.scim_type, rid, [{"op": "replace", "path": "active", "value": False}])
        return DeleteResult()

    def rotate_credentials(self, resource_id: resource_pb2.ResourceId,
                           credentials: CredentialOptions) -> Sequence[GeneratedCredential]:
        rid = self._own(resource_id)
        if not self.client.capabilities.change_password:
            raise ProvisioningError("this SCIM server does not support changing passwords (changePassword)")
        if self.client.get(self.scim_type, rid, params={"attributes": "id"}) is None:
            raise ProvisioningError(f"user {rid} does not exist on the SCIM server")
        password = generate_password(credentials, who="the SCIM connector")
        self.client.patch(self.scim_type, rid, [{"op": "replace", "path": "password", "value": password}])
        return [GeneratedCredential("password", password, f"new password of user {rid}")]


class GroupSyncer(ScimSyncer):
    """SCIM Groups: members as grants (nested groups expandable), PATCH to add and remove members."""

    resource_type = GROUP
    scim_type = "Group"
    # Members kept from listing pages until their group's grants are read (then dropped); past this
    # many, further groups are fetched one by one, so memory stays bounded whatever the directory size.
    member_cache_limit: ClassVar[int] = 2_000_000

    def __init__(self, client: ScimClient, filter_expr: str = "", *, batch: int = 50,
                 members_in_list: bool = True) -> None:
        super().__init__(client, filter_expr)
        self.batch = max(1, batch)
        self.members_in_list = members_in_list
        self._listed: dict[str, list[Mapping[str, Any]]] = {}
        self._cached = 0
        self._ids: set[str] = set()
        self._ids_complete = False
        self._from_start = False
        self._ids_lock = threading.Lock()

    def build(self, item: Mapping[str, Any]) -> resource_pb2.Resource:
        return group_resource(item)

    def static_entitlements(self) -> Sequence[entitlement_pb2.Entitlement]:
        return [static_entitlement("member", description="Member of the SCIM group", grantable_to=[USER, GROUP])]

    # -- members -----------------------------------------------------------------------------------

    def params(self) -> dict[str, str]:
        """Without ``members_in_list`` the listing leaves members out and grants fetch each group."""
        return super().params() if self.members_in_list else {**super().params(), "excludedAttributes": "members"}

    def seen(self, items: Sequence[Mapping[str, Any]], *, first: bool, last: bool) -> None:
        """Remember group ids (a member without ``type`` or ``$ref`` is a group iff its id is one),
        and the members the page carried, so reading grants needs no request per group."""
        with self._ids_lock:
            if first:
                self._ids, self._from_start, self._ids_complete = set(), True, False
            self._ids.update(str(g["id"]) for g in items if g.get("id"))
            if last and self._from_start:
                self._ids_complete = True
            for group in items:
                members = group.get("members")
                if group.get("id") and isinstance(members, list) and self._cached + len(members) <= \
                        self.member_cache_limit:
                    self._listed[str(group["id"])] = members
                    self._cached += len(members)

    def _group_ids(self) -> set[str]:
        """Every group id; listed once (ids only) when this process did not see the whole listing."""
        with self._ids_lock:
            if not self._ids_complete:
                listing = self.client.iterate(self.scim_type, 1000, params={"attributes": "id"})
                self._ids = {str(g["id"]) for g in listing if g.get("id")}
                self._ids_complete = True
            return self._ids

    def _principal_type(self, member: Mapping[str, Any]) -> str:
        scim_type = str(member.get("type") or "")
        if scim_type in BATON_TYPE:
            return BATON_TYPE[scim_type]
        ref = str(member.get("$ref") or "")
        if "/Groups/" in ref or "/Users/" in ref:
            return GROUP.id if "/Groups/" in ref else USER.id
        return GROUP.id if str(member["value"]) in self._group_ids() else USER.id

    def members(self, group_id: str, *, fresh: bool = False) -> list[tuple[str, str]]:
        """``(principal_type, id)`` of each member: from the listing if it carried them (once), else
        asked for; ``fresh`` always asks (provisioning must not trust what the sync saw)."""
        with self._ids_lock:
            entries = None if fresh else self._listed.pop(group_id, None)
            self._cached -= len(entries or [])
        if entries is None:
            group = self.client.get(self.scim_type, group_id, params={"attributes": "members"})
            entries = (group or {}).get("members") or []
        return [(self._principal_type(m), str(m["value"])) for m in entries
                if isinstance(m, Mapping) and m.get("value")]

    def grants(self, resource: resource_pb2.Resource, page: PageToken) -> Page[grant_pb2.Grant]:
        ent = model.entitlement_ref(resource, "member")
        return Page([model.grant(ent, model.resource_id(ptype, pid),
                                 expandable=[_member_of(pid)] if ptype == GROUP.id else [])
                     for ptype, pid in self.members(resource.id.resource)])

    # -- provisioning ------------------------------------------------------------------------------

    def grant(self, principal: resource_pb2.Resource, entitlement: entitlement_pb2.Entitlement) -> GrantResult:
        group_id = self._group_of(entitlement)
        ptype, pid = principal.id.resource_type, principal.id.resource
        if ptype not in SCIM_TYPE:
            raise ProvisioningError(f"only users and groups can be SCIM group members, not {ptype!r}")
        if ptype == GROUP.id and pid == group_id:
            raise ProvisioningError(f"group {group_id} cannot be a member of itself")
        result = [model.grant(model.entitlement_ref(model.resource_id(GROUP.id, group_id), "member"),
                              principal.id, expandable=[_member_of(pid)] if ptype == GROUP.id else [])]
        if (ptype, pid) in self.members(group_id, fresh=True):
            return GrantResult(result, already_exists=True)
        self.add_members(group_id, [(ptype, pid)])
        return GrantResult(result)

    def revoke(self, grant: grant_pb2.Grant) -> RevokeResult:
        group_id = self._group_of(grant.entitlement)
        pid = grant.principal.id
        if (pid.resource_type, pid.resource) not in self.members(group_id, fresh=True):
            return RevokeResult(already_revoked=True)
        self.remove_members(group_id, [pid.resource])
        return RevokeResult()

    def add_members(self, group_id: str, members: Iterable[tuple[str, str]]) -> int:
        """Add members with as few PATCH requests as the server's per-request limit allows; how many sent."""
        values = [{"value": pid, "type": SCIM_TYPE[ptype]} for ptype, pid in members]
        for chunk in _chunks(values, self.batch):
            self.client.patch(self.scim_type, group_id, [{"op": "add", "path": "members", "value": chunk}])
        return len(values)

    def remove_members(self, group_id: str, member_ids: Iterable[str]) -> int:
        """Remove members (one filtered ``remove`` operation each), at most ``batch`` operations a request."""
        ops = [{"op": "remove", "path": f'members[value eq "{_quote(mid)}"]'} for mid in member_ids]
        for chunk in _chunks(ops, self.batch):
            self.client.patch(self.scim_type, group_id, chunk)
        return len(ops)

    def _group_of(self, entitlement: entitlement_pb2.Entitlement) -> str:
        rtype, rid, slug = model.split_entitlement_id(entitlement.id)
        if rtype != GROUP.id or slug != "member":
            raise ProvisioningError(f"{entitlement.id!r} is not a SCIM group membership (group:ID:member)")
        return rid


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _chunks(items: Sequence[Any], size: int) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield list(items[start:start + size])


def user_trait_of(resource: resource_pb2.Resource) -> annotation_trait_pb2.UserTrait | None:
    """The user trait of a synced resource (tests and tools read status and emails from it)."""
    return model.annotations.find(resource.annotations, annotation_trait_pb2.UserTrait)


__all__ = ["GROUP", "USER", "GroupSyncer", "ScimSyncer", "UserSyncer", "group_resource", "user_profile",
           "user_resource", "user_trait_of"]
