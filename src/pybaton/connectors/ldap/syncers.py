"""The LDAP connector's resource syncers (the read side; writes are in :mod:`.writers`).

Listings stream the directory with paged searches (one page of entries per
call); membership grants come from one read of the group entry, resolved
through the :class:`~.directory.DirectoryIndex` built once per sync (a lazy one in incremental runs).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import ClassVar

from pybaton import model
from pybaton.connector import Page, PageToken, ResourceSyncer
from pybaton.connector.capabilities import Changes
from pybaton.connectors.entitlements import static_entitlement
from pybaton.connectors.grants import GrantMaker
from pybaton.connectors.ldap import changes as changelib
from pybaton.connectors.ldap import content, directory, syncrepl, writers
from pybaton.connectors.ldap import dn as dnlib
from pybaton.connectors.ldap.client import Entry, Search
from pybaton.connectors.ldap.config import DEFAULT_OU_FILTER
from pybaton.connectors.ldap.context import LdapContext
from pybaton.connectors.ldap.directory import GROUP, MEMBER, ORG_UNIT, ROLE, USER, Resolver
from pybaton.connectors.paging import PageCache, page_map
from pybaton.errors import CursorExpiredError
from pybaton.pb.c1.connector.v2 import entitlement_pb2, grant_pb2, resource_pb2

log = logging.getLogger("pybaton.connectors.ldap")


class EntrySyncer(ResourceSyncer):
    """Lists one kind of entry with a paged search; under an OU (one level) when OUs are synced.

    At the top, with OUs synced, entries whose container is a synced OU are
    skipped: the engine lists them again under that OU.
    """

    kind: ClassVar[str]
    attributes: ClassVar[tuple[str, ...]] = ()

    def __init__(self, ctx: LdapContext) -> None:
        self.ctx = ctx

    def search_filter(self) -> str:
        raise NotImplementedError

    def build(self, entry: Entry, index: Resolver | None) -> resource_pb2.Resource:
        raise NotImplementedError

    def search_attributes(self) -> tuple[str, ...]:
        return self.attributes

    def list(self, parent: resource_pb2.ResourceId | None, page: PageToken) -> Page[resource_pb2.Resource]:
        config = self.ctx.config
        if parent is not None and parent.resource_type != ORG_UNIT.id:
            return Page()
        base, scope = (config.search_base(self.kind), "sub") if parent is None else (parent.resource, "one")
        search = Search(base, directory.kind_filter(config, self.search_filter()), scope, self.search_attributes())
        entries, token = self.ctx.client.page(search, page.token, page.size)
        index = self.ctx.index.get() if config.org_units else None
        if index is not None:
            entries = [e for e in entries if self._listed_here(e, parent, index)]
        return Page([self.build(e, index) for e in entries], token)

    def _listed_here(self, entry: Entry, parent: resource_pb2.ResourceId | None, index: Resolver) -> bool:
        """With OUs synced, an entry is listed once: under its OU if that is synced, else at the top;
        and never outside this kind's search base (an OU may hold entries of other subtrees)."""
        if not dnlib.is_under(entry.id, dnlib.canonical(self.ctx.config.search_base(self.kind))):
            return False
        return parent is not None or index.parent_of(entry.id) is None

    def get(self, resource_id: resource_pb2.ResourceId,
            parent: resource_pb2.ResourceId | None = None) -> resource_pb2.Resource | None:
        if resource_id.resource_type != self.resource_type.id:
            return None
        entry = self.ctx.client.read(resource_id.resource, self.search_attributes())
        if entry is None or not self._matches(entry):
            return None
        return self.build(entry, self.ctx.index.get() if self.ctx.config.org_units else None)

    # -- changes (sync --incremental; see .content with RFC 4533, else .changes) ---------------------

    def member_key(self, entry: Entry) -> str:
        """What member resolution reads of an entry of this kind besides its DN (see .content)."""
        return content.no_key(entry)

    def current_cursor(self) -> str:
        self.ctx.incremental(False)  # a full sync follows: members resolved through the whole index
        cursor = self._content_cursor()
        if cursor is not None:
            return cursor
        scan = changelib.search(self.ctx, self.kind, self.search_filter(), "", changelib.SCAN_ATTRIBUTES)
        return changelib.encode(changelib.newest(scan, changelib.EPOCH), self._keys(scan))

    def _keys(self, scan: Sequence[Entry]) -> dict[str, str]:
        return {e.id: self.member_key(e) for e in scan}

    def changes(self, cursor: str) -> Changes:
        self.ctx.incremental(True)
        if content.is_sync_cursor(cursor):
            return self._content_changes(content.SyncCursor.decode(cursor))
        return self._stamp_changes(changelib.decode(cursor))

    def _kind_search(self, attributes: Sequence[str]) -> Search:
        config = self.ctx.config
        return Search(config.search_base(self.kind), directory.kind_filter(config, self.search_filter()), "sub",
                      tuple(attributes))

    def _content_cursor(self) -> str | None:
        """A sync cursor (the whole content's UUIDs and DNs, and the cookie) where the server offers it."""
        if not self.ctx.content_sync.get():
            return None
        try:
            refresh = syncrepl.refresh(self.ctx.client, self._kind_search(content.KEY_ATTRIBUTES), None)
            return content.initial(refresh, self.member_key).encode()
        except (syncrepl.SyncUnavailableError, CursorExpiredError) as exc:
            log.warning("%s: RFC 4533 content sync not usable, listing changes by timestamp: %s", self.kind, exc)
            return None

    def _content_changes(self, cursor: content.SyncCursor) -> Changes:
        """One refresh with the cookie: changed entries whole, deletions and renames against the cursor's DNs."""
        if not self.ctx.content_sync.get():
            raise CursorExpiredError("the directory no longer offers RFC 4533 content synchronisation")
        try:
            refresh = syncrepl.refresh(self.ctx.client, self._kind_search(self.search_attributes()), cursor.cookie)
        except syncrepl.SyncUnavailableError as exc:
            raise CursorExpiredError(str(exc)) from None
        after, moved = content.advance(cursor, refresh, self.member_key)
        self.ctx.moved[self.kind] = moved
        index = self.ctx.index.get() if self.ctx.config.org_units else None
        found = {e.id: self.build(e, index) for e in refresh.changed.values()}
        present = after.ids()
        named = self.named_members_changed(syncrepl.csn_of(cursor.cookie)) & set(present)
        return Changes(after.encode(), resources=[*found.values(), *self._read(sorted(named - set(found)))],
                       present=present)

    def _stamp_changes(self, cursor: tuple[str, dict[str, str] | None]) -> Changes:
        """Entries stamped since the cursor, re-read; a DN-only scan for the present list."""
        since, before = cursor
        upgrade = self._content_cursor()  # taken first: what changes during this run is listed again
        scan = changelib.search(self.ctx, self.kind, self.search_filter(), "", changelib.SCAN_ATTRIBUTES)
        self.ctx.scans[self.kind] = scan
        if before is not None:  # the key table says which entries groups name differently now
            self.ctx.moved[self.kind] = content.moved(before, scan, self.member_key)
        present = {e.id for e in scan}
        changed = {e.id for e in scan if changelib.at_or_after(changelib.stamp_of(e), since)}
        changed |= self.named_members_changed(since) & present
        cursor_after = upgrade or changelib.encode(changelib.newest(scan, since), self._keys(scan))
        return Changes(cursor_after, resources=self._read(sorted(changed)), present=sorted(present))

    def _read(self, ids: Sequence[str]) -> Sequence[resource_pb2.Resource]:
        found = (self.get(model.resource_id(self.resource_type.id, i)) for i in ids)
        return [r for r in found if r is not None]

    def named_members_changed(self, since: str) -> set[str]:
        """Entries of this kind whose grants changed because a principal they name changed."""
        return set()

    def _matches(self, entry: Entry) -> bool:
        """Whether a directly read entry is of this kind (re-checked with the kind's filter on the server)."""
        search = Search(entry.dn, directory.kind_filter(self.ctx.config, self.search_filter()), "base", ("1.1",))
        return any(True for _ in self.ctx.client.all(search))


