"""The entitlement graph of grant expansion, and the order it is expanded in.

An edge ``S -> D`` says "whoever holds entitlement S also holds D". It comes
from a grant of D whose principal is S's resource and which carries a
``GrantExpandable`` naming S. The graph is condensed into strongly connected
components (a cycle of groups nested in each other is one unit: its holders
are shared) and the components are laid out in *layers*: a component's layer
is one more than the deepest component feeding it, so a layer only ever reads
holder sets finished in earlier layers. That layering is also the depth that
``max_depth`` bounds.

Everything here works on small integers (entitlement and principal indices);
this module knows nothing about SQLite or protobuf, which keeps it easy to test
and fast, and lets the reconcile planner re-apply expansion to a state it only
imagines (what the grants will be after its plan) with the very same rules.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

HolderSet = set[int] | frozenset[int]


@dataclass(frozen=True)
class EdgeSpec:
    """How holders flow over one edge.

    ``shallow``: only principals holding the source *directly* flow.
    ``types``: only principals of these resource types flow (None: every type).
    """

    shallow: bool = False
    types: frozenset[str] | None = None

    def merged(self, other: EdgeSpec) -> EdgeSpec:
        """Fold a duplicate declaration of the same edge, widest grant wins (as Baton does).

        A deep edge admits more than a shallow one, and an unfiltered edge more
        than any filter, so either makes the merged edge deep/unfiltered;
        two filters union.
        """
        shallow = self.shallow and other.shallow
        if self.types is None or other.types is None:
            return EdgeSpec(shallow, None)
        return EdgeSpec(shallow, self.types | other.types)


@dataclass
class EntitlementGraph:
    """Entitlement ids interned to indices, and the merged edges between them."""

    ids: list[str] = field(default_factory=list)
    index: dict[str, int] = field(default_factory=dict)
    edges: dict[tuple[int, int], EdgeSpec] = field(default_factory=dict)

    def intern(self, entitlement_id: str) -> int:
        found = self.index.get(entitlement_id)
        if found is None:
            found = len(self.ids)
            self.index[entitlement_id] = found
            self.ids.append(entitlement_id)
        return found

    def add_edge(self, src: str, dst: str, spec: EdgeSpec) -> None:
        """Add ``src -> dst``; a self-loop adds nothing (holders of D already hold D) and is dropped."""
        if src == dst:
            return
        key = (self.intern(src), self.intern(dst))
        old = self.edges.get(key)
        self.edges[key] = spec if old is None else old.merged(spec)

    def incoming(self) -> list[list[int]]:
        """For every node, the sources of its incoming edges, sorted by entitlement id."""
        into: list[list[int]] = [[] for _ in self.ids]
        for src, dst in self.edges:
            into[dst].append(src)
        for srcs in into:
            srcs.sort(key=self.ids.__getitem__)
        return into

    def outgoing(self) -> list[list[int]]:
        out: list[list[int]] = [[] for _ in self.ids]
        for src, dst in self.edges:
            out[src].append(dst)
        return out

    def fingerprint(self) -> str:
        """A digest of the edges, so a resumed run can tell it is expanding the same graph."""
        digest = hashlib.sha256()
        for (src, dst), spec in sorted(self.edges.items(), key=lambda kv: (self.ids[kv[0][0]], self.ids[kv[0][1]])):
            types = ",".join(sorted(spec.types)) if spec.types is not None else "*"
            digest.update(f"{self.ids[src]}\0{self.ids[dst]}\0{int(spec.shallow)}\0{types}\n".encode())
        return digest.hexdigest()[:32]


def strongly_connected(n: int, out: Sequence[Sequence[int]]) -> list[list[int]]:
    """Tarjan's algorithm, iterative (graphs can be deeper than Python's recursion limit)."""
    index = [-1] * n
    low = [0] * n
    on_stack = [False] * n
    stack: list[int] = []
    comps: list[list[int]] = []
    counter = 0
    for root in range(n):
        if index[root] != -1:
            continue
        work: list[tuple[int, int]] = [(root, 0)]
        while work:
            node, child = work.pop()
            if child == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack[node] = True
            recurse = False
            edges = out[node]
            while child < len(edges):
                nxt = edges[child]
                child += 1
                if index[nxt] == -1:
                    work.append((node, child))
                    work.append((nxt, 0))
                    recurse = True
                    break
                if on_stack[nxt]:
                    low[node] = min(low[node], index[nxt])
            if recurse:
                continue
            if low[node] == index[node]:
                comp: list[int] = []
                while True:
                    member = stack.pop()
                    on_stack[member] = False
                    comp.append(member)
                    if member == node:
                        break
                comps.append(comp)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return comps


@dataclass(frozen=True)
class Component:
    """One unit of expansion: a single entitlement, or a cycle of them."""

    members: tuple[int, ...]
    layer: int
    cyclic: bool


@dataclass(frozen=True)
class Plan:
    """The expansion order: components layer by layer, deterministic for a given graph."""

    components: tuple[Component, ...]
    depth: int
    skipped: tuple[int, ...]

    def destinations(self, into: Sequence[Sequence[int]]) -> list[int]:
        """Every entitlement that can receive derived grants, in expansion order."""
        return [m for comp in self.components for m in comp.members if into[m]]


def _layers(comps: Sequence[Sequence[int]], comp_of: Sequence[int],
            into: Sequence[Sequence[int]]) -> list[int]:
    """Longest-path layer of each component; Tarjan emits sinks first, so walk its output backwards."""
    layer = [0] * len(comps)
    for ci in range(len(comps) - 1, -1, -1):
        deepest = -1
        for member in comps[ci]:
            for src in into[member]:
                cs = comp_of[src]
                if cs != ci:
                    deepest = max(deepest, layer[cs])
        layer[ci] = deepest + 1
    return layer


def plan(graph: EntitlementGraph, max_depth: int) -> Plan:
    """Condense cycles, layer the components, and drop those deeper than ``max_depth``."""
    n = len(graph.ids)
    out = graph.outgoing()
    into = graph.incoming()
    comps = strongly_connected(n, out)
    comp_of = [0] * n
    for ci, comp in enumerate(comps):
        for member in comp:
            comp_of[member] = ci
    layer = _layers(comps, comp_of, into)
    ordered: list[Component] = []
    skipped: list[int] = []
    for ci, comp in enumerate(comps):
        members = tuple(sorted(comp, key=graph.ids.__getitem__))
        if layer[ci] > max_depth:
            skipped.extend(members)
            continue
        ordered.append(Component(members, layer[ci], len(members) > 1))
    ordered.sort(key=lambda c: (c.layer, graph.ids[c.members[0]]))
    depth = max(layer, default=0)
    return Plan(tuple(ordered), depth, tuple(sorted(skipped, key=graph.ids.__getitem__)))


def edges_within(members: Iterable[int], into: Sequence[Sequence[int]]) -> list[tuple[int, int]]:
    """The (src, dst) edges between members of one component."""
    inside = set(members)
    return [(src, dst) for dst in sorted(inside) for src in into[dst] if src in inside]


class Holders:
    """Holder sets, computed component by component, freed once nothing downstream needs them.

    ``direct[e]``: the principals (numbers) holding entitlement ``e`` directly;
    ``types[p]``: principal ``p``'s resource type (for edges filtered by type).
    """

    def __init__(self, graph: EntitlementGraph, direct: Sequence[frozenset[int]], types: Sequence[str]) -> None:
        self.graph = graph
        self.direct = direct
        self.into = graph.incoming()
        self._uses = [len(dsts) for dsts in graph.outgoing()]
        self._held: dict[int, set[int]] = {}
        self._typesets: dict[str, set[int]] = {}
        for idx, ptype in enumerate(types):
            self._typesets.setdefault(ptype, set()).add(idx)
        self._allowed: dict[frozenset[str], frozenset[int]] = {}

    def held(self, ent: int) -> HolderSet:
        found = self._held.get(ent)
        return self.direct[ent] if found is None else found

    def _filter(self, types: frozenset[str]) -> frozenset[int]:
        allowed = self._allowed.get(types)
        if allowed is None:
            allowed = frozenset().union(*(self._typesets.get(t, ()) for t in types))
            self._allowed[types] = allowed
        return allowed

    def contribution(self, src: int, dst: int) -> HolderSet:
        """The principals that flow over ``src -> dst``."""
        spec = self.graph.edges[(src, dst)]
        base = self.direct[src] if spec.shallow else self.held(src)
        return base if spec.types is None else base & self._filter(spec.types)

    def contributions(self, ent: int) -> list[tuple[int, HolderSet]]:
        """What flows into ``ent`` over each of its incoming edges."""
        return [(src, self.contribution(src, ent)) for src in self.into[ent]]

    def sources(self, principal: int, contributions: Sequence[tuple[int, HolderSet]]) -> tuple[tuple[str, bool], ...]:
        """The ``sources`` of ``principal``'s grant: each entitlement it came through, and whether it holds that
        one directly (Baton's ``GrantSource.is_direct``)."""
        return tuple((self.graph.ids[src], principal in self.direct[src])
                     for src, reached in contributions if principal in reached)

    def compute(self, comp: Component) -> None:
        """Holder sets of one component's members (their sources are all final by now)."""
        for member in comp.members:
            if self.into[member]:
                self._held[member] = set(self.direct[member]).union(
                    *(self.contribution(s, member) for s in self.into[member] if s not in comp.members))
        if comp.cyclic:
            self._fixpoint(comp)

    def _fixpoint(self, comp: Component) -> None:
        """Propagate around a cycle until nothing changes (sets only grow, so this ends)."""
        inner = edges_within(comp.members, self.into)
        changed = True
        while changed:
            changed = False
            for src, dst in inner:
                target = self._held[dst]
                before = len(target)
                target |= self.contribution(src, dst)
                changed = changed or len(target) != before

    def release(self, comp: Component) -> None:
        """Forget the holders no later component reads (each edge into the component is one use of its source)."""
        for member in comp.members:
            for src in self.into[member]:
                self._uses[src] -= 1
                if self._uses[src] == 0:
                    self._held.pop(src, None)
        for member in comp.members:
            if self._uses[member] == 0:
                self._held.pop(member, None)


def expansion_walk(layout: Plan, holders: Holders, *, keep: bool = False) -> Iterator[tuple[int, int]]:
    """Walk the plan: compute each component's holders, yield ``(position, entitlement)`` for every
    entitlement that receives grants, then let the component's sources go (unless ``keep``)."""
    position = 0
    for comp in layout.components:
        holders.compute(comp)
        for member in comp.members:
            if holders.into[member]:
                yield position, member
                position += 1
        if not keep:
            holders.release(comp)
