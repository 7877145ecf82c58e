"""Grant expansion's side of the store: what it reads, and how it writes derived grants fast.

Reading touches only the grants' id columns (entitlement, principal type and
id), never their messages, except for the few grants that might be *derived*
already (a Go-expanded file, an interrupted run), which carry a
``GrantImmutable`` annotation and are found by SQLite before any message is
parsed.

Writing is where the time goes (a fan-out can derive 10M grants), so SQLite
assembles each derived grant itself: the per-principal pieces (type, id, the
encoded principal field, the ``:type:id`` suffix of the grant id) sit in a temp
table, and one ``INSERT ... SELECT`` per destination entitlement and source set
joins them with the destination's pieces over a JSON array of principal
numbers. No Python object is created per grant. The bytes are the ones
:mod:`pybaton.sync.expand_wire` builds (the tests compare them).
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from google.protobuf.message import DecodeError

from pybaton.c1z import SyncQueries, SyncWriter, schema
from pybaton.c1z.expandable import ExpandableGrant, expandable_grant, expansion_records
from pybaton.c1z.writer import GrantRow
from pybaton.errors import C1ZFormatError
from pybaton.pb.c1.connector.v2 import annotation_grant_pb2, grant_pb2
from pybaton.sync import expand_wire as wire
from pybaton.sync.expand_graph import EdgeSpec, EntitlementGraph

log = logging.getLogger("pybaton.sync.expand")

# The annotation type every derived grant carries in its bytes: a cheap SQL pre-filter (``instr``) before
# any message is parsed.
IMMUTABLE_MARK = b"c1.connector.v2.GrantImmutable"

# The index whose incremental upkeep costs most in a bulk expansion: grants are written entitlement
# by entitlement, so every other grant index takes (nearly) ordered inserts, but this one takes
# random ones. A big expansion drops it and rebuilds it with one sort at the end (measured: cheaper
# than dropping more, since the others then cost a full sort of the table each).
BULK_DROPPED_INDEXES = ("idx_grants_principal_id_v1",)

PriorDerived = dict[str, dict[tuple[str, str], str]]


class Warnings:
    """Problems with the data, counted and shown once each with a few examples (never one line per grant)."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.examples: dict[str, list[str]] = {}

    def add(self, kind: str, example: str) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1
        shown = self.examples.setdefault(kind, [])
        if len(shown) < 3:
            shown.append(example)

    def emit(self) -> None:
        for kind, count in sorted(self.counts.items()):
            log.warning("grant expansion: %s: %d (e.g. %s)", kind, count, "; ".join(self.examples[kind]))


class Entitlements:
    """Cached lookups of entitlement rows by id: their resource, and their stored bytes."""

    def __init__(self, conn: sqlite3.Connection, sync_id: str) -> None:
        self._conn = conn
        self._sync_id = sync_id
        self._cache: dict[str, tuple[str, str, bytes] | None] = {}

    def get(self, entitlement_id: str) -> tuple[str, str, bytes] | None:
        if entitlement_id not in self._cache:
            row = self._conn.execute(
                "select resource_type_id, resource_id, data from v1_entitlements where external_id = ? and sync_id = ?",
                (entitlement_id, self._sync_id)).fetchone()
            self._cache[entitlement_id] = (row[0], row[1], bytes(row[2])) if row else None
        return self._cache[entitlement_id]

    def resource_of(self, entitlement_id: str) -> tuple[str, str] | None:
        found = self.get(entitlement_id)
        return (found[0], found[1]) if found is not None else None


# -- the graph -------------------------------------------------------------------------------------


class EntitlementResources(Protocol):
    """Which resource an entitlement is on (None: not in the sync) — all the graph's rules need of it."""

    def resource_of(self, entitlement_id: str) -> tuple[str, str] | None: ...