class UserSyncer(writers.AccountWriter, writers.EntryDeleter, EntrySyncer):
    resource_type = USER
    kind = "user"

    def search_filter(self) -> str:
        return self.ctx.config.user_filter

    def search_attributes(self) -> tuple[str, ...]:
        return directory.user_attributes(self.ctx.config)

    def build(self, entry: Entry, index: Resolver | None) -> resource_pb2.Resource:
        return directory.user_resource(entry, self.ctx.config, index)

    def member_key(self, entry: Entry) -> str:
        return content.user_key(entry)


class MembershipSyncer(EntrySyncer):
    """Groups and roles: a ``member`` entitlement, and grants from the entry's member attributes."""

    member_attributes: ClassVar[tuple[str, ...]]
    grantable_to: ClassVar[tuple[resource_pb2.ResourceType, ...]] = (USER, GROUP)

    def __init__(self, ctx: LdapContext) -> None:
        super().__init__(ctx)
        self._members: PageCache[resource_pb2.ResourceId] = PageCache()

    def static_entitlements(self) -> Sequence[entitlement_pb2.Entitlement]:
        return [static_entitlement(MEMBER, display_name="Member", grantable_to=self.grantable_to,
                                   description=f"Member of the {self.resource_type.display_name.lower()}")]

    def grants(self, resource: resource_pb2.Resource, page: PageToken) -> Page[grant_pb2.Grant]:
        rid, index = resource.id, self.ctx.index.get()
        members = self._members.rows(rid.resource, index, lambda: self._principals(rid, index))
        make = GrantMaker(rid)
        return page_map(members, page, lambda p: make(MEMBER, p, _nested(p)))

    def named_members_changed(self, since: str) -> set[str]:
        principals = [e for kind, kind_filter in (("user", self.ctx.config.user_filter),
                                                  ("group", self.ctx.config.group_filter))
                      for e in self._changed_principals(kind, kind_filter, since)]
        if not principals:
            return set()
        if len(principals) > changelib.MAX_REFERENCED:
            naming = ""
        else:
            naming = changelib.naming(self.member_attributes, principals, self._lost_names(principals))
        return {e.id for e in changelib.search(self.ctx, self.kind, self.search_filter(), naming, ("1.1",))}

    def _lost_names(self, principals: Sequence[Entry]) -> bool:
        """Whether a changed user may have lost a uid or gidNumber that a group names unseen: only when the
        users' cursor had no key table (an older run's; every group naming users by uid or gidNumber is re-read
        then); with one, the changed users are listed as they were too."""
        return "user" not in self.ctx.moved and any(e.first("uid") or e.first("gidNumber") for e in principals)

    def _changed_principals(self, kind: str, kind_filter: str, since: str) -> list[Entry]:
        """Users or groups that changed since ``since``, as this run's change listing of that kind found them:
        entries with a new DN or key (and as they were), else (no key table) the entries a stamp scan found newer
        (scanned now if that syncer has not run)."""
        moved = self.ctx.moved.get(kind)
        if moved is not None:
            return moved
        found = self.ctx.scans.get(kind)
        if found is None:
            found = self.ctx.scans[kind] = changelib.search(self.ctx, kind, kind_filter, "",
                                                            changelib.SCAN_ATTRIBUTES)
        return [e for e in found if changelib.at_or_after(changelib.stamp_of(e), since)]

    def _principals(self, rid: resource_pb2.ResourceId, index: Resolver) -> Sequence[resource_pb2.ResourceId]:
        """Everyone the entry lists, read once while its pages are served."""
        entry = self.ctx.client.read(rid.resource, ("objectClass", "gidNumber", *self.member_attributes))
        if entry is None:
            return []
        principals, unknown = directory.member_principals(entry, index, self.member_attributes)
        if unknown:
            log.info("%s: %d member value(s) name no user or group that is synced", entry.dn, unknown)
        return principals


