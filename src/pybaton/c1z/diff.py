"""Differences between two sync runs: what was created, deleted and modified.

The buckets and the notion of "modified" are Go's (``baton diff``): resources
are matched by ``type:id``, entitlements and grants by id, and a pair is
modified when the two messages differ as protobuf JSON (so that two
serializations of the same message, e.g. with map entries in another order, do
not count). SQLite does the matching over the ``(external_id, sync_id)``
indexes of both runs; only rows whose bytes differ are parsed, so two
unchanged syncs of a million grants cost little more than a scan.

The two runs may live in the same file or in two files.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message

from pybaton.c1z.file import C1ZFile, sqlite_errors
from pybaton.c1z.syncs import SyncRun
from pybaton.errors import C1ZFormatError, SyncNotFoundError
from pybaton.pb.baton.v1 import outputs_pb2
from pybaton.pb.c1.connector.v2 import entitlement_pb2, grant_pb2, resource_pb2
from pybaton.pb.registry import ensure_registered

M = TypeVar("M", bound=Message)


@dataclass
class Bucket(Generic[M]):
    """One kind of object's changes."""

    created: list[M] = field(default_factory=list)
    deleted: list[M] = field(default_factory=list)
    modified: list[M] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.created) + len(self.deleted) + len(self.modified)


@dataclass
class SyncDiff:
    """Everything that changed from ``old`` to ``new``."""

    old: SyncRun
    new: SyncRun
    resources: Bucket[resource_pb2.Resource] = field(default_factory=Bucket)
    entitlements: Bucket[entitlement_pb2.Entitlement] = field(default_factory=Bucket)
    grants: Bucket[grant_pb2.Grant] = field(default_factory=Bucket)

    @property
    def changed(self) -> bool:
        return bool(len(self.resources) or len(self.entitlements) or len(self.grants))

    def to_message(self) -> outputs_pb2.C1ZDiffOutput:
        """Go's ``baton -o json diff`` document (every bucket present, empty ones as ``{}``)."""
        out = outputs_pb2.C1ZDiffOutput()
        for target, bucket in ((out.resources, self.resources), (out.entitlements, self.entitlements),
                               (out.grants, self.grants)):
            target.SetInParent()
            target.created.extend(bucket.created)  # type: ignore[arg-type]
            target.deleted.extend(bucket.deleted)  # type: ignore[arg-type]
            target.modified.extend(bucket.modified)  # type: ignore[arg-type]
        return out


@dataclass(frozen=True)
class Side:
    """One run to compare: a file and one of its sync runs."""

    c1z: C1ZFile
    run: SyncRun


def default_sides(c1z: C1ZFile) -> tuple[Side, Side]:
    """The latest finished full sync and the one before it (what ``baton diff`` compares)."""
    new = c1z.resolve_sync()
    old = c1z.previous_sync(new)
    if old is None:
        raise SyncNotFoundError(f"{c1z.path}: cannot diff a single sync run (the file holds one finished sync)")
    return Side(c1z, old), Side(c1z, new)


_TABLES: tuple[tuple[str, str], ...] = (
    ("resources", "v1_resources"),
    ("entitlements", "v1_entitlements"),
    ("grants", "v1_grants"),
)


def _semantic(msg: Message) -> object:
    """What Go compares: the message as protobuf JSON (Any payloads expanded, map order irrelevant)."""
    try:
        return json_format.MessageToDict(msg)
    except (TypeError, KeyError):  # an Any of a type we do not know: fall back to exact bytes
        return msg.SerializeToString(deterministic=True)


class _Differ:
    """The SQL over two attached databases (``a`` = old, ``b`` = new)."""

    def __init__(self, conn: sqlite3.Connection, old_sync: str, new_sync: str) -> None:
        self._conn = conn
        self._args = {"old": old_sync, "new": new_sync}

    def only_in(self, table: str, here: str, there: str) -> Iterator[bytes]:
        sync_here, sync_there = ("old", "new") if here == "a" else ("new", "old")
        sql = (f"select x.data from {here}.{table} x where x.sync_id = :{sync_here} and not exists "
               f"(select 1 from {there}.{table} y where y.external_id = x.external_id and y.sync_id = :{sync_there}) "
               "order by x.id")
        for (blob,) in self._conn.execute(sql, self._args):
            yield bytes(blob)

    def differing(self, table: str) -> Iterator[tuple[bytes, bytes]]:
        sql = (f"select x.data, y.data from a.{table} x join b.{table} y on y.external_id = x.external_id "
               "and y.sync_id = :new where x.sync_id = :old and x.data != y.data order by y.id")
        for old, new in self._conn.execute(sql, self._args):
            yield bytes(old), bytes(new)


def _parse(factory: Callable[[bytes], M], blob: bytes, table: str) -> M:
    try:
        return factory(blob)
    except DecodeError as exc:
        raise C1ZFormatError(f"{table}: corrupt protobuf data ({exc})") from None


def _fill(bucket: Bucket[M], differ: _Differ, table: str, factory: Callable[[bytes], M]) -> None:
    bucket.created.extend(_parse(factory, blob, table) for blob in differ.only_in(table, "b", "a"))
    bucket.deleted.extend(_parse(factory, blob, table) for blob in differ.only_in(table, "a", "b"))
    for old_blob, new_blob in differ.differing(table):
        old, new = _parse(factory, old_blob, table), _parse(factory, new_blob, table)
        if _semantic(old) != _semantic(new):
            bucket.modified.append(new)


@contextlib.contextmanager
def _attached(old: Side, new: Side) -> Iterator[sqlite3.Connection]:
    """A private connection seeing both working databases read-only, as ``a`` and ``b``."""
    conn = sqlite3.connect("file::memory:", uri=True, isolation_level=None, check_same_thread=False)
    try:
        conn.execute("pragma trusted_schema = off")
        for alias, side in (("a", old), ("b", new)):
            conn.execute(f"attach database ? as {alias}", (f"file:{side.c1z.db_path}?mode=ro",))
        yield conn
    finally:
        conn.close()


def diff(old: Side, new: Side) -> SyncDiff:
    """What changed from ``old`` to ``new`` (same file or two files)."""
    ensure_registered()
    result = SyncDiff(old.run, new.run)
    with sqlite_errors(new.c1z.path), _attached(old, new) as conn:
        differ = _Differ(conn, old.run.sync_id, new.run.sync_id)
        _fill(result.resources, differ, "v1_resources", resource_pb2.Resource.FromString)
        _fill(result.entitlements, differ, "v1_entitlements", entitlement_pb2.Entitlement.FromString)
        _fill(result.grants, differ, "v1_grants", grant_pb2.Grant.FromString)
    return result
