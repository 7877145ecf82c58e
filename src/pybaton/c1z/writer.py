"""Bulk writes of one sync run's objects into the working database.

Rows are upserted on ``(external_id, sync_id)`` like Go's writer, so re-writing
a page after a resume replaces rather than duplicates. Each ``put_*`` call is
one transaction; the caller decides the batch size (and may bundle a checkpoint
into the same transaction with :meth:`SyncWriter.transaction`).
"""

from __future__ import annotations

import contextlib
import itertools
import sqlite3
from collections.abc import Iterable, Iterator
from typing import TypeVar

from pybaton.c1z import loader, schema, syncs
from pybaton.c1z.file import C1ZFile, sqlite_errors
from pybaton.c1z.wire import varint_at
from pybaton.pb.c1.connector.v2 import annotation_grant_pb2, entitlement_pb2, grant_pb2, resource_pb2

_EXPANDABLE_URL = "type.googleapis.com/" + annotation_grant_pb2.GrantExpandable.DESCRIPTOR.full_name

_UPSERT_RT = (
    "insert into v1_resource_types (external_id, data, sync_id, discovered_at) values (?, ?, ?, ?) "
    "on conflict (external_id, sync_id) do update set data = excluded.data, discovered_at = excluded.discovered_at"
)
_UPSERT_RES = (
    "insert into v1_resources (resource_type_id, external_id, parent_resource_type_id, parent_resource_id, "
    "data, sync_id, discovered_at) values (?, ?, ?, ?, ?, ?, ?) "
    "on conflict (external_id, sync_id) do update set resource_type_id = excluded.resource_type_id, "
    "parent_resource_type_id = excluded.parent_resource_type_id, parent_resource_id = excluded.parent_resource_id, "
    "data = excluded.data, discovered_at = excluded.discovered_at"
)
_UPSERT_ENT = (
    "insert into v1_entitlements (resource_type_id, resource_id, external_id, data, sync_id, discovered_at) "
    "values (?, ?, ?, ?, ?, ?) on conflict (external_id, sync_id) do update set "
    "resource_type_id = excluded.resource_type_id, resource_id = excluded.resource_id, data = excluded.data, "
    "discovered_at = excluded.discovered_at"
)
_GRANT_COLUMNS = (
    "resource_type_id, resource_id, entitlement_id, principal_resource_type_id, principal_resource_id, "
    "external_id, expansion, needs_expansion, data, sync_id, discovered_at"
)
INSERT_GRANT = f"insert into v1_grants ({_GRANT_COLUMNS}) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_GRANT_INDEXES = tuple(spec for spec in schema.INDEXES if spec[1] == "v1_grants")
_GRANT_UNIQUE = next(spec for spec in _GRANT_INDEXES if spec[3])
# Partial indexes (on rows with expansion state, a few at most) cost next to nothing per insert, and
# each would cost a full table scan to rebuild: they stay in place during a bulk load.
_BULK_DROPPED = tuple(spec for spec in _GRANT_INDEXES if not spec[4])
_UPSERT_GRANT = (
    "insert into v1_grants (resource_type_id, resource_id, entitlement_id, principal_resource_type_id, "
    "principal_resource_id, external_id, expansion, needs_expansion, data, sync_id, discovered_at) "
    "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) on conflict (external_id, sync_id) do update set "
    "resource_type_id = excluded.resource_type_id, resource_id = excluded.resource_id, "
    "entitlement_id = excluded.entitlement_id, principal_resource_type_id = excluded.principal_resource_type_id, "
    "principal_resource_id = excluded.principal_resource_id, expansion = excluded.expansion, "
    "needs_expansion = excluded.needs_expansion, data = excluded.data, discovered_at = excluded.discovered_at"
)

GrantRow = tuple[str, str, str, str, str, str, bytes | None, int, bytes, str, str]
PlainGrantRow = tuple[str, str, str, str, str, str, bytes]
"""A grant without expansion state: its six id columns and its bytes (run id and time are the batch's)."""
_PLAIN_SIZE = 7


