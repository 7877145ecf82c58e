"""Incremental grant expansion: re-derive only what a change can reach.

An incremental sync folds the changes into the previous full run (already
expanded), in place. Re-expanding that whole run would cost as much as a
full sync's expansion; instead this module works out which entitlements the
changes can affect and re-expands only those:

- *changed*: the entitlement of every grant the ``partial_upserts`` or
  ``partial_deletions`` run holds, every entitlement those runs hold (a derived
  grant embeds its entitlement whole), the destinations of edges that differ
  between the old and the new graph, and the entitlements on which a resource
  that moved to another parent holds grants (a derived grant embeds its
  principal's parent);
- *affected*: the changed entitlements and everything downstream of them in the
  old graph or the new one (holders flow down edges, so nothing else can move).

Every other entitlement keeps the rows the previous run had, derived grants and
merged sources included: nothing feeding it changed, so a full re-expansion
would write the same bytes. The affected entitlements lose their derived grants
and their direct grants go back to the connector's form; then the affected
components of the new graph are expanded in plan order with the full
expander's own pieces (:class:`~pybaton.sync.expand_graph.Holders`, its
grouping of sources, :class:`~pybaton.sync.expand_store.DerivedWriter`), the
holders of unaffected sources read from their rows. A removed membership thus
removes exactly the derived grants that depended on it, an added one adds
them along the nesting, and ``sources`` come out as a full expansion writes
them (``tests/test_incremental.py`` compares with fresh full syncs).
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from pybaton.c1z import SyncWriter, syncs
from pybaton.c1z.expandable import ExpansionRecord, expandable_grant, expansion_records
from pybaton.sync import expand_store as store
from pybaton.sync import expand_wire as wire
from pybaton.sync.expand import DEFAULT_MAX_DEPTH, derived_groups
from pybaton.sync.expand_graph import EdgeSpec, EntitlementGraph, Holders, HolderSet, plan
from pybaton.sync.expand_store import DerivedWriter, Destination, Principals, principal_key

log = logging.getLogger("pybaton.sync.expand")

# 1 when a row of v1_grants is a derived grant (needs the pybaton_derived SQL function registered).
_IS_DERIVED = "(instr(data, ?) > 0 and pybaton_derived(data, entitlement_id) = 1)"


@dataclass
class IncrementalStats:
    """What one incremental expansion did (logged; tests read it)."""

    changed: int = 0
    affected: int = 0
    destinations: int = 0
    derived: int = 0
    updated_direct: int = 0


@dataclass(frozen=True)
class Runs:
    """The runs of one incremental sync. The changes are compacted into ``base`` itself, in place
    (:mod:`pybaton.sync.inplace`)."""

    base: str
    upserts: str
    deletions: str
    # Every grant row of the partial runs has a larger row id than this (they are written after ``base``):
    # ``id > floor`` finds them by a range of the table's key instead of a scan of it.
    floor: int = 0


def _records(conn: sqlite3.Connection, sync_id: str) -> Iterator[ExpansionRecord]:
    """The run's expandable grants. A run marked ``grants_backfilled`` keeps every ``GrantExpandable`` in the
    ``expansion`` column (that is what the flag says, for Go too), so the scan of every grant's bytes for
    the legacy annotation, which costs as much as the file is big, is skipped."""
    row = conn.execute("select grants_backfilled from v1_sync_runs where sync_id = ?", (sync_id,)).fetchone()
    if row is None or not row[0]:
        yield from expansion_records(conn, sync_id)
        return
    for gid, dst, ptype, pid, blob in conn.execute(
            "select external_id, entitlement_id, principal_resource_type_id, principal_resource_id, expansion "
            "from v1_grants where sync_id = ? and expansion is not null order by id", (sync_id,)):
        yield ExpansionRecord(gid, dst, ptype, pid, bytes(blob))


def _graph(conn: sqlite3.Connection, sync_id: str) -> EntitlementGraph:
    return store.build_graph(map(expandable_grant, _records(conn, sync_id)), store.Entitlements(conn, sync_id),
                             store.Warnings())


def _named_edges(graph: EntitlementGraph) -> dict[tuple[str, str], EdgeSpec]:
    return {(graph.ids[s], graph.ids[d]): spec for (s, d), spec in graph.edges.items()}


def _moved_principals(conn: sqlite3.Connection, runs: Runs) -> list[tuple[str, str]]:
    """Upserted resources whose parent differs from the previous run's (their derived grants embed it)."""
    return [(rtype, key[len(rtype) + 1:]) for rtype, key in conn.execute(
        "select r.resource_type_id, r.external_id from v1_resources r cross join v1_resources o "
        "on o.external_id = r.external_id and o.sync_id = ? where r.sync_id = ? and "
        "(coalesce(o.parent_resource_type_id, '') != coalesce(r.parent_resource_type_id, '') or "
        "coalesce(o.parent_resource_id, '') != coalesce(r.parent_resource_id, ''))", (runs.base, runs.upserts))]


