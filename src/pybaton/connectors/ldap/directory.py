"""Directory entries as Baton resources, and the index that resolves group members.

Group members come in three spellings: DNs (``member``, ``uniqueMember``,
``roleOccupant``), login names (a posixGroup's ``memberUid``) and, for a POSIX
primary group, nothing at all on the group — the users point at it with their
``gidNumber``. :class:`DirectoryIndex` (all user DNs with their uid and
gidNumber, all group DNs) turns each into a principal, and tells a member that
is a group (nested: the grant is expandable) from one that is a user.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from google.protobuf import timestamp_pb2

from pybaton import model
from pybaton.connectors.ldap import dn as dnlib
from pybaton.connectors.ldap.client import Entry, LdapClient, Search
from pybaton.connectors.ldap.config import DEFAULT_OU_FILTER, LdapConfig
from pybaton.pb.c1.connector.v2 import annotation_resource_tree_pb2, annotation_trait_pb2, resource_pb2

MEMBER = "member"
_NO_ACCESS_DATA = annotation_resource_tree_pb2.SkipEntitlementsAndGrants()

USER = model.resource_type("user", "User", traits=["user"], annotations=[_NO_ACCESS_DATA])
GROUP = model.resource_type("group", "Group", traits=["group"],
                            description="groupOfNames, groupOfUniqueNames, posixGroup or an AD group")
ROLE = model.resource_type("role", "Role", traits=["role"], description="organizationalRole (roleOccupant)")
ORG_UNIT = model.resource_type("org_unit", "Organizational unit", annotations=[_NO_ACCESS_DATA])

# Attributes that say an account is disabled, in the schemas that have them.
STATUS_ATTRIBUTES = ("pwdAccountLockedTime", "nsAccountLock", "loginDisabled", "userAccountControl",
                     "shadowExpire")
# Attributes every user search asks for, besides the configured login and profile attributes.
USER_ATTRIBUTES = ("objectClass", "uid", "cn", "sn", "givenName", "displayName", "mail", "gidNumber",
                   "employeeNumber", "createTimestamp", "authTimestamp", "lastLogonTimestamp")
GROUP_ATTRIBUTES = ("objectClass", "cn", "description", "gidNumber")
MEMBER_ATTRIBUTES = ("member", "uniqueMember", "memberUid", "roleOccupant")
_HUMAN_CLASSES = ("person", "organizationalperson", "inetorgperson", "user")
_EPOCH = dt.date(1970, 1, 1)


def kind_filter(config: LdapConfig, base_filter: str) -> str:
    """``base_filter`` ANDed with the operator's ``--filter`` (if any)."""
    return f"(&{base_filter}{config.filter})" if config.filter else base_filter


def user_attributes(config: LdapConfig) -> tuple[str, ...]:
    extra = [config.disabled_attribute] if config.disabled_attribute else []
    wanted = [*USER_ATTRIBUTES, *STATUS_ATTRIBUTES, *config.login_attributes, *config.profile_attributes, *extra]
    return tuple(dict.fromkeys(wanted))


# -- the index -------------------------------------------------------------------------------------

class Resolver(Protocol):
    """Turns what a group names (DNs, uids, a primary gidNumber) into users and groups."""

    def prepare(self, entry: Entry, attributes: Sequence[str]) -> None:
        """Look up at once what ``entry`` names (a lazy resolver's batching hook)."""

    def principal(self, member_dn: str) -> resource_pb2.ResourceId | None: ...

    def user_of_uid(self, uid: str) -> str | None: ...

    def users_of_gid(self, gid: str) -> tuple[str, ...]: ...

    def parent_of(self, entry_id: str) -> str | None: ...


@dataclass(frozen=True)
class DirectoryIndex:
    users: frozenset[str]
    groups: frozenset[str]
    by_uid: dict[str, str]  # uid → user id (memberUid)
    by_gid: dict[str, tuple[str, ...]]  # gidNumber → user ids (primary groups)
    org_units: frozenset[str]

    def principal(self, member_dn: str) -> resource_pb2.ResourceId | None:
        """The user or group a member DN names (None for entries outside what we sync)."""
        try:
            cid = dnlib.canonical(member_dn)
        except dnlib.DNError:
            return None
        if cid in self.users:
            return model.resource_id(USER.id, cid)
        if cid in self.groups:
            return model.resource_id(GROUP.id, cid)
        return None

    def parent_of(self, entry_id: str) -> str | None:
        """The organizational unit an entry sits in, when OUs are synced."""
        parent = dnlib.parent(entry_id)
        return parent if parent in self.org_units else None

    def prepare(self, entry: Entry, attributes: Sequence[str]) -> None:
        """Nothing to do: the whole directory is indexed."""

    def user_of_uid(self, uid: str) -> str | None:
        return self.by_uid.get(uid.lower())

    def users_of_gid(self, gid: str) -> tuple[str, ...]:
        return self.by_gid.get(gid, ())


