"""Provisioning for the LDAP connector: the write capabilities, as mixins of the syncers.

Membership is written in the group's own flavour: a DN in ``member``
(groupOfNames, AD groups) or ``uniqueMember`` (groupOfUniqueNames), a login in
``memberUid`` (posixGroup), a DN in ``roleOccupant`` (organizationalRole). A
write reads the entry first and does nothing (saying so) when it already is as
asked; the server's "value exists" / "no such value" answers count as done too,
so two writers racing each other both succeed.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
from collections.abc import Sequence
from typing import Any, ClassVar

import ldap3
from ldap3.utils.conv import escape_filter_chars

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
from pybaton.connectors.ldap import directory
from pybaton.connectors.ldap import dn as dnlib
from pybaton.connectors.ldap.client import (
    ATTRIBUTE_OR_VALUE_EXISTS,
    ENTRY_ALREADY_EXISTS,
    NO_SUCH_ATTRIBUTE,
    NO_SUCH_OBJECT,
    NOT_ALLOWED_ON_NON_LEAF,
    OBJECT_CLASS_VIOLATION,
    Entry,
    Result,
    Search,
)
from pybaton.connectors.ldap.context import LdapContext
from pybaton.connectors.ldap.directory import GROUP, MEMBER, USER
from pybaton.errors import ProvisioningError
from pybaton.model import entitlement_id, entitlement_ref
from pybaton.pb.c1.connector.v2 import entitlement_pb2, grant_pb2, resource_pb2

log = logging.getLogger("pybaton.connectors.ldap")

_MEMBERSHIP_READ = ("objectClass", "gidNumber", "member", "uniqueMember", "memberUid", "roleOccupant")


def ssha(password: str) -> str:
    """``{SSHA}`` userPassword value: base64(SHA-1(password + salt) + salt), 8 random bytes of salt."""
    salt = secrets.token_bytes(8)
    digest = hashlib.sha1(password.encode() + salt).digest()
    return "{SSHA}" + base64.b64encode(digest + salt).decode()


def _refuse(action: str, dn: str, result: Result) -> ProvisioningError:
    return ProvisioningError(f"ldap refused to {action} {dn}: {result.text()}")


class Writer:
    ctx: LdapContext

    def _after_write(self) -> None:
        self.ctx.invalidate()


# -- membership ------------------------------------------------------------------------------------

class MembershipWriter(Writer):
    """Add and remove members of a group or role, in whichever attribute its object class uses."""

    resource_type: ClassVar[resource_pb2.ResourceType]

    def _container(self, rid: resource_pb2.ResourceId) -> Entry | None:
        return self.ctx.client.read(rid.resource, _MEMBERSHIP_READ)

    def _slot(self, container: Entry, principal_type: str, member: Entry | None,
              member_dn: str) -> tuple[str, str]:
        """The attribute and value that make ``member`` a member of ``container``."""
        if container.has_class("organizationalRole"):
            return "roleOccupant", member.dn if member else member_dn
        if container.has_class("groupOfNames") or container.has_class("group"):
            return "member", member.dn if member else member_dn
        if container.has_class("groupOfUniqueNames"):
            return "uniqueMember", member.dn if member else member_dn
        if container.has_class("posixGroup"):
            if principal_type != USER.id:
                raise ProvisioningError(f"{container.dn} is a posixGroup: its members are users (memberUid), "
                                        "not groups")
            uid = (member.first("uid") if member else None) or dnlib.rdn_value(member_dn, "uid")
            if not uid:
                raise ProvisioningError(f"{member_dn} has no uid to put in the posixGroup's memberUid")
            return "memberUid", uid
        raise ProvisioningError(f"{container.dn} has no member attribute this connector knows")

    @staticmethod
    def _stored(container: Entry, attr: str, value: str) -> str | None:
        """The stored value equal to ``value`` (DNs compared canonically, uids case-insensitively)."""
        for stored in container.values(attr):
            if attr == "memberUid":
                if stored.lower() == value.lower():
                    return stored
            elif _same_dn(directory.unique_member_dn(stored), value):
                return stored
        return None

    def _principal_type(self, principal: resource_pb2.ResourceId) -> str:
        if principal.resource_type not in (USER.id, GROUP.id):
            raise ProvisioningError(f"only users and groups can be members, not {principal.resource_type!r}")
        return principal.resource_type

    def grant(self, principal: resource_pb2.Resource, entitlement: entitlement_pb2.Entitlement) -> GrantResult:
        rid = self._target(entitlement)
        ptype = self._principal_type(principal.id)
        container = self._container(rid)
        if container is None:
            raise ProvisioningError(f"no {rid.resource_type} {rid.resource} in the directory")
        member = self.ctx.client.read(principal.id.resource, ("uid", "objectClass"))
        if member is None:
            raise ProvisioningError(f"no entry {principal.id.resource} in the directory")
        if ptype == GROUP.id and _same_dn(member.dn, container.dn):
            raise ProvisioningError(f"{container.dn} cannot be a member of itself")
        attr, value = self._slot(container, ptype, member, member.dn)
        already = self._stored(container, attr, value) is not None
        if not already:
            result = self.ctx.client.modify(container.dn, {attr: [(ldap3.MODIFY_ADD, [value])]})
            already = result.code == ATTRIBUTE_OR_VALUE_EXISTS
            if not (result.ok or already):
                raise _refuse(f"add {value} to", container.dn, result)
            self._after_write()
        nested = entitlement_id(GROUP.id, principal.id.resource, MEMBER) if ptype == GROUP.id else None
        return GrantResult([membership_grant(entitlement_ref(rid, MEMBER), principal.id, nested)],
                           already_exists=already)

    def revoke(self, grant: grant_pb2.Grant) -> RevokeResult:
        rid = self._target(grant.entitlement)
        container = self._container(rid)
        if container is None:
            return RevokeResult(already_revoked=True)
        member_dn = grant.principal.id.resource
        member = self.ctx.client.read(member_dn, ("uid", "gidNumber", "objectClass"))
        attr, value = self._slot(container, self._principal_type(grant.principal.id), member, member_dn)
        stored = self._stored(container, attr, value)
        if stored is None:
            self._check_primary(container, member)
            return RevokeResult(already_revoked=True)
        result = self.ctx.client.modify(container.dn, {attr: [(ldap3.MODIFY_DELETE, [stored])]})
        if result.code == OBJECT_CLASS_VIOLATION:
            raise ProvisioningError(f"cannot remove the last member of {container.dn}: its object class requires "
                                    "one; add another member first, or delete the group")
        if not (result.ok or result.code == NO_SUCH_ATTRIBUTE):
            raise _refuse(f"remove {stored} from", container.dn, result)
        self._after_write()
        return RevokeResult(already_revoked=result.code == NO_SUCH_ATTRIBUTE)

    @staticmethod
    def _check_primary(container: Entry, member: Entry | None) -> None:
        """A POSIX primary group's members are named by their own gidNumber, not on the group."""
        gid = container.first("gidNumber")
        if gid and member is not None and member.first("gidNumber") == gid:
            raise ProvisioningError(f"{member.dn} is in {container.dn} as its primary group (gidNumber {gid}); "
                                    "change the user's gidNumber to remove it")

    def _target(self, entitlement: entitlement_pb2.Entitlement) -> resource_pb2.ResourceId:
        rid, slug = entitlement_target(entitlement)
        if rid.resource_type != self.resource_type.id or slug != MEMBER:
            raise ProvisioningError(f"{entitlement.id!r} is not the member entitlement of a {self.resource_type.id}")
        return rid