class QueriedEntitlements:
    """:class:`EntitlementResources` from any reader of a sync (a file, the warehouse), each id asked once."""

    def __init__(self, queries: SyncQueries) -> None:
        self._queries = queries
        self._cache: dict[str, tuple[str, str] | None] = {}

    def resource_of(self, entitlement_id: str) -> tuple[str, str] | None:
        if entitlement_id not in self._cache:
            ent = self._queries.entitlement(entitlement_id)
            self._cache[entitlement_id] = (
                (ent.resource.id.resource_type, ent.resource.id.resource) if ent is not None else None)
        return self._cache[entitlement_id]


def _add_edges(graph: EntitlementGraph, ents: EntitlementResources, warnings: Warnings, dst: str,
               principal: tuple[str, str], expandable: annotation_grant_pb2.GrantExpandable) -> None:
    """Add the edges one expandable grant declares, skipping those Baton rejects."""
    types = frozenset(t for t in expandable.resource_type_ids if t.strip()) or None
    spec = EdgeSpec(expandable.shallow, types)
    for raw in expandable.entitlement_ids:
        src = raw.strip()
        if not src:
            continue
        found = ents.resource_of(src)
        if found is None:
            warnings.add("source entitlement not in the sync, edge skipped", f"{src} -> {dst}")
        elif found != principal:
            warnings.add("source entitlement is not on the grant's principal, edge skipped", f"{src} -> {dst}")
        else:
            graph.add_edge(src, dst, spec)


def build_graph(expandables: Iterable[ExpandableGrant], ents: EntitlementResources,
                warnings: Warnings) -> EntitlementGraph:
    """The entitlement graph of one sync, from its expandable grants."""
    graph = EntitlementGraph()
    for dst, principal, expandable in expandables:
        if expandable is None:
            warnings.add("unreadable GrantExpandable annotation, grant not expanded",
                         f"{dst}:{principal[0]}:{principal[1]}")
        elif ents.resource_of(dst) is None:
            warnings.add("destination entitlement not in the sync, grant not expanded", dst)
        else:
            _add_edges(graph, ents, warnings, dst, principal, expandable)
    return graph


def load_graph(conn: sqlite3.Connection, sync_id: str, ents: Entitlements, warnings: Warnings) -> EntitlementGraph:
    """The graph as the sync engine builds it: straight from the file's SQLite, for speed."""
    return build_graph(map(expandable_grant, expansion_records(conn, sync_id)), ents, warnings)


def sync_graph(queries: SyncQueries) -> EntitlementGraph:
    """The expansion graph of a finished sync, from a file or the warehouse, for a reader that re-applies
    expansion to changes it imagines (the reconcile planner); the sync already reported any problem with the
    data, so nothing is logged here."""
    return build_graph(queries.expandable_grants(), QueriedEntitlements(queries), Warnings())


# -- holders ---------------------------------------------------------------------------------------


def is_derived(grant: grant_pb2.Grant, entitlement_id: str | None = None) -> bool:
    """Baton's rule: a grant is derived (made by expansion) when it has sources and its own entitlement is not
    one of them; every other grant is direct, and is what expansion starts from."""
    sources = grant.sources.sources
    return len(sources) > 0 and (entitlement_id or grant.entitlement.id) not in sources


def _grant_is_derived(blob: bytes, entitlement_id: str) -> bool:
    try:
        return is_derived(grant_pb2.Grant.FromString(blob), entitlement_id)
    except DecodeError:
        return False


def load_prior_derived(conn: sqlite3.Connection, sync_id: str, boundary: int) -> PriorDerived:
    """Derived grants that predate this expansion (a Go-expanded file, an earlier run): ent -> principal -> id."""
    found: PriorDerived = {}
    for ent, ptype, pid, gid, blob in conn.execute(
            "select entitlement_id, principal_resource_type_id, principal_resource_id, external_id, data "
            "from v1_grants where sync_id = ? and id <= ? and instr(data, ?) > 0", (sync_id, boundary, IMMUTABLE_MARK)):
        if _grant_is_derived(bytes(blob), ent):
            found.setdefault(ent, {})[(ptype, pid)] = gid
    return found


