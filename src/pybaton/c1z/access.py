"""Effective access, read from an expanded sync: who holds what, directly or through whom.

Expansion (ours or Go's) leaves everything these readers need on the grants
themselves: a grant with no ``sources``, or with its own entitlement among
them, is held *directly*; every other source names an entitlement the
principal holds that passes this one on (a group it is a member of, a role it
has). Following sources backwards from a grant to directly held entitlements
gives the paths that explain it. Nothing here needs the entitlement graph or
the sync engine, so it works on any expanded ``.c1z``, Go's included.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from pybaton.c1z.reader import SyncReader
from pybaton.pb.c1.connector.v2 import entitlement_pb2, grant_pb2, resource_pb2

DIRECT = "direct"
INHERITED = "inherited"
DEFAULT_PATH_LIMIT = 100


@dataclass(frozen=True)
class Holding:
    """How a principal holds one entitlement."""

    grant: grant_pb2.Grant
    direct: bool
    via: tuple[str, ...]

    @property
    def kind(self) -> str:
        return DIRECT if self.direct else INHERITED

    @classmethod
    def of(cls, grant: grant_pb2.Grant) -> Holding:
        """Baton's reading of a grant's sources (see the module doc)."""
        own = grant.entitlement.id
        sources = grant.sources.sources
        via = tuple(sorted(key for key in sources if key != own))
        return cls(grant, len(sources) == 0 or own in sources, via)


@dataclass
class ResourceAccess:
    """A principal's entitlements on one resource."""

    resource: resource_pb2.Resource
    resource_type: resource_pb2.ResourceType
    entries: list[tuple[entitlement_pb2.Entitlement, Holding]] = field(default_factory=list)


def _entitlement(reader: SyncReader, cache: dict[str, entitlement_pb2.Entitlement],
                 grant: grant_pb2.Grant) -> entitlement_pb2.Entitlement:
    """The stored entitlement, or the one embedded in the grant when the sync lacks it."""
    eid = grant.entitlement.id
    if eid not in cache:
        cache[eid] = reader.entitlement(eid) or grant.entitlement
    return cache[eid]


def _resource(reader: SyncReader, rid: resource_pb2.ResourceId) -> resource_pb2.Resource:
    found = reader.resource(rid.resource_type, rid.resource)
    if found is None:
        found = resource_pb2.Resource(display_name=f"MISSING RESOURCE ({rid.resource_type}:{rid.resource})")
        found.id.CopyFrom(rid)
    return found


def _resource_type(reader: SyncReader, type_id: str) -> resource_pb2.ResourceType:
    return reader.resource_type(type_id) or resource_pb2.ResourceType(
        id=type_id, display_name=f"MISSING RESOURCE TYPE ({type_id})")


def holdings(reader: SyncReader, principal: tuple[str, str]) -> dict[str, Holding]:
    """Every entitlement ``principal`` holds, by entitlement id, in grant order."""
    return {g.entitlement.id: Holding.of(g) for g in reader.grants(principal=principal)}


def effective_access(reader: SyncReader, principal: tuple[str, str]) -> list[ResourceAccess]:
    """What ``principal`` can access, grouped by resource (in the order the grants were written)."""
    cache: dict[str, entitlement_pb2.Entitlement] = {}
    by_resource: dict[tuple[str, str], ResourceAccess] = {}
    for holding in holdings(reader, principal).values():
        ent = _entitlement(reader, cache, holding.grant)
        rid = ent.resource.id
        key = (rid.resource_type, rid.resource)
        if key not in by_resource:
            by_resource[key] = ResourceAccess(_resource(reader, rid), _resource_type(reader, rid.resource_type))
        by_resource[key].entries.append((ent, holding))
    return list(by_resource.values())


def entitlement_principals(reader: SyncReader, entitlement_id: str) -> list[tuple[resource_pb2.ResourceId, Holding]]:
    """Who holds ``entitlement_id``, each marked direct or inherited (with the entitlements it comes through)."""
    return [(g.principal.id, Holding.of(g)) for g in reader.grants(entitlement_id=entitlement_id)]


def principal_marks(reader: SyncReader, entitlement_id: str) -> dict[tuple[str, str], str]:
    """``(type, id) -> "direct" | "inherited"`` for every holder of an entitlement (for a listing column)."""
    marks: dict[tuple[str, str], str] = {}
    for rid, holding in entitlement_principals(reader, entitlement_id):
        key = (rid.resource_type, rid.resource)
        marks[key] = DIRECT if holding.direct or marks.get(key) == DIRECT else INHERITED
    return marks


@dataclass(frozen=True)
class Explanation:
    """Why a principal holds an entitlement: each path starts at an entitlement it holds directly.

    A path ``(A, B, C)`` reads: holds A directly; A passes B on; B passes C on.
    No paths means no access; ``truncated`` means more paths exist than were listed.
    """

    entitlement_id: str
    principal: tuple[str, str]
    paths: tuple[tuple[str, ...], ...]
    truncated: bool = False

    @property
    def has_access(self) -> bool:
        return bool(self.paths)


class _PathFinder:
    """Depth-first over sources, never revisiting an entitlement already on the current path (cycles)."""

    def __init__(self, held: dict[str, Holding], limit: int) -> None:
        self.held = held
        self.limit = limit
        self.found: list[tuple[str, ...]] = []
        self.truncated = False

    def walk(self, entitlement_id: str, suffix: tuple[str, ...]) -> None:
        holding = self.held.get(entitlement_id)
        if holding is None:
            return
        path = (entitlement_id, *suffix)
        if holding.direct:
            self._add(path)
        for source in holding.via:
            if source in path:
                continue
            if self.truncated:
                return
            self.walk(source, path)

    def _add(self, path: tuple[str, ...]) -> None:
        if len(self.found) >= self.limit:
            self.truncated = True
        else:
            self.found.append(path)


def explain(reader: SyncReader, entitlement_id: str, principal: tuple[str, str], *,
            limit: int = DEFAULT_PATH_LIMIT) -> Explanation:
    """Every path (up to ``limit``) through which ``principal`` holds ``entitlement_id``; none means no access."""
    finder = _PathFinder(holdings(reader, principal), limit)
    finder.walk(entitlement_id, ())
    paths = tuple(sorted(finder.found, key=lambda p: (len(p), p)))
    return Explanation(entitlement_id, principal, paths, finder.truncated)


def iter_paths(explanation: Explanation) -> Iterator[str]:
    """Each path as one line: ``A (direct) -> B -> C``."""
    for path in explanation.paths:
        yield " -> ".join([f"{path[0]} (direct)", *path[1:]])