def resource_key(resource_type: str, resource_id: str) -> str:
    """The ``external_id`` of a resource row: Go keys resources as ``type:id``.

    (Entitlement and grant rows hold the bare type and id in their own columns.)
    """
    return f"{resource_type}:{resource_id}"


_serialize_grant = grant_pb2.Grant.SerializeToString
GrantIds = tuple[str, str, str, str, str, str]
"""A grant row's id columns: the entitlement's resource type and id, the entitlement id, the
principal's type and id, and the grant id."""

# Protobuf tags (field number << 3 | wire type 2) of Grant's entitlement, principal and id fields.
_ENTITLEMENT_TAG, _PRINCIPAL_TAG, _GRANT_ID_TAG = 1 << 3 | 2, 2 << 3 | 2, 3 << 3 | 2
# Fields learned per table before it starts over. When a run names more principals than this, the
# table fills, is cleared and refills again and again: with 65,536, a million grants to 100,000
# users read 96% of their grants the slow way (12% of the PostgreSQL bench_sql CPU). An entry costs
# ~300 bytes, so a full table of 131,072 is about 40 MB.
_LEARNED_LIMIT = 1 << 17


class GrantColumns:
    """Reads a grant's id columns from its wire bytes, learning each entitlement and principal field once.

    Grants repeat fields: a group's thousand members share one entitlement field, a user's grants
    one principal field. When a grant's bytes are exactly entitlement field, principal field, id
    field (what model.grant builds, and most connectors' grants), its columns are two dict
    lookups on those fields' bytes and one decode, several times cheaper than walking the nested
    messages. The first grant with a new field is read from the message, which teaches the
    field; a field's bytes determine its content, so what is learned is exact. Other grants
    (annotations, sources, no id) are not read here (None).
    """

    def __init__(self) -> None:
        self._entitlements: dict[bytes, tuple[str, str, str]] = {}
        self._principals: dict[bytes, tuple[str, str]] = {}

    def ids(self, data: bytes, grant: grant_pb2.Grant | None = None) -> GrantIds | None:
        """The columns of the grant serialized as ``data`` (``grant``: that message, if at hand)."""
        row = self.plain_row(data, grant)
        return None if row is None else row[:6]

    def plain_row(self, data: bytes, grant: grant_pb2.Grant | None = None) -> PlainGrantRow | None:
        """:meth:`ids` and the bytes themselves: the row :func:`insert_serialized` binds."""
        ends = _field_ends(data)
        if ends is None:
            return None
        ent_end, principal_end, id_start = ends
        ent = self._entitlements.get(data[:ent_end])
        principal = self._principals.get(data[ent_end:principal_end])
        if ent is None or principal is None:
            msg = grant if grant is not None else grant_pb2.Grant.FromString(data)
            rid, pid = msg.entitlement.resource.id, msg.principal.id
            ent = self._learn(self._entitlements, data[:ent_end], (rid.resource_type, rid.resource, msg.entitlement.id))
            principal = self._learn(self._principals, data[ent_end:principal_end], (pid.resource_type, pid.resource))
        return (*ent, *principal, data[id_start:].decode(), data)

    @staticmethod
    def _learn(table: dict[bytes, _T], field: bytes, value: _T) -> _T:
        if len(table) >= _LEARNED_LIMIT:
            table.clear()
        table[field] = value
        return value


_T = TypeVar("_T")


def _field_ends(data: bytes) -> tuple[int, int, int] | None:
    """Where a grant's entitlement and principal fields end and its id starts, if those three fields
    (in that order) are all it holds."""
    try:
        ent_end = data[1] + 2
        principal_end = ent_end + 2 + data[ent_end + 1]
        id_start = principal_end + 2
        if (data[0] == _ENTITLEMENT_TAG and data[ent_end] == _PRINCIPAL_TAG and data[principal_end] == _GRANT_ID_TAG
                and data[principal_end + 1] == len(data) - id_start and data[1] < 0x80 and data[ent_end + 1] < 0x80):
            return ent_end, principal_end, id_start
    except IndexError:
        pass
    # Some length needs more than one byte (or the grant is not those three fields): the general walk.
    ent = _span(data, 0, _ENTITLEMENT_TAG)
    principal = _span(data, ent[1], _PRINCIPAL_TAG) if ent else None
    gid = _span(data, principal[1], _GRANT_ID_TAG) if principal else None
    if ent is None or principal is None or gid is None or gid[1] != len(data):
        return None
    return ent[1], principal[1], gid[0]