def _same_dn(a: str, b: str) -> bool:
    try:
        return dnlib.canonical(a) == dnlib.canonical(b)
    except dnlib.DNError:
        return False


# -- entries: delete -------------------------------------------------------------------------------

class EntryDeleter(Writer):
    """Delete a user or group, first taking it out of every group and role that lists it."""

    resource_type: ClassVar[resource_pb2.ResourceType]

    def delete_resource(self, resource_id: resource_pb2.ResourceId) -> DeleteResult:
        if resource_id.resource_type != self.resource_type.id:
            raise ProvisioningError(f"{resource_id.resource} is not a {self.resource_type.id}")
        entry = self.ctx.client.read(resource_id.resource, ("uid", "objectClass"))
        if entry is None:
            return DeleteResult(already_deleted=True)
        self._remove_references(entry)
        result = self.ctx.client.delete(entry.dn)
        self._after_write()
        if result.code == NO_SUCH_OBJECT:
            return DeleteResult(already_deleted=True)
        if result.code == NOT_ALLOWED_ON_NON_LEAF:
            raise ProvisioningError(f"{entry.dn} has entries below it; move or delete them first")
        if not result.ok:
            raise _refuse("delete", entry.dn, result)
        return DeleteResult()

    def _remove_references(self, entry: Entry) -> None:
        """Take ``entry`` out of member, uniqueMember, memberUid and roleOccupant values (no refint here)."""
        dn_value = escape_filter_chars(entry.dn)
        clauses = [f"(member={dn_value})", f"(uniqueMember={dn_value})", f"(roleOccupant={dn_value})"]
        clauses += [f"(memberUid={escape_filter_chars(uid)})" for uid in entry.values("uid")]
        search = Search(self.ctx.config.base_dn, f"(|{''.join(clauses)})", "sub", _MEMBERSHIP_READ)
        for container in list(self.ctx.client.all(search)):
            self._remove_from(container, entry)

    def _remove_from(self, container: Entry, entry: Entry) -> None:
        for attr in ("member", "uniqueMember", "roleOccupant", "memberUid"):
            if attr == "memberUid":
                stored = [v for v in container.values(attr) if v.lower() in {u.lower() for u in entry.values("uid")}]
            else:
                stored = [v for v in container.values(attr) if _same_dn(directory.unique_member_dn(v), entry.dn)]
            if not stored:
                continue
            result = self.ctx.client.modify(container.dn, {attr: [(ldap3.MODIFY_DELETE, stored)]})
            if result.code == OBJECT_CLASS_VIOLATION:
                log.warning("%s stays listed in %s: it is its last member", entry.dn, container.dn)
            elif not (result.ok or result.code == NO_SUCH_ATTRIBUTE):
                raise _refuse(f"remove {entry.dn} from", container.dn, result)