def build_index(client: LdapClient, config: LdapConfig) -> DirectoryIndex:
    """Three searches: users (uid, gidNumber), groups (DNs only) and, if synced, organizational units."""
    users: set[str] = set()
    by_uid: dict[str, str] = {}
    by_gid: dict[str, list[str]] = defaultdict(list)
    for entry in client.all(Search(config.search_base("user"), kind_filter(config, config.user_filter), "sub",
                                   ("uid", "gidNumber"))):
        users.add(entry.id)
        for uid in entry.values("uid"):
            by_uid.setdefault(uid.lower(), entry.id)
        gid = entry.first("gidNumber")
        if gid:
            by_gid[gid].append(entry.id)
    groups = {e.id for e in client.all(Search(config.search_base("group"), kind_filter(config, config.group_filter)))}
    units = {e.id for e in client.all(Search(config.base_dn, kind_filter(config, DEFAULT_OU_FILTER)))} \
        if config.org_units else set()
    return DirectoryIndex(frozenset(users), frozenset(groups), by_uid,
                          {k: tuple(sorted(v)) for k, v in by_gid.items()}, frozenset(units))


# -- entries → resources ---------------------------------------------------------------------------

def _timestamp(value: str | None) -> timestamp_pb2.Timestamp | None:
    """``20261126054706Z`` (generalized time) or an AD file time, as a protobuf timestamp."""
    if not value:
        return None
    if value.isdigit() and len(value) > 14:  # Windows file time: 100 ns ticks since 1601
        when = dt.datetime(1601, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=int(value) // 10)
    else:
        digits = value[:14]
        if len(digits) != 14 or not digits.isdigit():
            return None
        try:
            when = dt.datetime(int(digits[0:4]), int(digits[4:6]), int(digits[6:8]), int(digits[8:10]),
                               int(digits[10:12]), int(digits[12:14]), tzinfo=dt.UTC)
        except ValueError:
            return None
    out = timestamp_pb2.Timestamp()
    out.FromDatetime(when)
    return out


def is_disabled(entry: Entry, config: LdapConfig, today: dt.date | None = None) -> bool:
    """Whether the schema says the account cannot be used: locked (ppolicy), nsAccountLock (389 DS),
    loginDisabled (eDirectory), ACCOUNTDISABLE (AD), an expired shadowExpire, or the configured attribute."""
    if entry.first("pwdAccountLockedTime"):
        return True
    if any((entry.first(a) or "").lower() == "true" for a in ("nsAccountLock", "loginDisabled")):
        return True
    control = entry.first("userAccountControl") or ""
    if control.isdigit() and int(control) & 2:
        return True
    expire = entry.first("shadowExpire") or ""
    if expire.lstrip("-").isdigit() and 0 <= int(expire) <= ((today or dt.date.today()) - _EPOCH).days:
        return True
    return _custom_disabled(entry, config)


def _custom_disabled(entry: Entry, config: LdapConfig) -> bool:
    if not config.disabled_attribute:
        return False
    values = [v.lower() for v in entry.values(config.disabled_attribute)]
    wanted = {v.lower() for v in config.disabled_values}
    return bool(values) and (not wanted or any(v in wanted for v in values))


def _login(entry: Entry, config: LdapConfig) -> tuple[str, list[str]]:
    """The first login attribute present, and the other identifiers as aliases."""
    names = [v for a in config.login_attributes for v in entry.values(a)[:1] if v.isprintable()]
    login = names[0] if names else ""
    return login, [n for n in dict.fromkeys(names[1:]) if n != login]


def _profile(entry: Entry, names: Iterable[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in names:
        values = entry.values(name)
        if values and "password" not in name.lower():
            out[name] = values[0] if len(values) == 1 else values
    return out


def _with_parent(res: resource_pb2.Resource, entry: Entry, index: Resolver | None) -> resource_pb2.Resource:
    parent = index.parent_of(entry.id) if index is not None else None
    if parent is not None:
        res.parent_resource_id.CopyFrom(model.resource_id(ORG_UNIT.id, parent))
    res.external_id.id = entry.dn
    return res


def user_resource(entry: Entry, config: LdapConfig, index: Resolver | None = None) -> resource_pb2.Resource:
    login, aliases = _login(entry, config)
    human = any(entry.has_class(c) for c in _HUMAN_CLASSES) and not entry.has_class("computer")
    trait = model.user_trait(
        emails=entry.values("mail"), login=login, login_aliases=aliases,
        status="disabled" if is_disabled(entry, config) else "enabled",
        account_type="human" if human else "service", employee_ids=entry.values("employeeNumber"),
        profile={**_profile(entry, config.profile_attributes), "dn": entry.dn, "login": login})
    _set_times(trait, entry)
    display = entry.first("displayName") or entry.first("cn") or login or entry.dn
    return _with_parent(model.resource(USER, entry.id, display, traits=[trait]), entry, index)


def _set_times(trait: annotation_trait_pb2.UserTrait, entry: Entry) -> None:
    created = _timestamp(entry.first("createTimestamp"))
    if created is not None:
        trait.created_at.CopyFrom(created)
    last = _timestamp(entry.first("authTimestamp") or entry.first("lastLogonTimestamp"))
    if last is not None:
        trait.last_login.CopyFrom(last)


def group_resource(entry: Entry, index: Resolver | None = None) -> resource_pb2.Resource:
    profile = {"gid": entry.first("gidNumber"), "dn": entry.dn, "description": entry.first("description"),
               "object_classes": entry.values("objectClass")}
    name = entry.first("cn") or _rdn(entry)
    res = model.resource(GROUP, entry.id, name, description=entry.first("description") or "",
                         traits=[model.group_trait(profile)])
    return _with_parent(res, entry, index)


def role_resource(entry: Entry, index: Resolver | None = None) -> resource_pb2.Resource:
    name = entry.first("cn") or _rdn(entry)
    res = model.resource(ROLE, entry.id, name, description=entry.first("description") or "",
                         traits=[model.role_trait({"dn": entry.dn, "description": entry.first("description")})])
    return _with_parent(res, entry, index)


def org_unit_resource(entry: Entry, index: Resolver) -> resource_pb2.Resource:
    res = model.resource(ORG_UNIT, entry.id, entry.first("ou") or _rdn(entry),
                         description=entry.first("description") or "",
                         child_types=(ORG_UNIT.id, USER.id, GROUP.id, ROLE.id))
    return _with_parent(res, entry, index)


def _rdn(entry: Entry) -> str:
    rdns = dnlib.parse(entry.dn)
    return rdns[0][0][1] if rdns else entry.dn


def unique_member_dn(value: str) -> str:
    """A ``uniqueMember`` value without its optional ``#'0101'B`` unique identifier."""
    head, sep, tail = value.rpartition("#")
    return head if sep and tail.startswith("'") and tail.endswith("'B") else value


def member_principals(entry: Entry, index: Resolver,
                      attributes: Sequence[str]) -> tuple[list[resource_pb2.ResourceId], int]:
    """Everyone an entry (group or role) lists in ``attributes``, resolved through the index, sorted;
    and how many values named nothing we sync (dangling DNs, unknown uids)."""
    found: dict[tuple[str, str], resource_pb2.ResourceId] = {}
    unknown = 0
    index.prepare(entry, attributes)
    for attr in attributes:
        if attr.lower() == "memberuid":
            resolved = [_user(index.user_of_uid(v)) for v in entry.values(attr)]
        else:
            resolved = [index.principal(unique_member_dn(v)) for v in entry.values(attr)]
        for rid in resolved:
            if rid is None:
                unknown += 1
            elif rid.resource != entry.id:
                found[(rid.resource_type, rid.resource)] = rid
    gid = entry.first("gidNumber")
    if gid and "memberuid" in (a.lower() for a in attributes):
        for user_id in index.users_of_gid(gid):
            found[(USER.id, user_id)] = model.resource_id(USER.id, user_id)
    return [found[k] for k in sorted(found)], unknown


def _user(user_id: str | None) -> resource_pb2.ResourceId | None:
    return model.resource_id(USER.id, user_id) if user_id else None
