"""Merge the live tables of a Pebble store into the visible key/value pairs.

Tables overlap (the store is not compacted), so for each user key the entry
with the highest sequence number wins; a point deletion hides the key, and a
range deletion hides every older entry whose key lies in ``[start, end)``.
Tables are read one block at a time, so memory follows blocks, not the file.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Iterable, Iterator

from pybaton.c1z.v3.lsm import LiveTable
from pybaton.c1z.v3.sstable import (
    KIND_MERGE,
    KIND_SET,
    KIND_SET_WITH_DELETE,
    Entry,
    RangeTombstone,
    Table,
)
from pybaton.c1z.v3.wire import Corrupt

_VISIBLE = (KIND_SET, KIND_SET_WITH_DELETE)


def _visible_entries(table: Table, live: LiveTable) -> Iterator[Entry]:
    if not live.virtual:
        yield from table.entries()
        return
    for entry in table.entries(live.smallest_key, live.largest_key):
        if live.contains(entry[0]):
            yield entry


def _clip(tombstones: Iterable[RangeTombstone], live: LiveTable) -> list[RangeTombstone]:
    if not live.virtual:
        return list(tombstones)
    out = []
    for t in tombstones:
        start = max(t.start, live.smallest_key)
        end = min(t.end, live.largest_key + b"\x00")
        if start < end:
            out.append(RangeTombstone(start, end, t.seq))
    return out


class _Tombstones:
    """Range deletions, answering "is (key, seq) deleted?" in key order."""

    def __init__(self, tombstones: list[RangeTombstone]) -> None:
        self._items = sorted(tombstones, key=lambda t: t.start)
        self._starts = [t.start for t in self._items]

    def deletes(self, key: bytes, seq: int) -> bool:
        if not self._items:
            return False
        upto = bisect.bisect_right(self._starts, key)
        return any(t.end > key and t.seq > seq for t in self._items[:upto])


def visible(tables: list[tuple[Table, LiveTable]]) -> Iterator[tuple[bytes, bytes]]:
    """``(user key, value)`` of every live key, in key order."""
    tombstones: list[RangeTombstone] = []
    for table, live in tables:
        tombstones.extend(_clip(table.range_tombstones(), live))
    deleted = _Tombstones(tombstones)
    streams = [_visible_entries(table, live) for table, live in tables]
    previous: bytes | None = None
    for key, negative_seq, kind, value in heapq.merge(*streams):
        if key == previous:
            continue
        if previous is not None and key < previous:
            raise Corrupt("a table's keys are out of order")
        previous = key
        if kind == KIND_MERGE:
            raise Corrupt("merge operands are not supported in a v3 store")
        if kind in _VISIBLE and not deleted.deletes(key, -negative_seq):
            yield key, value
