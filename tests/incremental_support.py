"""Shared pieces of the incremental-sync tests: listing a file's current full run, comparing two files."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pybaton import model
from pybaton.c1z import C1ZFile
from pybaton.connector import (
    Changes,
    Connector,
    ConnectorConfig,
    ConnectorMetadata,
    Page,
    PageToken,
    ResourceSyncer,
)
from pybaton.pb.c1.connector.v2 import entitlement_pb2, grant_pb2, resource_pb2
from pybaton.sync import SyncOptions, sync

LISTED_TABLES = ("v1_resource_types", "v1_resources", "v1_entitlements", "v1_grants")

Listing = dict[str, list[tuple[str, bytes]]]


def listing(path: Path) -> Listing:
    """Every object of the latest finished full run (what every read command lists), by id."""
    with C1ZFile.open(path) as c1z:
        run = c1z.resolve_sync()
        return {table: sorted((str(row[0]), bytes(row[1])) for row in c1z.conn.execute(
            f"select external_id, data from {table} where sync_id = ?", (run.sync_id,)))
            for table in LISTED_TABLES}


def differences(got: Listing, want: Listing) -> list[str]:
    """What differs, readably (empty when the listings are identical)."""
    out = []
    for table in LISTED_TABLES:
        mine, theirs = dict(got[table]), dict(want[table])
        extra = sorted(set(mine) - set(theirs))
        missing = sorted(set(theirs) - set(mine))
        changed = sorted(k for k in set(mine) & set(theirs) if mine[k] != theirs[k])
        if extra or missing or changed:
            out.append(f"{table}: extra {extra[:5]}, missing {missing[:5]}, changed {changed[:5]}")
    return out


# The last runs of a file after an incremental sync: the full run compacted in place, then its newest diff pair.
COMPACTED_RUNS = [("full", True), ("partial_upserts", True), ("partial_deletions", True)]


def run_types(path: Path) -> list[tuple[str, bool]]:
    with C1ZFile.open(path) as c1z:
        return [(r.sync_type, r.finished) for r in c1z.sync_runs()]


def sync_once(make: Callable[[], Connector[Any]], path: Path, *, incremental: bool) -> None:
    """One sync of a fresh connector (closed afterwards), full or incremental."""
    connector = make()
    try:
        sync(connector, path, SyncOptions(incremental=incremental))
    finally:
        connector.close()


def assert_same_as_full(make: Callable[[], Connector[Any]], path: Path, scratch: Path) -> None:
    """The file's current full run lists exactly what a fresh full sync of the same state lists."""
    full = scratch / "fresh-full.c1z"
    full.unlink(missing_ok=True)
    sync_once(make, full, incremental=False)
    assert differences(listing(path), listing(full)) == []


# -- a connector over nested groups that lists its changes (for the expansion property tests) -------------


@dataclass
class NestedWorld:
    """Users, service accounts and groups; memberships and nesting edges (cycles allowed); a change log.

    Edge ``(s, d) -> (shallow, types)``: group ``s`` is a member of group ``d`` (members of ``s`` hold
    ``d``'s member entitlement; only direct ones if ``shallow``; only principals of ``types`` if given).
    """

    names: dict[tuple[str, str], str] = field(default_factory=dict)  # (type, id) -> display name
    parents: dict[str, str] = field(default_factory=dict)  # service account -> the group it belongs to
    members: set[tuple[str, tuple[str, str]]] = field(default_factory=set)
    edges: dict[tuple[str, str], tuple[bool, tuple[str, ...]]] = field(default_factory=dict)
    log: list[tuple[str, str]] = field(default_factory=list)

    def ids(self, rtype: str) -> list[str]:
        return sorted(i for t, i in self.names if t == rtype)

    def touch(self, rtype: str, rid: str) -> None:
        self.log.append((rtype, rid))

    def add(self, rtype: str, rid: str) -> None:
        self.names.setdefault((rtype, rid), f"{rtype} {rid}")
        self.touch(rtype, rid)

    def rename(self, rtype: str, rid: str) -> None:
        if (rtype, rid) in self.names:
            self.names[(rtype, rid)] += " (renamed)"
            self.touch(rtype, rid)

    def add_svc(self, rid: str, group: str) -> None:
        """A service account: a child resource of ``group`` (deleted with it)."""
        if ("group", group) in self.names:
            self.parents.setdefault(rid, group)
            self.add("svc", rid)

    def move(self, rid: str, group: str) -> None:
        """Move a service account under another group (its derived grants embed the parent)."""
        if rid in self.parents and ("group", group) in self.names and self.parents[rid] != group:
            self.parents[rid] = group
            self.touch("svc", rid)

    def delete(self, rtype: str, rid: str) -> None:
        if self.names.pop((rtype, rid), None) is None:
            return
        if rtype == "svc":
            del self.parents[rid]
        for child in sorted(s for s, g in self.parents.items() if rtype == "group" and g == rid):
            self.delete("svc", child)
        for g, p in sorted(self.members):
            if p == (rtype, rid) or (rtype == "group" and g == rid):
                self.members.discard((g, p))
                self.touch("group", g)
        for s, d in sorted(self.edges):
            if rtype == "group" and rid in (s, d):
                del self.edges[(s, d)]
                self.touch("group", d)
        self.touch(rtype, rid)

    def join(self, group: str, principal: tuple[str, str]) -> None:
        if ("group", group) in self.names and principal in self.names:
            self.members.add((group, principal))
            self.touch("group", group)

    def leave(self, group: str, principal: tuple[str, str]) -> None:
        if (group, principal) in self.members:
            self.members.discard((group, principal))
            self.touch("group", group)

    def nest(self, child: str, parent: str, shallow: bool, types: tuple[str, ...]) -> None:
        if child != parent and {("group", child), ("group", parent)} <= set(self.names):
            self.edges[(child, parent)] = (shallow, types)
            self.touch("group", parent)

    def unnest(self, child: str, parent: str) -> None:
        if self.edges.pop((child, parent), None) is not None:
            self.touch("group", parent)


