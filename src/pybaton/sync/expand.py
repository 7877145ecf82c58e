"""Grant expansion: derive the grants that nested groups and roles imply.

A grant of entitlement D to principal X carrying ``GrantExpandable{entitlement_ids:
[S...]}`` (where each S is an entitlement *of X*, e.g. ``group:X:member``) means
"every holder of S also holds D". Expansion computes, for every such D, the
holders it gains and writes one *derived* grant per new (D, principal), the way
Baton does: id ``{D}:{principal_type}:{principal_id}``, the destination
entitlement embedded whole, a ``GrantImmutable`` annotation, and ``sources``
naming each S the principal came through (``is_direct`` when the principal
holds S directly). A principal that already holds D directly keeps its one
grant, with ``{D: direct}`` plus the sources added, as Go marks it.

Semantics (``tests/test_expand_properties.py`` checks them against a brute-force
fixpoint): the holders are the least fixpoint of "direct holders hold; over an
edge S -> D every holder of S (only *direct* holders for a ``shallow`` edge,
only principals of the listed types for a filtered one) holds D". Cycles are
therefore exact: every principal reaching a cycle holds every entitlement of
it. (Go collapses a cycle into one node and drops its inner edges, so there a
direct member of one group of a cycle does not receive the others.)

How it stays fast: only the indexed columns of the grants table are read
(entitlement, principal type, principal id), never the grant messages; holder
sets are Python sets of small ints, kept only while an entitlement still feeds
one not yet expanded; derived grants are concatenated from precomputed bytes
(:mod:`pybaton.sync.expand_wire`) and written entitlement by entitlement in
principal order, which keeps SQLite's index inserts nearly sequential.

Resume: the run is deterministic for a given file, so the checkpoint only
records how many destination entitlements (and rows of the current one) are
written, plus the row-id *boundary* below which rows predate expansion. On
resume everything is recomputed in memory and writing continues where it
stopped; upserts make a redone batch harmless.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from pybaton.c1z import C1ZFile, SyncWriter, syncs
from pybaton.sync import expand_store as store
from pybaton.sync import expand_wire as wire
from pybaton.sync.expand_graph import Component, EntitlementGraph, Plan, edges_within, plan
from pybaton.sync.expand_store import Destination, DerivedWriter, Principals, PriorDerived
from pybaton.sync.progress import Progress

log = logging.getLogger("pybaton.sync.expand")

STATE_VERSION = 1
DEFAULT_MAX_DEPTH = 20
# A commit (with the engine's checkpoint) happens after this many rows or seconds, whichever comes first.
COMMIT_ROWS = 500_000
COMMIT_SECONDS = 5.0
# Principals per INSERT statement; bounds memory for a destination with millions of holders.
CHUNK_ROWS = 50_000
# Expansions writing at least this many rows, and a quarter of the table, rebuild some indexes afterwards.
BULK_MIN_ROWS = 200_000

HolderSet = set[int] | frozenset[int]


@dataclass
class ExpansionStats:
    """What one expansion did (for logs, the CLI and tests)."""

    edges: int = 0
    destinations: int = 0
    derived: int = 0
    updated_direct: int = 0
    removed_stale: int = 0
    depth: int = 0
    skipped: int = 0
    resumed: bool = False
    bulk: bool = False


# -- computing holders ------------------------------------------------------------------------------


class _Holders:
    """Holder sets, computed component by component, freed once nothing downstream needs them."""

    def __init__(self, graph: EntitlementGraph, direct: list[frozenset[int]], people: Principals) -> None:
        self.graph = graph
        self.direct = direct
        self.into = graph.incoming()
        self._uses = [len(dsts) for dsts in graph.outgoing()]
        self._held: dict[int, HolderSet] = {}
        self._typesets: dict[str, set[int]] = {}
        for idx, ptype in enumerate(people.types):
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


#WRITING#

# -- entry points ----------------------------------------------------------------------------------


def expand_sync(c1z: C1ZFile, writer: SyncWriter, state: dict[str, Any], *, max_depth: int = DEFAULT_MAX_DEPTH,
                checkpoint: Callable[[], None], progress: Progress | None = None) -> ExpansionStats:
    """Expand the grants of ``writer``'s sync in ``c1z``; resumable through ``state`` (see the module doc).

    ``checkpoint`` is called inside each committing transaction; the engine uses
    it to persist its checkpoint (which includes ``state``) atomically with the rows.
    """
    started = time.monotonic()
    stats = _Run(c1z, writer, state, max_depth, checkpoint, progress).run()
    log.info("grant expansion: %d edges, %d destination entitlements, %d derived grants, %d direct grants updated, "
             "%d stale removed, depth %d, %.1fs", stats.edges, stats.destinations, stats.derived,
             stats.updated_direct, stats.removed_stale, stats.depth, time.monotonic() - started)
    return stats


def expand_file(path: str | Path, sync_id: str | None = None, *, max_depth: int = DEFAULT_MAX_DEPTH,
                progress: Progress | None = None) -> ExpansionStats:
    """Expand one sync of the file at ``path`` in place; the file is replaced atomically only on success."""
    with C1ZFile.open(path, writable=True) as c1z:
        run = c1z.resolve_sync(sync_id)
        stats = expand_sync(c1z, SyncWriter(c1z, run.sync_id), {}, max_depth=max_depth,
                            checkpoint=lambda: None, progress=progress)
        c1z.save()
    return stats


__all__ = ["DEFAULT_MAX_DEPTH", "ExpansionStats", "expand_file", "expand_sync", "load_graph"]