# -- accounts: create, rotate ----------------------------------------------------------------------

_PROFILE_ATTRIBUTES = {"given_name": "givenName", "first_name": "givenName", "family_name": "sn",
                       "last_name": "sn", "display_name": "displayName", "title": "title",
                       "employee_number": "employeeNumber", "uid_number": "uidNumber", "gid_number": "gidNumber",
                       "home_directory": "homeDirectory", "login_shell": "loginShell"}


class AccountWriter(Writer):
    """Create users (``uid=<login>`` under ``--account-dn``) and set their passwords."""

    def create_account(self, info: AccountInfo, credentials: CredentialOptions) -> CreateAccountResult:
        login = info.login.strip()
        if not login:
            raise ProvisioningError("a login is required (--create-account-login)")
        existing = self._find_login(login)
        if existing is not None:
            return CreateAccountResult(CreateAccountStatus.ALREADY_EXISTS, self._resource(existing),
                                       message=f"{existing.dn} already has uid {login!r}; its password was not changed")
        new_dn = f"uid={dnlib.escape_value(login)},{self._container()}"
        classes, attrs = self._account_attributes(info, login)
        password = system_password(credentials, system="ldap") if wants_password(credentials) else None
        if password is not None and self.ctx.config.password_hash == "ssha":
            attrs["userPassword"] = ssha(password)
        result = self.ctx.client.add(new_dn, classes, attrs)
        if result.code == ENTRY_ALREADY_EXISTS:
            entry = self.ctx.client.read(new_dn, directory.user_attributes(self.ctx.config))
            return CreateAccountResult(CreateAccountStatus.ALREADY_EXISTS, self._resource(entry) if entry else None,
                                       message=f"{new_dn} already exists; its password was not changed")
        if not result.ok:
            raise _refuse("create", new_dn, result)
        self._after_write()
        if password is not None and self.ctx.config.password_hash == "server":
            self._server_password(new_dn, password, rollback=True)
        entry = self.ctx.client.read(new_dn, directory.user_attributes(self.ctx.config))
        creds = [GeneratedCredential("password", password, f"password of {new_dn}")] if password else []
        return CreateAccountResult(CreateAccountStatus.SUCCESS, self._resource(entry) if entry else None, creds)

    def rotate_credentials(self, resource_id: resource_pb2.ResourceId,
                           credentials: CredentialOptions) -> Sequence[GeneratedCredential]:
        entry = self.ctx.client.read(resource_id.resource, ("objectClass",))
        if entry is None:
            raise ProvisioningError(f"no entry {resource_id.resource} in the directory")
        password = system_password(credentials, system="ldap")
        if self.ctx.config.password_hash == "ssha":
            result = self.ctx.client.modify(entry.dn, {"userPassword": [(ldap3.MODIFY_REPLACE, [ssha(password)])]})
            if not result.ok:
                raise _refuse("set the password of", entry.dn, result)
        else:
            self._server_password(entry.dn, password, rollback=False)
        return [GeneratedCredential("password", password, f"password of {entry.dn}")]

    def _server_password(self, dn: str, password: str, *, rollback: bool) -> None:
        """RFC 3062 password modify; a just-created account without its password is removed again."""
        result = self.ctx.client.modify_password(dn, password)
        if result.ok:
            return
        if rollback:
            self.ctx.client.delete(dn)
        raise _refuse("set the password of", dn, result)

    def _container(self) -> str:
        config = self.ctx.config
        return config.account_dn or config.user_search_dn or config.base_dn

    def _find_login(self, login: str) -> Entry | None:
        config = self.ctx.config
        filt = directory.kind_filter(config, f"(&{config.user_filter}(uid={escape_filter_chars(login)}))")
        search = Search(config.search_base("user"), filt, "sub", directory.user_attributes(config))
        return next(iter(self.ctx.client.all(search)), None)

    def _account_attributes(self, info: AccountInfo, login: str) -> tuple[list[str], dict[str, Any]]:
        profile = {_PROFILE_ATTRIBUTES[k]: str(v) for k, v in info.profile.items()
                   if k in _PROFILE_ATTRIBUTES and v not in (None, "")}
        classes = list(self.ctx.config.account_object_classes)
        attrs: dict[str, Any] = {"uid": login, "cn": profile.get("displayName", login), "sn": login, **profile}
        if info.emails:
            attrs["mail"] = list(info.emails)
        if "uidNumber" in attrs and "gidNumber" in attrs:
            classes.append("posixAccount")
            attrs.setdefault("homeDirectory", f"/home/{login}")
        else:
            for posix_only in ("uidNumber", "gidNumber", "homeDirectory", "loginShell"):
                attrs.pop(posix_only, None)
        return classes, attrs

    def _resource(self, entry: Entry) -> resource_pb2.Resource:
        return directory.user_resource(entry, self.ctx.config)