_UNIT = "\x1f"  # joins a principal's type and id into one key string
_RECORD = "\x1e"  # joins keys in SQLite's group_concat


def principal_key(ptype: str, pid: str) -> str:
    """One string per principal (cheaper to hash and compare than a tuple, a million times over)."""
    if _UNIT in ptype:
        raise C1ZFormatError(f"resource type id {ptype!r} contains a control character (U+001F)")
    return ptype + _UNIT + pid


@dataclass
class Principals:
    """Principals numbered in ``type:id`` order, so that sorted numbers are sorted grant ids."""

    types: list[str] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    index: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_keys(cls, keys: Iterable[str]) -> Principals:
        ordered = sorted(keys, key=lambda k: k.replace(_UNIT, ":", 1))
        people = cls(index={k: n for n, k in enumerate(ordered)})
        for key in ordered:
            ptype, _, pid = key.partition(_UNIT)
            people.types.append(ptype)
            people.ids.append(pid)
        return people


def _fill_temp_entitlements(writer: SyncWriter, conn: sqlite3.Connection, graph: EntitlementGraph) -> None:
    conn.execute("create temp table if not exists pybaton_expand_ents (n integer primary key, id text unique)")
    with writer.transaction():
        conn.execute("delete from temp.pybaton_expand_ents")
        conn.executemany("insert into temp.pybaton_expand_ents values (?, ?)", enumerate(graph.ids))


def _keys_of(conn: sqlite3.Connection, sync_id: str, boundary: int, entitlement_id: str) -> list[str]:
    """The principal keys of one entitlement, row by row (when ids hold the characters the fast path joins with)."""
    return [principal_key(t, i) for t, i in conn.execute(
        "select principal_resource_type_id, principal_resource_id from v1_grants "
        "where entitlement_id = ? and sync_id = ? and id <= ?", (entitlement_id, sync_id, boundary))]


def _direct_keys(writer: SyncWriter, conn: sqlite3.Connection, sync_id: str, boundary: int,
                 graph: EntitlementGraph) -> dict[int, list[str]]:
    """Principal keys of every graph entitlement, one joined string per entitlement from SQLite."""
    _fill_temp_entitlements(writer, conn, graph)
    found: dict[int, list[str]] = {}
    try:
        for n, count, joined in conn.execute(
                "select e.n, count(*), group_concat(g.principal_resource_type_id || char(31) || "
                "g.principal_resource_id, char(30)) from temp.pybaton_expand_ents e "
                "join v1_grants g on g.entitlement_id = e.id where g.sync_id = ? and g.id <= ? group by e.n",
                (sync_id, boundary)):
            keys = joined.split(_RECORD)
            if len(keys) != count or joined.count(_UNIT) != count:
                keys = _keys_of(conn, sync_id, boundary, graph.ids[n])
            found[n] = keys
    finally:
        conn.execute("drop table if exists temp.pybaton_expand_ents")
    return found


def load_direct(writer: SyncWriter, conn: sqlite3.Connection, sync_id: str, boundary: int,
                graph: EntitlementGraph, prior: PriorDerived) -> tuple[Principals, list[frozenset[int]]]:
    """Direct holders of every graph entitlement (grants from the connector, not derived ones), numbered."""
    keys = _direct_keys(writer, conn, sync_id, boundary, graph)
    for ent, derived in prior.items():
        n = graph.index.get(ent)
        if n is not None and n in keys:
            skip = {principal_key(*p) for p in derived}
            keys[n] = [k for k in keys[n] if k not in skip]
    people = Principals.from_keys(set().union(*keys.values()))
    number = people.index.__getitem__
    return people, [frozenset(map(number, keys.get(n, ()))) for n in range(len(graph.ids))]


