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
one not yet expanded; SQLite assembles the derived grants itself from
precomputed pieces (:mod:`pybaton.sync.expand_store`), entitlement by
entitlement in principal order, which keeps its index inserts nearly
sequential; and a big expansion drops the one index that takes random inserts
(by principal) and rebuilds it with one sort at the end, writing through a
rollback journal rather than the WAL meanwhile, so that each new page is
written once (:func:`pybaton.sync.expand_store.rollback_journal`). When it
writes several times the rows already there (a fan-out), it first moves the
working copy to 64 KiB pages (one VACUUM of the small file, through that
journal), which makes every b-tree insert cheaper: about a third less CPU per
derived grant (:func:`pybaton.sync.expand_store.repage`).

Resume: the run is deterministic for a given file, so the checkpoint only
records how many destination entitlements (and chunks of the current one) are
written, plus the row-id *boundary* below which rows predate expansion (rows
above it are derived grants this expansion wrote, so they are never mistaken
for direct ones). On
resume everything is recomputed in memory and writing continues where it
stopped; upserts make a redone batch harmless.
"""

from __future__ import annotations

import contextlib
import logging
import resource
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from pybaton.c1z import C1ZFile, SyncWriter, syncs
from pybaton.sync import expand_store as store
from pybaton.sync import expand_wire as wire
from pybaton.sync.expand_graph import EntitlementGraph, Holders, HolderSet, Plan, expansion_walk, plan
from pybaton.sync.expand_store import DerivedWriter, Destination, Principals, PriorDerived
from pybaton.sync.progress import Progress

log = logging.getLogger("pybaton.sync.expand")

STATE_VERSION = 1
DEFAULT_MAX_DEPTH = 20
# A commit (with the engine's checkpoint) happens after this many rows or seconds, whichever comes first.
COMMIT_ROWS = 500_000
COMMIT_SECONDS = 5.0
# Principals per INSERT statement; bounds memory for a destination with millions of holders.
CHUNK_ROWS = 50_000
# Expansions writing at least this many rows, and a quarter of the table, rebuild the principal index afterwards.
BULK_MIN_ROWS = 200_000

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
    repaged: bool = False


# -- the run ---------------------------------------------------------------------------------------


class _Batcher:
    """One open transaction at a time, committed together with the checkpoint every few seconds or rows."""

    def __init__(self, writer: SyncWriter, state: dict[str, Any], checkpoint: Callable[[], None]) -> None:
        self._writer = writer
        self._state = state
        self._checkpoint = checkpoint
        self._stack = contextlib.ExitStack()
        self._rows = 0
        self._since = time.monotonic()

    def __enter__(self) -> _Batcher:
        self._stack.enter_context(self._writer.transaction())
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self._checkpoint()
        self._stack.__exit__(exc_type, exc, tb)

    def wrote(self, count: int, done: int, chunks: int) -> None:
        """Record progress (destinations done, chunks of the next one); commit when due."""
        self._rows += count
        self._state["done"], self._state["chunks"] = done, chunks
        if self._rows >= COMMIT_ROWS or time.monotonic() - self._since >= COMMIT_SECONDS:
            self._checkpoint()
            self._stack.close()
            self._stack = contextlib.ExitStack()
            self._stack.enter_context(self._writer.transaction())
            self._rows = 0
            self._since = time.monotonic()


def derived_groups(derived: HolderSet, contributions: Sequence[tuple[int, HolderSet]], holders: Holders,
            out: DerivedWriter) -> list[tuple[bytes, list[int]]]:
    """The derived principals of one destination, grouped by their sources (which fix the bytes after the id).

    Principals reached over a single edge, the bulk of any expansion, are
    grouped with set operations; only those reached over several edges are
    looked at one by one. Groups come in a fixed order, so a resumed run cuts
    them into the same chunks.
    """
    ids = holders.graph.ids
    seen: set[int] = set()
    multi: set[int] = set()
    for _, reached in contributions:
        multi |= seen.intersection(reached)
        seen |= reached
    multi &= derived
    groups: dict[bytes, set[int]] = {}
    for src, reached in contributions:
        only = (reached & derived) - multi
        held_directly = holders.direct[src]
        for members, is_direct in ((only & held_directly, True), (only - held_directly, False)):
            if members:
                groups.setdefault(out.tail(((ids[src], is_direct),)), set()).update(members)
    for p in multi:
        groups.setdefault(out.tail(holders.sources(p, contributions)), set()).add(p)
    return [(tail, sorted(members)) for tail, members in sorted(groups.items())]


class _Run:
    """One expansion of one sync: load, plan, then walk the plan writing derived grants."""

    def __init__(self, c1z: C1ZFile, writer: SyncWriter, state: dict[str, Any], max_depth: int,
                 checkpoint: Callable[[], None], progress: Progress | None) -> None:
        self.conn = c1z.conn
        self.writer = writer
        self.sync_id = writer.sync_id
        self.state = state
        self.max_depth = max_depth
        self.checkpoint = checkpoint
        self.progress = progress
        self.stats = ExpansionStats()
        self.warnings = store.Warnings()
        self.ents = store.Entitlements(self.conn, self.sync_id)
        self.now = syncs.now_text()
        self.people = Principals()
        self._repage = False

    # -- setup --------------------------------------------------------------------------------------

    def _boundary(self) -> int:
        """Rows with ids up to this predate expansion; later ones were written by it."""
        if self.state.get("v") != STATE_VERSION or "boundary" not in self.state:
            top = self.conn.execute("select coalesce(max(id), 0) from v1_grants").fetchone()[0]
            self.state.clear()
            self.state.update(v=STATE_VERSION, boundary=int(top), done=0, chunks=0)
        return int(self.state["boundary"])

    def _check_plan(self, graph: EntitlementGraph, boundary: int) -> None:
        """On resume, a different graph makes the recorded progress meaningless: start over cleanly."""
        fingerprint = graph.fingerprint()
        if self.state.get("plan") not in (None, fingerprint):
            log.warning("grant expansion: the graph changed since the interrupted run; expanding from the start")
            with self.writer.transaction():
                self.conn.execute("delete from v1_grants where sync_id = ? and id > ?", (self.sync_id, boundary))
            self.state.update(done=0, chunks=0)
        self.stats.resumed = bool(self.state.get("done") or self.state.get("chunks"))
        self.state["plan"] = fingerprint

    def _report_depth(self, graph: EntitlementGraph, layout: Plan) -> None:
        self.stats.depth = min(layout.depth, self.max_depth)
        self.stats.skipped = len(layout.skipped)
        if layout.skipped:
            log.warning("grant expansion: entitlements are nested %d levels deep, more than the maximum of %d; "
                        "%d entitlements nested deeper (e.g. %s) get no derived grants. Raise the max depth "
                        "(expansion_max_depth, BATON_GRAPH_EXPAND_MAX_DEPTH) if this nesting is intended.",
                        layout.depth, self.max_depth, len(layout.skipped), graph.ids[layout.skipped[0]])

    def _remaining(self, graph: EntitlementGraph, direct: list[frozenset[int]], people: Principals,
                   layout: Plan) -> int:
        """How many derived grants are still to write: a dry walk (set arithmetic only)."""
        holders = Holders(graph, direct, people.types)
        done = int(self.state["done"])
        return sum(len(holders.held(ent)) - len(direct[ent]) for position, ent in expansion_walk(layout, holders)
                   if position >= done)

    @contextlib.contextmanager
    def _step(self, what: str) -> Iterator[None]:
        """Log how long each step takes (debug level): where the time goes on a big file."""
        started, cpu = time.monotonic(), time.process_time()
        yield
        log.debug("grant expansion: %s took %.2fs (cpu %.2fs, peak rss %d MB)", what, time.monotonic() - started,
                  time.process_time() - cpu, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)

    def run(self) -> ExpansionStats:
        with self._step("loading the graph"):
            boundary = self._boundary()
            graph = store.load_graph(self.conn, self.sync_id, self.ents, self.warnings)
            self._check_plan(graph, boundary)
        with self._step("loading holders"):
            prior = store.load_prior_derived(self.conn, self.sync_id, boundary)
            people, direct = store.load_direct(self.writer, self.conn, self.sync_id, boundary, graph, prior)
            self.people = people
        with self._step("planning"):
            layout = plan(graph, self.max_depth)
            self._report_depth(graph, layout)
            self.stats.edges = len(graph.edges)
            remaining = self._remaining(graph, direct, people, layout)
            self.stats.bulk = remaining >= BULK_MIN_ROWS and remaining * 4 >= boundary
            self._repage = self.stats.bulk and store.should_repage(self.conn, remaining)
        with self._step("preparing the writer"):
            out = DerivedWriter(self.writer, self.conn, people, store.load_parents(self.conn, self.sync_id, people),
                                graph, self.now)
        try:
            self._write(graph, layout, Holders(graph, direct, people.types), out, prior)
        finally:
            out.close()
        self.warnings.emit()
        return self.stats

    def _write(self, graph: EntitlementGraph, layout: Plan, holders: Holders, out: DerivedWriter,
               prior: PriorDerived) -> None:
        bulk = store.rollback_journal(self.conn) if self.stats.bulk else contextlib.nullcontext()
        with bulk:
            self._write_all(graph, layout, holders, out, prior)

    def _write_all(self, graph: EntitlementGraph, layout: Plan, holders: Holders, out: DerivedWriter,
                   prior: PriorDerived) -> None:
        if self.stats.bulk:
            with self._step("dropping bulk indexes"):
                store.drop_bulk_indexes(self.writer, self.conn)
        if self._repage:
            with self._step("moving to bigger pages"):
                self.stats.repaged = store.repage(self.conn)
        with self._step("writing derived grants"), _Batcher(self.writer, self.state, self.checkpoint) as batch:
            self._walk(layout, holders, out, prior, batch)
            self._remove_stale_elsewhere(graph, layout, prior)
        if self.stats.bulk:
            with self._step("rebuilding bulk indexes"):
                store.rebuild_bulk_indexes(self.writer, self.conn)

    # -- the walk -----------------------------------------------------------------------------------

    def _walk(self, layout: Plan, holders: Holders, out: DerivedWriter, prior: PriorDerived,
              batch: _Batcher) -> None:
        total = len(layout.destinations(holders.into))
        if self.progress is not None:
            self.progress.phase("grant expansion", total)
        done = int(self.state["done"])
        for position, ent in expansion_walk(layout, holders):
            if position >= done:
                self._expand_destination(ent, holders, out, prior, batch, position)
            if self.progress is not None:
                self.progress.advance(1)
        self.stats.destinations = total

    def _destination(self, ent: int, graph: EntitlementGraph) -> Destination | None:
        found = self.ents.get(graph.ids[ent])
        if found is None:
            return None
        return Destination(ent, graph.ids[ent], found[0], found[1], wire.entitlement_field(found[2]))

    def _expand_destination(self, ent: int, holders: Holders, out: DerivedWriter, prior: PriorDerived,
                            batch: _Batcher, position: int) -> None:
        """Write the derived grants of one entitlement, add sources to its direct grants, drop stale ones."""
        dest = self._destination(ent, holders.graph)
        if dest is None:
            return
        contributions = holders.contributions(ent)
        derived = holders.held(ent) - holders.direct[ent]
        skip = int(self.state["chunks"]) if position == int(self.state["done"]) else 0
        chunk = 0
        for tail, members in derived_groups(derived, contributions, holders, out):
            for start in range(0, len(members), CHUNK_ROWS):
                chunk += 1
                if chunk > skip:
                    part = members[start:start + CHUNK_ROWS]
                    out.insert(dest, part, tail)
                    self.stats.derived += len(part)
                    batch.wrote(len(part), position, chunk)
        self._merge_into_direct(dest, contributions, holders)
        self._remove_stale(dest.entitlement_id, derived, self.people, prior)
        batch.wrote(0, position + 1, 0)

    def _merge_into_direct(self, dest: Destination, contributions: Sequence[tuple[int, HolderSet]],
                           holders: Holders) -> None:
        """Principals holding the destination directly *and* through a source: add the sources to their grant."""
        own = holders.direct[dest.index]
        if not own:
            return
        reached: set[int] = set()
        for _, c in contributions:
            reached |= own.intersection(c)
        for p in sorted(reached):
            rows = store.merged_rows(self.conn, dest, (self.people.types[p], self.people.ids[p]),
                                     holders.sources(p, contributions),
                                     self.sync_id, int(self.state["boundary"]), self.now)
            if rows:
                self.writer.put_grant_rows(rows)
                self.stats.updated_direct += len(rows)

    def _remove_stale(self, entitlement_id: str, derived: HolderSet, people: Principals,
                      prior: PriorDerived) -> None:
        """Drop derived grants an earlier expansion wrote that this one does not derive."""
        before = prior.get(entitlement_id)
        if before:
            now = {(people.types[p], people.ids[p]) for p in derived}
            self._delete([gid for key, gid in before.items() if key not in now])

    def _remove_stale_elsewhere(self, graph: EntitlementGraph, layout: Plan, prior: PriorDerived) -> None:
        """Earlier derived grants on entitlements this run derives nothing for (no edge in, or too deep)."""
        into = graph.incoming()
        expanded = {graph.ids[m] for comp in layout.components for m in comp.members if into[m]}
        self._delete([gid for ent, found in prior.items() if ent not in expanded for gid in found.values()])

    def _delete(self, grant_ids: Sequence[str]) -> None:
        if grant_ids:
            self.writer.delete_grants(grant_ids)
            self.stats.removed_stale += len(grant_ids)



# The grouping of derived principals by their sources, for the incremental expander (same bytes, same order).


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


__all__ = ["DEFAULT_MAX_DEPTH", "ExpansionStats", "derived_groups", "expand_file", "expand_sync"]