@dataclass(frozen=True)
class Before:
    """What the expansion needs from the previous full run as it was, read before the compaction changes it
    in place: its entitlement graph, and the entitlements a principal that moved to another parent held
    grants on (their derived grants embed the parent)."""

    graph: EntitlementGraph
    moved: frozenset[str]


def before_compaction(conn: sqlite3.Connection, runs: Runs) -> Before:
    """Read :class:`Before` (the upserts run must be written, the base run not yet compacted)."""
    moved: set[str] = set()
    for ptype, pid in _moved_principals(conn, runs):
        moved.update(row[0] for row in conn.execute(
            "select distinct entitlement_id from v1_grants where principal_resource_type_id = ? and "
            "principal_resource_id = ? and sync_id = ?", (ptype, pid, runs.base)))
    return Before(_graph(conn, runs.base), frozenset(moved))


def changed_entitlements(conn: sqlite3.Connection, runs: Runs, before: Before, new: EntitlementGraph) -> set[str]:
    """The entitlements whose own grants, own bytes or incoming edges the changes touch (see the module doc)."""
    found = {row[0] for row in conn.execute(
        "select entitlement_id from v1_grants where id > ? and sync_id in (?, ?) union "
        "select external_id from v1_entitlements where sync_id in (?, ?)",
        (runs.floor, runs.upserts, runs.deletions, runs.upserts, runs.deletions))}
    old_edges, new_edges = _named_edges(before.graph), _named_edges(new)
    found.update(dst for (_, dst), _ in set(old_edges.items()) ^ set(new_edges.items()))
    found.update(before.moved)
    return found


def downstream(start: Iterable[str], graphs: Sequence[EntitlementGraph]) -> set[str]:
    """``start`` and every entitlement reachable from it over the edges of any of ``graphs``."""
    out: dict[str, list[str]] = {}
    for graph in graphs:
        for src, dst in graph.edges:
            out.setdefault(graph.ids[src], []).append(graph.ids[dst])
    seen = set(start)
    todo = list(seen)
    while todo:
        for nxt in out.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def _fill_affected(conn: sqlite3.Connection, affected: Iterable[str]) -> None:
    conn.execute("create temp table if not exists inc_affected (id text primary key)")
    conn.execute("delete from temp.inc_affected")
    conn.executemany("insert or ignore into temp.inc_affected values (?)", ((e,) for e in affected))


def reset_affected(conn: sqlite3.Connection, runs: Runs) -> None:
    """Affected entitlements of the compacted run (``temp.inc_affected``) lose their derived grants; their
    direct grants copied from the previous run go back to the connector's form."""
    conn.execute(f"delete from v1_grants where sync_id = ? and entitlement_id in (select id from temp.inc_affected) "
                 f"and {_IS_DERIVED}", (runs.base, store.IMMUTABLE_MARK))
    conn.execute("update v1_grants set data = pybaton_connector_form(data, entitlement_id) where sync_id = ? and "
                 "entitlement_id in (select id from temp.inc_affected) and external_id not in "
                 "(select external_id from v1_grants where id > ? and sync_id = ?)",
                 (runs.base, runs.floor, runs.upserts))


class _FixedHolders(Holders):
    """:class:`Holders` where some entitlements' holder sets are given (read from rows nothing changed)."""

    def __init__(self, graph: EntitlementGraph, direct: Sequence[frozenset[int]], types: Sequence[str],
                 fixed: dict[int, frozenset[int]]) -> None:
        super().__init__(graph, direct, types)
        self._fixed = fixed

    def held(self, ent: int) -> HolderSet:
        found = self._fixed.get(ent)
        return super().held(ent) if found is None else found


def _rows_of(conn: sqlite3.Connection, sync_id: str, entitlement_id: str) -> list[tuple[str, bool]]:
    """Principal keys of every grant of one entitlement, and whether each is derived."""
    return [(principal_key(t, i), bool(d)) for t, i, d in conn.execute(
        f"select principal_resource_type_id, principal_resource_id, {_IS_DERIVED} from v1_grants "
        "where entitlement_id = ? and sync_id = ?", (store.IMMUTABLE_MARK, entitlement_id, sync_id))]