def load_parents(conn: sqlite3.Connection, sync_id: str, people: Principals) -> dict[int, tuple[str, str]]:
    """Parents of the principals that are child resources (derived grants carry them, as Baton's do)."""
    parents: dict[int, tuple[str, str]] = {}
    for rtype, key, ptype, pid in conn.execute(
            "select resource_type_id, external_id, parent_resource_type_id, parent_resource_id from v1_resources "
            "where sync_id = ? and parent_resource_id is not null and parent_resource_id != ''", (sync_id,)):
        idx = people.index.get(principal_key(rtype, key[len(rtype) + 1:]))
        if idx is not None:
            parents[idx] = (ptype or "", pid)
    return parents


# -- writing ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Destination:
    """What every derived grant of one entitlement shares."""

    index: int
    entitlement_id: str
    resource_type: str
    resource_id: str
    prefix: bytes


_COLUMNS = ("resource_type_id", "resource_id", "entitlement_id", "principal_resource_type_id", "principal_resource_id",
            "external_id", "expansion", "needs_expansion", "data", "sync_id", "discovered_at")
_UPDATE = ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS if c not in ("external_id", "sync_id"))

# ?1 type, ?2 resource, ?3 entitlement id, ?4 entitlement field, ?5 id-length of ?3, ?6 tail, ?7 sync, ?8 now,
# ?9 JSON array of principal numbers. ``where true`` keeps SQLite from reading ON CONFLICT as a join clause.
_INSERT_DERIVED = f"""
insert into v1_grants ({", ".join(_COLUMNS)})
select ?1, ?2, ?3, m.ptype, m.pid, ?3 || m.suffix, null, 0,
       cast(?4 || m.principal || x'1a' || v.b || ?3 || m.suffix || ?6 as blob), ?7, ?8
from json_each(?9) j join temp.pybaton_expand_members m on m.n = j.value
     join temp.pybaton_expand_varint v on v.n = ?5 + m.suffix_len
where true
on conflict (external_id, sync_id) do update set {_UPDATE}
"""


class DerivedWriter:
    """Writes derived grants with SQLite assembling the bytes (see the module doc)."""

    def __init__(self, writer: SyncWriter, conn: sqlite3.Connection, people: Principals,
                 parents: dict[int, tuple[str, str]], graph: EntitlementGraph, now: str) -> None:
        self._conn = conn
        self._sync_id = writer.sync_id
        self._now = now
        self._tails: dict[tuple[tuple[str, bool], ...], bytes] = {}
        suffixes = [f":{t}:{i}".encode() for t, i in zip(people.types, people.ids, strict=True)]
        longest = max((len(e.encode()) for e in graph.ids), default=0) + max(map(len, suffixes), default=0)
        # Every derived grant reads one member row: give the temp schema a cache that holds them
        # (its default one is tiny).
        conn.execute("pragma temp.cache_size = -65536")
        conn.execute("create temp table if not exists pybaton_expand_members (n integer primary key, ptype text, "
                     "pid text, suffix text, suffix_len integer, principal blob)")
        conn.execute("create temp table if not exists pybaton_expand_varint (n integer primary key, b blob)")
        with writer.transaction():
            conn.execute("delete from temp.pybaton_expand_members")
            conn.executemany("insert into temp.pybaton_expand_members values (?, ?, ?, ?, ?, ?)", (
                (n, t, i, s.decode(), len(s), wire.principal_field(t, i, parents.get(n)))
                for n, (t, i, s) in enumerate(zip(people.types, people.ids, suffixes, strict=True))))
            conn.execute("delete from temp.pybaton_expand_varint")
            conn.executemany("insert into temp.pybaton_expand_varint values (?, ?)",
                             ((n, wire.varint(n)) for n in range(longest + 1)))

    def tail(self, sources: tuple[tuple[str, bool], ...]) -> bytes:
        """The bytes after the id: the ``GrantImmutable`` annotation and the sources map."""
        found = self._tails.get(sources)
        if found is None:
            if len(self._tails) > 100_000:
                self._tails.clear()
            found = wire.IMMUTABLE_FIELD + wire.sources_field(sources)
            self._tails[sources] = found
        return found

    def insert(self, dest: Destination, principals: Sequence[int], tail: bytes) -> None:
        """Upsert the derived grants of ``principals`` (sorted numbers) that share ``tail``."""
        if principals:
            self._conn.execute(_INSERT_DERIVED, (
                dest.resource_type, dest.resource_id, dest.entitlement_id, dest.prefix,
                len(dest.entitlement_id.encode()), tail, self._sync_id, self._now, json.dumps(principals)))

    def close(self) -> None:
        self._conn.execute("drop table if exists temp.pybaton_expand_members")
        self._conn.execute("drop table if exists temp.pybaton_expand_varint")