def _nested(principal: resource_pb2.ResourceId) -> str | None:
    """A group member passes the membership on to its own members (expansion)."""
    if principal.resource_type != GROUP.id:
        return None
    return model.entitlement_id(GROUP.id, principal.resource, MEMBER)


class GroupSyncer(writers.MembershipWriter, writers.EntryDeleter, MembershipSyncer):
    resource_type = GROUP
    kind = "group"
    attributes = directory.GROUP_ATTRIBUTES
    member_attributes = ("member", "uniqueMember", "memberUid")

    def search_filter(self) -> str:
        return self.ctx.config.group_filter

    def build(self, entry: Entry, index: Resolver | None) -> resource_pb2.Resource:
        return directory.group_resource(entry, index)


class RoleSyncer(writers.MembershipWriter, MembershipSyncer):
    resource_type = ROLE
    kind = "role"
    attributes = ("objectClass", "cn", "description")
    member_attributes = ("roleOccupant",)

    def search_filter(self) -> str:
        return self.ctx.config.role_filter

    def build(self, entry: Entry, index: Resolver | None) -> resource_pb2.Resource:
        return directory.role_resource(entry, index)


class OrgUnitSyncer(EntrySyncer):
    """Organizational units, nested as in the tree; parents of users, groups and roles."""

    resource_type = ORG_UNIT
    kind = "org_unit"
    attributes = ("ou", "description")

    def search_filter(self) -> str:
        return DEFAULT_OU_FILTER

    def build(self, entry: Entry, index: Resolver | None) -> resource_pb2.Resource:
        return directory.org_unit_resource(entry, index or self.ctx.index.get())


def all_syncers(ctx: LdapContext) -> list[EntrySyncer]:
    syncers: list[EntrySyncer] = [UserSyncer(ctx), GroupSyncer(ctx), RoleSyncer(ctx)]
    if ctx.config.org_units:
        syncers.insert(0, OrgUnitSyncer(ctx))
    return syncers