def _span(data: bytes, pos: int, tag: int) -> tuple[int, int] | None:
    """Start and end of the payload of the length-delimited field ``tag`` at ``pos`` (None if not there)."""
    if len(data) < pos + 2 or data[pos] != tag:
        return None
    try:
        size, start = varint_at(data, pos + 1)
    except (IndexError, ValueError):
        return None
    end = start + size
    return (start, end) if end <= len(data) else None


def grant_row(grant: grant_pb2.Grant, sync_id: str, now: str, columns: GrantColumns | None = None) -> GrantRow:
    """The row for ``grant``; a ``GrantExpandable`` annotation moves to the ``expansion`` column.

    Go's v0.25 writer does the same, so expansion state lives in one place and a
    Go-written file with pending expansion can be expanded by us and vice versa.
    """
    data = grant.SerializeToString()
    ids = columns.ids(data, grant) if columns is not None else None
    if ids is not None:
        return (*ids, None, 0, data, sync_id, now)
    return _read_grant_row(grant, data, sync_id, now)


def row_from_bytes(data: bytes, sync_id: str, now: str, columns: GrantColumns) -> GrantRow:
    """:func:`grant_row` of the grant serialized as ``data``."""
    ids = columns.ids(data)
    if ids is not None:
        return (*ids, None, 0, data, sync_id, now)
    return _read_grant_row(grant_pb2.Grant.FromString(data), data, sync_id, now)


def insert_serialized(conn: sqlite3.Connection, grants: list[bytes], sync_id: str, now: str,
                      columns: GrantColumns) -> None:
    """Insert (plain :data:`INSERT_GRANT`, no upsert) the rows of the grants serialized as ``grants``, in order.

    The same rows as :func:`row_from_bytes` gives, bound more cheaply: a grant that is its three id
    fields (no expansion state) binds its six id columns and its bytes, the run id and time are bound
    once per statement, and one statement inserts :data:`_BLOCK_ROWS` rows (VALUES inserts its rows
    in order). Against one eleven-value row per statement that is two fifths less of SQLite's
    insert time. Other grants take the full statement, in their place, so row order (and so row ids)
    is the grants' order.
    """
    plain_row = columns.plain_row
    pending: list[PlainGrantRow] = []
    for data in grants:
        row = plain_row(data)
        if row is not None:
            pending.append(row)
            continue
        _insert_plain(conn, pending, sync_id, now)
        pending = []
        conn.execute(INSERT_GRANT, _read_grant_row(grant_pb2.Grant.FromString(data), data, sync_id, now))
    _insert_plain(conn, pending, sync_id, now)


def _insert_plain(conn: sqlite3.Connection, rows: list[PlainGrantRow], sync_id: str, now: str) -> None:
    """Insert plain rows, :data:`_BLOCK_ROWS` a statement (the rest one a statement), in order."""
    full = len(rows) - len(rows) % _BLOCK_ROWS
    chain = itertools.chain.from_iterable
    conn.executemany(_INSERT_PLAIN_BLOCK, [(sync_id, now, *chain(rows[i:i + _BLOCK_ROWS]))
                                           for i in range(0, full, _BLOCK_ROWS)])
    conn.executemany(_INSERT_PLAIN_ONE, [(sync_id, now, *row) for row in rows[full:]])


def _plain_values(first: int) -> str:
    """One row of the plain insert: parameters ``first`` .. ``first + 6``, run id ``?1``, time ``?2``."""
    ids = ", ".join(f"?{first + i}" for i in range(_PLAIN_SIZE - 1))
    return f"({ids}, null, 0, ?{first + _PLAIN_SIZE - 1}, ?1, ?2)"