_TYPES = {t: model.resource_type(t, t.title(), traits=[trait]) for t, trait in
          (("user", "user"), ("svc", "user"), ("group", "group"))}


class _WorldSyncer(ResourceSyncer):
    def __init__(self, world: NestedWorld, rtype: str) -> None:
        self.world = world
        self.resource_type = _TYPES[rtype]

    def build(self, rid: str) -> resource_pb2.Resource:
        rtype = self.resource_type.id
        name = self.world.names[(rtype, rid)]
        if rtype == "group":
            return model.resource(self.resource_type, rid, name, traits=[model.group_trait()], child_types=["svc"])
        parent = model.resource_id("group", self.world.parents[rid]) if rtype == "svc" else None
        return model.resource(self.resource_type, rid, name, traits=[model.user_trait(login=rid)], parent=parent)

    def list(self, parent: resource_pb2.ResourceId | None, page: PageToken) -> Page[resource_pb2.Resource]:
        ids = self.world.ids(self.resource_type.id)
        if self.resource_type.id == "svc":  # listed under their group only
            ids = [i for i in ids if parent is not None and self.world.parents[i] == parent.resource]
        return Page([self.build(i) for i in ids])

    def current_cursor(self) -> str:
        return str(len(self.world.log))

    def changes(self, cursor: str) -> Changes:
        mine = sorted({i for t, i in self.world.log[int(cursor):] if t == self.resource_type.id})
        here = set(self.world.ids(self.resource_type.id))
        return Changes(str(len(self.world.log)), resources=[self.build(i) for i in mine if i in here],
                       deleted_resources=[model.resource_id(self.resource_type.id, i) for i in mine if i not in here])


class _WorldGroups(_WorldSyncer):
    def entitlements(self, resource: resource_pb2.Resource, page: PageToken) -> Page[entitlement_pb2.Entitlement]:
        name = self.world.names[("group", resource.id.resource)]
        return Page([model.assignment(resource, "member", display_name=f"{name} member")])

    def grants(self, resource: resource_pb2.Resource, page: PageToken) -> Page[grant_pb2.Grant]:
        gid = resource.id.resource
        ent = model.entitlement_ref(resource, "member")
        plain = [model.grant(ent, model.resource_id(*p)) for g, p in sorted(self.world.members) if g == gid]
        nested = [model.grant(ent, model.resource_id("group", s), expandable=[f"group:{s}:member"],
                              shallow=shallow, expand_resource_types=types)
                  for (s, d), (shallow, types) in sorted(self.world.edges.items()) if d == gid]
        return Page(plain + nested)


class WorldConnector(Connector[ConnectorConfig]):
    """The :class:`NestedWorld` as a system that lists its changes."""

    metadata = ConnectorMetadata("world", "Nested groups", "nested groups that list their changes")
    config_class = ConnectorConfig

    def __init__(self, world: NestedWorld) -> None:
        super().__init__(ConnectorConfig())
        self.world = world

    def syncers(self) -> Sequence[ResourceSyncer]:
        return [_WorldSyncer(self.world, "user"), _WorldSyncer(self.world, "svc"), _WorldGroups(self.world, "group")]