class _Expansion:
    """The affected components of the new graph, expanded in plan order (see the module doc)."""

    def __init__(self, conn: sqlite3.Connection, writer: SyncWriter, graph: EntitlementGraph,
                 affected: set[str], max_depth: int) -> None:
        self.conn = conn
        self.writer = writer
        self.sync_id = writer.sync_id
        self.graph = graph
        self.layout = plan(graph, max_depth)
        self.into = graph.incoming()
        self.mine = {graph.index[e] for e in affected if e in graph.index}
        self.components = [c for c in self.layout.components if self.mine.intersection(c.members)]
        self.ents = store.Entitlements(conn, self.sync_id)
        self.stats = IncrementalStats()

    def _load(self) -> tuple[Principals, list[frozenset[int]], dict[int, frozenset[int]]]:
        """Direct holders of the affected entitlements; direct and all holders of the sources feeding them."""
        needed = {m for c in self.components for m in c.members}
        sources = {s for m in needed for s in self.into[m]} - needed
        rows = {n: _rows_of(self.conn, self.sync_id, self.graph.ids[n]) for n in needed | sources}
        people = Principals.from_keys({k for found in rows.values() for k, _ in found})
        number = people.index.__getitem__
        direct: list[frozenset[int]] = [frozenset()] * len(self.graph.ids)
        fixed: dict[int, frozenset[int]] = {}
        for n, found in rows.items():
            direct[n] = frozenset(number(k) for k, derived in found if not derived)
            if n in sources:
                fixed[n] = frozenset(number(k) for k, _ in found)
        return people, direct, fixed

    def run(self) -> IncrementalStats:
        if not self.components:
            return self.stats
        people, direct, fixed = self._load()
        holders = _FixedHolders(self.graph, direct, people.types, fixed)
        boundary = int(self.conn.execute("select coalesce(max(id), 0) from v1_grants").fetchone()[0])
        now = syncs.now_text()  # one discovery time for every row this expansion writes
        out = DerivedWriter(self.writer, self.conn, people, store.load_parents(self.conn, self.sync_id, people),
                            self.graph, now)
        try:
            with self.writer.transaction():
                for comp in self.components:
                    holders.compute(comp)
                    for member in comp.members:
                        if self.into[member]:
                            self._destination(member, holders, out, people, boundary, now)
        finally:
            out.close()
        return self.stats

    def _destination(self, ent: int, holders: Holders, out: DerivedWriter, people: Principals,
                     boundary: int, now: str) -> None:
        found = self.ents.get(self.graph.ids[ent])
        if found is None:
            return
        dest = Destination(ent, self.graph.ids[ent], found[0], found[1], wire.entitlement_field(found[2]))
        contributions = holders.contributions(ent)
        derived = holders.held(ent) - holders.direct[ent]
        for tail, members in derived_groups(derived, contributions, holders, out):
            out.insert(dest, members, tail)
            self.stats.derived += len(members)
        self.stats.destinations += 1
        own = holders.direct[ent]
        reached: set[int] = set()
        for _, reach in contributions:
            reached |= own.intersection(reach)
        for p in sorted(reached):
            rows = store.merged_rows(self.conn, dest, (people.types[p], people.ids[p]),
                                     holders.sources(p, contributions), self.sync_id, boundary, now)
            if rows:
                self.writer.put_grant_rows(rows)
                self.stats.updated_direct += len(rows)


def expand_changes(conn: sqlite3.Connection, writer: SyncWriter, runs: Runs, before: Before, *,
                   max_depth: int = DEFAULT_MAX_DEPTH) -> IncrementalStats:
    """Bring the expansion of the compacted run (``writer``'s) up to date with the changes (module doc).

    Expects the compacted run to hold the previous run's grants as they were (expanded) except those the
    partial runs replace or delete, ``before`` read from the previous run before it was compacted, and
    ``pybaton_derived`` / ``pybaton_connector_form`` registered.
    """
    started = time.monotonic()
    new = _graph(conn, runs.base)
    changed = changed_entitlements(conn, runs, before, new)
    affected = downstream(changed, (before.graph, new))
    with writer.transaction():
        _fill_affected(conn, affected)
        reset_affected(conn, runs)
    stats = _Expansion(conn, writer, new, affected, max_depth).run()
    stats.changed, stats.affected = len(changed), len(affected)
    log.info("incremental grant expansion: %d changed entitlements, %d affected, %d destinations re-expanded, "
             "%d derived grants, %d direct grants updated, %.2fs", stats.changed, stats.affected,
             stats.destinations, stats.derived, stats.updated_direct, time.monotonic() - started)
    return stats


__all__ = ["Before", "IncrementalStats", "Runs", "before_compaction", "changed_entitlements", "downstream", "expand_changes", "reset_affected"]