def _plain_insert(rows: int) -> str:
    values = ", ".join(_plain_values(3 + _PLAIN_SIZE * k) for k in range(rows))
    return f"insert into v1_grants ({_GRANT_COLUMNS}) values {values}"


_BLOCK_ROWS = 256  # 1,794 parameters; more rows a statement gained nothing measurable
_INSERT_PLAIN_BLOCK = _plain_insert(_BLOCK_ROWS)
_INSERT_PLAIN_ONE = _plain_insert(1)


def _read_grant_row(grant: grant_pb2.Grant, data: bytes, sync_id: str, now: str) -> GrantRow:
    """:func:`grant_row` read field by field (``data``: the grant serialized)."""
    expansion: bytes | None = None
    if grant.annotations:
        for i, ann in enumerate(grant.annotations):
            if ann.type_url == _EXPANDABLE_URL:
                expansion = ann.value
                grant = grant_pb2.Grant.FromString(data)
                del grant.annotations[i]
                data = grant.SerializeToString()
                break
    ent = grant.entitlement
    rid = ent.resource.id
    pid = grant.principal.id
    return (rid.resource_type, rid.resource, ent.id, pid.resource_type, pid.resource, grant.id,
            expansion, 1 if expansion is not None else 0, data, sync_id, now)


class SyncWriter:
    """Writes objects into one (unfinished) sync run of an open file."""

    def __init__(self, c1z: C1ZFile, sync_id: str) -> None:
        if not c1z.writable:
            raise ValueError("file opened read-only")
        self._c1z = c1z
        self._conn: sqlite3.Connection = c1z.conn
        self.sync_id = sync_id
        self._depth = 0
        self._bulk = not self._has_index(_GRANT_UNIQUE[0])
        self._columns = GrantColumns()
        self._loader: loader.GrantLoader | None = None
        self._hooked = False

    def _has_index(self, name: str) -> bool:
        row = self._conn.execute("select 1 from sqlite_master where type = 'index' and name = ?", (name,)).fetchone()
        return row is not None

    # -- bulk grant loading --------------------------------------------------------------------

    @property
    def bulk(self) -> bool:
        """True while grant indexes are dropped for a bulk load (survives reopening)."""
        return self._bulk

    def begin_bulk_grants(self) -> None:
        """Drop the grant indexes so millions of rows load at append speed.

        SQLite maintains six indexes per grant row at ~3x the cost of the row
        itself; building them once at the end (a sort) is far cheaper. While in
        bulk mode, writes are plain inserts and the *last* row written for a
        grant id wins (:meth:`end_bulk_grants` removes the earlier ones), which
        is what upserts would have produced.
        """
        if self._bulk:
            return
        with self.transaction():
            for spec in _BULK_DROPPED:
                self._conn.execute(f"drop index if exists {spec[0]}")
        self._bulk = True
        self._grant_loader()  # started now, it is ready by the first batch

    def end_bulk_grants(self) -> None:
        """Keep the last row per grant id of this run, then rebuild Go's grant indexes."""
        if not self._bulk:
            return
        self._finish_loader()
        with self.transaction():
            try:
                self._conn.execute(schema.index_sql(*_GRANT_UNIQUE))
            except sqlite3.IntegrityError:
                self._conn.execute(
                    "delete from v1_grants where sync_id = ? and id not in "
                    "(select max(id) from v1_grants where sync_id = ? group by external_id)",
                    (self.sync_id, self.sync_id))
                self._conn.execute(schema.index_sql(*_GRANT_UNIQUE))
            for spec in _GRANT_INDEXES:
                self._conn.execute(schema.index_sql(*spec))
        self._bulk = False

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Group several puts (and a checkpoint) into one atomic commit."""
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        if self._loader is not None:  # its batches come first, as if they had been written here
            self._loader.drain()
        with sqlite_errors(self._c1z.path):
            self._conn.execute("begin")
            self._depth = 1
            try:
                yield
            except BaseException:
                self._depth = 0
                self._conn.execute("rollback")
                raise
            self._depth = 0
            self._conn.execute("commit")

    def _many(self, sql: str, rows: Iterable[tuple[object, ...]]) -> None:
        with self.transaction():
            self._conn.executemany(sql, rows)

    def put_resource_types(self, items: Iterable[resource_pb2.ResourceType]) -> None:
        now = syncs.now_text()
        sid = self.sync_id
        self._many(_UPSERT_RT, ((rt.id, rt.SerializeToString(), sid, now) for rt in items))

    def put_resources(self, items: Iterable[resource_pb2.Resource]) -> None:
        now = syncs.now_text()
        sid = self.sync_id

        def rows() -> Iterator[tuple[object, ...]]:
            for r in items:
                parent = r.parent_resource_id if r.HasField("parent_resource_id") else None
                yield (r.id.resource_type, resource_key(r.id.resource_type, r.id.resource),
                       parent.resource_type if parent else None, parent.resource if parent else None,
                       r.SerializeToString(), sid, now)

        self._many(_UPSERT_RES, rows())

    def put_entitlements(self, items: Iterable[entitlement_pb2.Entitlement]) -> None:
        now = syncs.now_text()
        sid = self.sync_id
        self._many(_UPSERT_ENT, ((e.resource.id.resource_type, e.resource.id.resource, e.id,
                                  e.SerializeToString(), sid, now) for e in items))

    def put_grants(self, items: Iterable[grant_pb2.Grant]) -> None:
        helper = self._grant_loader() if not self._depth else None
        if helper is not None:
            helper.submit(self.sync_id, syncs.now_text(), list(map(_serialize_grant, items)))
            return
        self.put_grant_rows(self.grant_rows(items))

    def _grant_loader(self) -> loader.GrantLoader | None:
        """The helper that inserts a throw-away file's bulk load on a second core (see loader), if any."""
        if self._loader is None and self._bulk and not self._c1z.durable and loader.available():
            self._loader = loader.GrantLoader(self._c1z.db_path, self._c1z.path)
            if not self._hooked:
                self._c1z.before_save(self._finish_loader, self._abort_loader)
                self._hooked = True
        return self._loader

    def _finish_loader(self) -> None:
        pending, self._loader = self._loader, None
        if pending is not None:
            pending.finish()

    def _abort_loader(self) -> None:
        pending, self._loader = self._loader, None
        if pending is not None:
            pending.abort()

    def grant_rows(self, items: Iterable[grant_pb2.Grant]) -> list[GrantRow]:
        """The rows :meth:`put_grant_rows` takes (build them on one thread, insert on another)."""
        now = syncs.now_text()
        sid = self.sync_id
        ids_of = self._columns.ids
        rows: list[GrantRow] = []
        append = rows.append
        for g in items:  # grant_row, inlined
            data = g.SerializeToString()
            ids = ids_of(data, g)
            append((*ids, None, 0, data, sid, now) if ids is not None else _read_grant_row(g, data, sid, now))
        return rows

    def put_grant_rows(self, rows: Iterable[GrantRow]) -> None:
        """Write pre-built rows (the expansion engine builds them without re-parsing)."""
        self._many(INSERT_GRANT if self._bulk else _UPSERT_GRANT, rows)

    def delete_grants(self, grant_ids: Iterable[str]) -> None:
        sid = self.sync_id
        self._many("delete from v1_grants where external_id = ? and sync_id = ?", ((g, sid) for g in grant_ids))

    def put_asset(self, asset_id: str, content_type: str, data: bytes) -> None:
        self._many(
            "insert into v1_assets (external_id, content_type, data, sync_id, discovered_at) values (?, ?, ?, ?, ?) "
            "on conflict (external_id, sync_id) do update set content_type = excluded.content_type, "
            "data = excluded.data",
            [(asset_id, content_type, data, self.sync_id, syncs.now_text())],
        )

    def checkpoint(self, token: str) -> None:
        with self.transaction():
            syncs.checkpoint(self._conn, self.sync_id, token)
