"""Indexed queries over one sync run of an open ``.c1z``.

Every query is scoped to a sync id and ordered by row id (Go's order), and
parses blobs lazily, so listing one entitlement's grants in a file of millions
touches only those rows.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from google.protobuf.message import DecodeError, Message

from pybaton.c1z.file import C1ZFile, sqlite_errors
from pybaton.c1z.syncs import SyncRun
from pybaton.c1z.wire import varint_at
from pybaton.errors import C1ZFormatError
from pybaton.pb.c1.connector.v2 import entitlement_pb2, grant_pb2, resource_pb2

if TYPE_CHECKING:  # the expansion readers import these when called: a listing never needs them
    from pybaton.c1z.expandable import ExpandableGrant, ExpansionRecord

M = TypeVar("M", bound=Message)

_BATCH = 2000


class SyncReader:
    """Read access to one sync run. Build it with :meth:`open` or from an open file."""

    def __init__(self, c1z: C1ZFile, run: SyncRun) -> None:
        self.c1z = c1z
        self.run = run
        self.sync_id = run.sync_id
        self._conn: sqlite3.Connection = c1z.conn

    @classmethod
    def of(cls, c1z: C1ZFile, sync_id: str | None = None) -> SyncReader:
        return cls(c1z, c1z.resolve_sync(sync_id))

    # -- plumbing ------------------------------------------------------------------------------

    def _rows(self, sql: str, args: tuple[Any, ...]) -> Iterator[tuple[Any, ...]]:
        with sqlite_errors(self.c1z.path):
            cur = self._conn.execute(sql, args)
            while True:
                batch = cur.fetchmany(_BATCH)
                if not batch:
                    return
                yield from batch

    def parse(self, factory: Callable[[bytes], M], table: str, rowid: int, blob: bytes) -> M:
        """One stored message (``blob``, or part of it) of row ``rowid`` of ``table``; corrupt data is one line."""
        try:
            return factory(blob)
        except (DecodeError, TypeError) as exc:
            raise C1ZFormatError(f"{self.c1z.path}: {table} row {rowid}: corrupt protobuf data ({exc})") from None

    def _messages(self, factory: Callable[[bytes], M], table: str, where: str,
                  args: tuple[Any, ...]) -> Iterator[M]:
        sql = f"select id, data from {table} where sync_id = ?{where} order by id"
        for rowid, blob in self._rows(sql, (self.sync_id, *args)):
            yield self.parse(factory, table, rowid, blob)

    # -- resource types and resources ----------------------------------------------------------

    def resource_types(self) -> list[resource_pb2.ResourceType]:
        return list(self._messages(resource_pb2.ResourceType.FromString, "v1_resource_types", "", ()))

    def resource_type(self, type_id: str) -> resource_pb2.ResourceType | None:
        return next(self._messages(resource_pb2.ResourceType.FromString, "v1_resource_types",
                                   " and external_id = ?", (type_id,)), None)

    def resources(self, resource_type: str | None = None, *,
                  parent: tuple[str, str] | None = None) -> Iterator[resource_pb2.Resource]:
        where, args = "", ()  # type: tuple[str, tuple[Any, ...]]
        if resource_type:
            where, args = " and resource_type_id = ?", (resource_type,)
        if parent:
            where += " and parent_resource_type_id = ? and parent_resource_id = ?"
            args = (*args, parent[0], parent[1])
        return self._messages(resource_pb2.Resource.FromString, "v1_resources", where, args)

    def resource(self, resource_type: str, resource_id: str) -> resource_pb2.Resource | None:
        from pybaton.c1z.writer import resource_key  # the writer's modules are no cold start's business

        return next(self._messages(resource_pb2.Resource.FromString, "v1_resources", " and external_id = ?",
                                   (resource_key(resource_type, resource_id),)), None)

    def all_resources(self) -> ResourceRows:
        """Every resource of the run in one scan, answering :meth:`resource`'s question without a query each.

        For listings that look up most resources (all grants of a file), where a
        query per resource costs more than the listing itself.
        """
        rows: dict[str, tuple[int, bytes]] = {}
        for rowid, key, blob in self._rows("select id, external_id, data from v1_resources where sync_id = ? "
                                           "order by id", (self.sync_id,)):
            rows.setdefault(key, (rowid, blob))  # a key stored twice: the first row, as resource() finds
        return ResourceRows(self, rows)

    # -- entitlements --------------------------------------------------------------------------

    def entitlements(self, resource_type: str | None = None,
                     resource_id: str | None = None) -> Iterator[entitlement_pb2.Entitlement]:
        where, args = "", ()  # type: tuple[str, tuple[Any, ...]]
        if resource_type:
            where, args = " and resource_type_id = ?", (resource_type,)
        if resource_id is not None:
            where += " and resource_id = ?"
            args = (*args, resource_id)
        return self._messages(entitlement_pb2.Entitlement.FromString, "v1_entitlements", where, args)

    def entitlement(self, entitlement_id: str) -> entitlement_pb2.Entitlement | None:
        return next(self._messages(entitlement_pb2.Entitlement.FromString, "v1_entitlements",
                                   " and external_id = ?", (entitlement_id,)), None)

    # -- grants --------------------------------------------------------------------------------

    def grants(self, *, entitlement_id: str | None = None, resource_type: str | None = None,
               resource_id: str | None = None,
               principal: tuple[str, str] | None = None) -> Iterator[grant_pb2.Grant]:
        where, args = _grant_filter(entitlement_id, resource_type, resource_id, principal)
        return self._messages(grant_pb2.Grant.FromString, "v1_grants", where, args)

    def grant_data(self, *, entitlement_id: str | None = None, resource_type: str | None = None,
                   resource_id: str | None = None) -> Iterator[tuple[int, bytes]]:
        """:meth:`grants` unparsed: ``(row id, stored bytes)`` (parse with :meth:`parse`), for listings that
        read what repeats across rows off the bytes (:func:`split_fields`)."""
        where, args = _grant_filter(entitlement_id, resource_type, resource_id, None)
        return self._rows(f"select id, data from v1_grants where sync_id = ?{where} order by id",
                          (self.sync_id, *args))

    def principals(self, *, entitlement_id: str | None = None, resource_type: str | None = None,
                   resource_id: str | None = None) -> Iterator[tuple[str, str]]:
        """Distinct ``(principal type, principal id)`` of the matching grants, in order of first grant.

        Read from the indexed columns, not the blobs: listing who holds one
        entitlement must not decode every grant of a big file.
        """
        where, args = _grant_filter(entitlement_id, resource_type, resource_id, None)
        sql = ("select principal_resource_type_id, principal_resource_id from v1_grants "
               f"where sync_id = ?{where} "
               "group by principal_resource_type_id, principal_resource_id order by min(id)")
        for ptype, pid in self._rows(sql, (self.sync_id, *args)):
            yield str(ptype), str(pid)

    def grant(self, grant_id: str) -> grant_pb2.Grant | None:
        return next(self._messages(grant_pb2.Grant.FromString, "v1_grants", " and external_id = ?",
                                   (grant_id,)), None)

    def grant_records(self) -> Iterator[tuple[str, str, str, str, str, str, bytes]]:
        """Every grant as stored, without decoding: ``(grant_id, entitlement_id, resource_type, resource_id,
        principal_type, principal_id, data)``, in order (for bulk copies such as the warehouse's loads)."""
        sql = ("select external_id, entitlement_id, resource_type_id, resource_id, principal_resource_type_id, "
               "principal_resource_id, data from v1_grants where sync_id = ? order by id")
        for row in self._rows(sql, (self.sync_id,)):
            yield row[0], row[1], row[2], row[3], row[4], row[5], bytes(row[6])

    def expansion_records(self) -> Iterator[ExpansionRecord]:
        """Every expandable grant as stored (``expansion`` column, then legacy in-grant annotations),
        without decoding (for bulk copies such as the warehouse's loads)."""
        from pybaton.c1z.expandable import expansion_records

        with sqlite_errors(self.c1z.path):
            yield from expansion_records(self._conn, self.sync_id)

    def expandable_grants(self) -> Iterator[ExpandableGrant]:
        from pybaton.c1z.expandable import expandable_grant

        return map(expandable_grant, self.expansion_records())

    # -- counts --------------------------------------------------------------------------------

    def _count_by(self, table: str) -> Counter[str]:
        sql = f"select resource_type_id, count(*) from {table} where sync_id = ? group by resource_type_id"
        return Counter({k: v for k, v in self._rows(sql, (self.sync_id,))})

    def _count(self, table: str) -> int:
        rows = list(self._rows(f"select count(*) from {table} where sync_id = ?", (self.sync_id,)))
        return int(rows[0][0])

    def sync_stats(self) -> dict[str, Any]:
        """The run's counts as Go's ``baton stats`` reports them, in the stored (snake_case) shape.

        Go trusts the ``stats`` column when it holds at least one resource type;
        otherwise (older files have no such column) it counts, as :meth:`stats` does.
        """
        stored = self.run.stats
        if stored and int(stored.get("resource_types") or 0) > 0:
            return dict(stored)
        return self.stats()

    def stats(self) -> dict[str, Any]:
        """Count the run the way Go does (and the way the engine stores it at the end of a sync).

        Every resource type of the sync appears in ``resources_by_resource_type``
        (0 when it has no resources; types missing from the catalog are ignored),
        and a ``resources_only`` run reports no entitlements or grants.
        """
        type_ids = [rt.id for rt in self.resource_types()]
        by_type = dict.fromkeys(type_ids, 0)
        for type_id, count in self._count_by("v1_resources").items():
            if type_id in by_type:
                by_type[type_id] = count
        out: dict[str, Any] = {"resource_types": len(type_ids), "resources": sum(by_type.values()),
                               "resources_by_resource_type": by_type}
        if self.run.sync_type != "resources_only":
            grants_by_type = dict(self._count_by("v1_grants"))
            out["entitlements"] = self._count("v1_entitlements")
            out["grants"] = sum(grants_by_type.values())
            out["grants_by_resource_type"] = grants_by_type
            out["entitlements_by_resource_type"] = dict(self._count_by("v1_entitlements"))
        return out


def _grant_filter(entitlement_id: str | None, resource_type: str | None, resource_id: str | None,
                  principal: tuple[str, str] | None) -> tuple[str, tuple[Any, ...]]:
    """The ``and ...`` clauses (and their arguments) selecting grants; every one hits an index."""
    clauses: list[str] = []
    args: list[Any] = []
    if entitlement_id is not None:
        clauses.append("entitlement_id = ?")
        args.append(entitlement_id)
    if resource_type:
        clauses.append("resource_type_id = ?")
        args.append(resource_type)
    if resource_id is not None:
        clauses.append("resource_id = ?")
        args.append(resource_id)
    if principal is not None:
        clauses.append("principal_resource_type_id = ? and principal_resource_id = ?")
        args.extend(principal)
    return "".join(f" and {c}" for c in clauses), tuple(args)


class ResourceRows:
    """A run's resource rows held unparsed, looked up as :meth:`SyncReader.resource` does (parsed on use)."""

    def __init__(self, reader: SyncReader, rows: dict[str, tuple[int, bytes]]) -> None:
        from pybaton.c1z.writer import resource_key

        self._reader = reader
        self._rows = rows
        self._key = resource_key

    def resource(self, resource_type: str, resource_id: str) -> resource_pb2.Resource | None:
        row = self._rows.get(self._key(resource_type, resource_id))
        if row is None:
            return None
        return self._reader.parse(resource_pb2.Resource.FromString, "v1_resources", *row)


def split_fields(data: bytes) -> list[tuple[int, bytes]] | None:
    """A stored message's top-level fields ``(number, bytes)`` when every one is length-delimited (a string or
    a sub-message), tagged in one byte and in strictly rising field-number order, as protobuf writes
    messages; None for any other shape (the caller then parses the message)."""
    fields: list[tuple[int, bytes]] = []
    last = 0
    i, size = 0, len(data)
    try:
        while i < size:
            tag = data[i]
            number = tag >> 3
            if tag & 0x87 != 2 or number <= last:  # a longer tag, another wire type, a repeat, out of order
                return None
            length = data[i + 1]
            i += 2
            if length & 0x80:  # a length of more than one byte (a varint); one byte is read inline, the common case
                length, i = varint_at(data, i - 1)
            end = i + length
            if end > size:
                return None
            fields.append((number, data[i:end]))
            i = end
            last = number
    except (IndexError, ValueError):
        return None
    return fields