def with_sources(blob: bytes, entitlement_id: str, found: Sequence[tuple[str, bool]]) -> bytes | None:
    """A direct grant with the sources added as Go adds them (``{self: direct}`` first); None when unchanged."""
    grant = grant_pb2.Grant.FromString(blob)
    sources = grant.sources.sources
    changed = False
    if len(sources) == 0:
        sources[entitlement_id].is_direct = True
        changed = True
    for key, direct in found:
        if key not in sources:
            sources[key].is_direct = direct
            changed = True
        elif direct and not sources[key].is_direct:
            sources[key].is_direct = True
            changed = True
    return grant.SerializeToString(deterministic=True) if changed else None


def merged_rows(conn: sqlite3.Connection, dest: Destination, principal: tuple[str, str],
                found: Sequence[tuple[str, bool]], sync_id: str, boundary: int, now: str) -> list[GrantRow]:
    """The direct grant(s) of ``principal`` on ``dest`` with ``found`` sources added, where that changes them."""
    rows: list[GrantRow] = []
    for gid, expansion, needs, blob in conn.execute(
            "select external_id, expansion, needs_expansion, data from v1_grants where entitlement_id = ? "
            "and principal_resource_type_id = ? and principal_resource_id = ? and sync_id = ? and id <= ?",
            (dest.entitlement_id, principal[0], principal[1], sync_id, boundary)).fetchall():
        updated = with_sources(bytes(blob), dest.entitlement_id, found)
        if updated is not None:
            rows.append((dest.resource_type, dest.resource_id, dest.entitlement_id, principal[0], principal[1], gid,
                         expansion, needs, updated, sync_id, now))
    return rows


# Worker threads SQLite's sorter may use while building an index (the sort is most of that work).
SORTER_THREADS = 2


@contextlib.contextmanager
def rollback_journal(conn: sqlite3.Connection) -> Iterator[None]:
    """Write through a rollback journal instead of the WAL for a bulk step, then go back to the WAL.

    Why: in WAL mode every page a bulk step writes is written twice (into the
    WAL, then copied into the database by the checkpoint); with a rollback
    journal, pages appended past the database's end at a transaction's start
    (most of a bulk load: new table rows, index pages) are written once and not
    journaled. Measured: about 40% less CPU per inserted row in isolation (most
    of it system time), 15-20% less for a whole fan-out expansion. Commits stay atomic (a killed run leaves a hot
    journal that SQLite rolls back on the next open), so resuming is unchanged.
    Leaving WAL mode needs the only connection to the file: when another one is
    open (or reading), the WAL stays and this changes nothing. Also lets SQLite's
    sorter use worker threads for index builds.
    """
    switched = _leave_wal(conn)
    conn.execute(f"pragma threads = {SORTER_THREADS}")
    try:
        yield
    finally:
        conn.execute("pragma threads = 0")
        if switched:
            with contextlib.suppress(sqlite3.OperationalError):  # then the next open of the file sets it
                conn.execute("pragma journal_mode = wal")


def _leave_wal(conn: sqlite3.Connection) -> bool:
    """Switch a WAL database to a rollback journal; False when it was not in WAL mode or is not ours alone."""
    if str(conn.execute("pragma journal_mode").fetchone()[0]).lower() != "wal":
        return False
    try:
        return str(conn.execute("pragma journal_mode = delete").fetchone()[0]).lower() != "wal"
    except sqlite3.OperationalError:  # "database is locked": another connection is reading
        return False


# The page size a big expansion moves the working copy to (SQLite's largest). Measured on the fan-out
# shape (3M derived grants): 16.1 s with 4 KiB pages, 12.3 s with 16 KiB, 10.7 s with 64 KiB; every
# b-tree is shallower, each leaf takes ~16x the cells before it splits, and the kernel copies a
# page per write call instead of sixteen. Go's SQLite reads a file of any page size.
BULK_PAGE_SIZE = 65536
# Moving to bigger pages rewrites the file once (VACUUM): only worth it when the expansion grows the
# file several-fold (a fan-out), not for a nested sync that doubles or triples it (measured on the
# `scale` shape: the VACUUM costs what the bigger pages save).
REPAGE_MIN_FACTOR = 4
# What one derived grant adds to the file: its row and its entries in the grant indexes (measured
# ~580 bytes on the fan-out shape).
DERIVED_ROW_BYTES = 500


def should_repage(conn: sqlite3.Connection, remaining: int) -> bool:
    """Whether a bulk expansion writing ``remaining`` rows moves the file to :data:`BULK_PAGE_SIZE` first:
    when the rows it writes are at least :data:`REPAGE_MIN_FACTOR` times the size of the file now."""
    page_size = int(conn.execute("pragma main.page_size").fetchone()[0])
    if page_size >= BULK_PAGE_SIZE:
        return False
    size = page_size * int(conn.execute("pragma main.page_count").fetchone()[0])
    return remaining * DERIVED_ROW_BYTES >= REPAGE_MIN_FACTOR * size


def repage(conn: sqlite3.Connection) -> bool:
    """Rewrite the database with :data:`BULK_PAGE_SIZE` pages (row ids, rows and schema unchanged).

    Only possible outside WAL mode (call it inside :func:`rollback_journal`); a
    VACUUM through the rollback journal is atomic, so a kill midway leaves the
    file as it was. False (nothing done) when the file is still in WAL mode.
    """
    if str(conn.execute("pragma journal_mode").fetchone()[0]).lower() == "wal":
        return False
    cache = int(conn.execute("pragma main.cache_size").fetchone()[0])
    before = int(conn.execute("pragma main.page_size").fetchone()[0])
    # SQLite carries the cache's page *count* over to the new page size, for the VACUUM's copy and
    # after it (measured: a 128 MB cache of 4 KiB pages became 2 GB of 64 KiB ones). So: a count
    # that fits the budget in big pages during the VACUUM, and the budget set again after it.
    budget = -cache * 1024 if cache < 0 else cache * before
    conn.execute(f"pragma main.cache_size = {max(budget // BULK_PAGE_SIZE, 16)}")
    conn.execute(f"pragma main.page_size = {BULK_PAGE_SIZE}")
    try:
        conn.execute("vacuum main")
    except sqlite3.OperationalError as exc:  # e.g. a statement of the caller's still open: keep the pages
        log.debug("grant expansion: not moving to bigger pages: %s", exc)
        conn.execute(f"pragma main.page_size = {before}")
        return False
    finally:
        conn.execute(f"pragma main.cache_size = {cache}")
    return int(conn.execute("pragma page_size").fetchone()[0]) == BULK_PAGE_SIZE


def drop_bulk_indexes(writer: SyncWriter, conn: sqlite3.Connection) -> None:
    """Drop the indexes a bulk write would update row by row (a crash leaves them to ``schema.migrate``)."""
    with writer.transaction():
        for name in BULK_DROPPED_INDEXES:
            conn.execute(f"drop index if exists {name}")


def rebuild_bulk_indexes(writer: SyncWriter, conn: sqlite3.Connection) -> None:
    """Recreate the dropped indexes in one sort each."""
    with writer.transaction():
        for spec in schema.INDEXES:
            if spec[0] in BULK_DROPPED_INDEXES:
                conn.execute(schema.index_sql(*spec))
