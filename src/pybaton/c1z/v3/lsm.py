"""Replay a Pebble MANIFEST to find the live tables of the store.

The MANIFEST is a record log (32 KiB blocks of checksummed chunks, LevelDB's
format with Pebble's recyclable variant) whose records are version edits:
tables added to and removed from levels. Replaying them all gives the current
LSM: which ``NNNNNN.sst`` files hold data, on which level, with which sequence
numbers. Every loop is bounded by the bytes it reads.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from pybaton.c1z.v3.wire import Corrupt, length_prefixed, masked_crc32c, uvarint

_BLOCK = 32 * 1024
_LEGACY_HEADER = 7
_RECYCLABLE_HEADER = 11
_WAL_SYNC_HEADER = 19
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4
_NUM_LEVELS = 7

# Version edit tags (LevelDB's, RocksDB's and Pebble's).
_COMPARATOR, _LOG_NUMBER, _NEXT_FILE, _LAST_SEQ, _COMPACT_POINTER = 1, 2, 3, 4, 5
_DELETED_FILE, _NEW_FILE, _PREV_LOG, _EXCISE_BOUNDS, _MARKED_FOR_COMPACTION = 6, 7, 9, 10, 11
_NEW_FILE2, _NEW_FILE3, _NEW_FILE4, _NEW_FILE5 = 100, 102, 103, 104
_CREATED_BACKING, _REMOVED_BACKING, _NEW_BLOB, _DELETED_BLOB = 105, 106, 107, 108
_CUSTOM_TERMINATE = 1
_CUSTOM_NON_SAFE_IGNORE = 1 << 6
_CUSTOM_VIRTUAL = 66
_CUSTOM_SYNTHETIC_PREFIX = 67
_CUSTOM_SYNTHETIC_SUFFIX = 68
_CUSTOM_BLOB_REFS, _CUSTOM_BLOB_REFS2 = 69, 70
_CONTAINS_POINT_KEYS = 1 << 0

BYTEWISE = b"leveldb.BytewiseComparator"
# A store Baton writes has tens of tables; thousands means a hostile MANIFEST (each is an open file).
MAX_LIVE_TABLES = 4096


_SEQ_MAX = (1 << 56) - 1
_RANGE_DELETE_SENTINEL = (_SEQ_MAX << 8) | 15


@dataclass(frozen=True)
class LiveTable:
    """One table of the current version. A *virtual* table shows only ``[smallest, largest]``
    of its backing file (Pebble makes them when an excise or ingest splits a table)."""

    level: int
    file_num: int
    smallest_seq: int
    largest_seq: int
    backing_num: int
    smallest_key: bytes
    largest_key: bytes
    largest_exclusive: bool
    virtual: bool

    @property
    def synthetic_seq(self) -> int:
        """Pebble gives every key of an ingested table (one seqnum range) that seqnum."""
        return self.smallest_seq if self.smallest_seq == self.largest_seq else 0

    @property
    def file_name(self) -> str:
        return f"{self.backing_num:06d}.sst"

    def contains(self, key: bytes) -> bool:
        """Whether a user key of the backing file is visible through this (virtual) table."""
        if not self.virtual:
            return True
        if key < self.smallest_key:
            return False
        return key < self.largest_key or (key == self.largest_key and not self.largest_exclusive)


def _user_key(internal_key: bytes) -> tuple[bytes, int]:
    if len(internal_key) < 8:
        raise Corrupt("MANIFEST: a table bound is shorter than its 8-byte trailer")
    return internal_key[:-8], int.from_bytes(internal_key[-8:], "little")


def records(log: bytes) -> Iterator[bytes]:
    """The records of a record log; a torn tail (zeros or a partial chunk) ends the log, as in Pebble."""
    pos = 0
    pending: list[bytes] | None = None
    size = len(log)
    while pos < size:
        block_left = _BLOCK - pos % _BLOCK
        if block_left < _LEGACY_HEADER:
            pos += block_left
            continue
        if pos + _LEGACY_HEADER > size:
            break
        checksum = int.from_bytes(log[pos:pos + 4], "little")
        length = int.from_bytes(log[pos + 4:pos + 6], "little")
        chunk_type = log[pos + 6]
        if chunk_type == 0 and length == 0 and checksum == 0:
            break  # zeroed tail: the logical end of the log
        header = _LEGACY_HEADER
        if 5 <= chunk_type <= 8:
            header, chunk_type = _RECYCLABLE_HEADER, chunk_type - 4
        elif 9 <= chunk_type <= 12:
            header, chunk_type = _WAL_SYNC_HEADER, chunk_type - 8
        elif not 1 <= chunk_type <= 4:
            raise Corrupt(f"MANIFEST: unknown chunk type {chunk_type} at offset {pos}")
        end = pos + header + length
        if end > size or header + length > block_left:
            raise Corrupt(f"MANIFEST: a chunk at offset {pos} runs past its block")
        if masked_crc32c(log[pos + 6:end]) != checksum:
            raise Corrupt(f"MANIFEST: checksum mismatch in the chunk at offset {pos}")
        payload = log[pos + header:end]
        pos = end
        if chunk_type == _FULL:
            if pending is not None:
                raise Corrupt("MANIFEST: a record starts before the previous one ended")
            yield payload
        elif chunk_type == _FIRST:
            if pending is not None:
                raise Corrupt("MANIFEST: a record starts before the previous one ended")
            pending = [payload]
        else:
            if pending is None:
                raise Corrupt("MANIFEST: a record continues without a start")
            pending.append(payload)
            if chunk_type == _LAST:
                yield b"".join(pending)
                pending = None
    if pending is not None:
        raise Corrupt("MANIFEST: the last record is truncated")


class _Edit:
    """A cursor over one version edit's bytes."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def more(self) -> bool:
        return self.pos < len(self.data)

    def varint(self) -> int:
        value, self.pos = uvarint(self.data, self.pos)
        return value

    def bytes(self) -> bytes:
        value, self.pos = length_prefixed(self.data, self.pos)
        return value

    def byte(self) -> int:
        if self.pos >= len(self.data):
            raise Corrupt("MANIFEST: a version edit is truncated")
        self.pos += 1
        return self.data[self.pos - 1]

    def level(self) -> int:
        level = self.varint()
        if level >= _NUM_LEVELS:
            raise Corrupt(f"MANIFEST: level {level} is out of range")
        return level


def _new_file(edit: _Edit, tag: int) -> LiveTable:
    level = edit.level()
    file_num = edit.varint()
    if tag == _NEW_FILE3:
        edit.varint()  # path id
    edit.varint()  # size
    bounds = [b"", b"\x00" * 8]
    if tag == _NEW_FILE5:
        marker = edit.byte()
        if marker & _CONTAINS_POINT_KEYS:
            bounds = [edit.bytes(), edit.bytes()]
        range_bounds = [edit.bytes(), edit.bytes()]
        if not marker & _CONTAINS_POINT_KEYS:
            bounds = range_bounds
    else:
        bounds = [edit.bytes(), edit.bytes()]
    smallest = largest = 0
    if tag != _NEW_FILE:
        smallest = edit.varint()
        largest = edit.varint()
    backing = None
    if tag in (_NEW_FILE4, _NEW_FILE5):
        backing = _custom_fields(edit)
    low, _ = _user_key(bounds[0])
    high, high_trailer = _user_key(bounds[1])
    return LiveTable(level, file_num, smallest, largest, file_num if backing is None else backing,
                     low, high, high_trailer == _RANGE_DELETE_SENTINEL, backing is not None)


def _custom_fields(edit: _Edit) -> int | None:
    """Skip a new table's optional fields; return its backing file number when it is virtual."""
    backing = None
    while True:
        custom = edit.varint()
        if custom == _CUSTOM_TERMINATE:
            return backing
        if custom == _CUSTOM_VIRTUAL:
            backing = edit.varint()
            continue
        if custom in (_CUSTOM_SYNTHETIC_PREFIX, _CUSTOM_SYNTHETIC_SUFFIX):
            raise Corrupt("MANIFEST: tables with a synthetic key prefix or suffix are not supported")
        if custom in (_CUSTOM_BLOB_REFS, _CUSTOM_BLOB_REFS2):
            raise Corrupt("MANIFEST: tables with values in blob files are not supported")
        if custom & _CUSTOM_NON_SAFE_IGNORE:
            raise Corrupt(f"MANIFEST: unsupported table field {custom}")
        edit.bytes()


def replay(manifest: bytes) -> list[LiveTable]:
    """The live tables after every edit of ``manifest``, newest level first."""
    live: dict[tuple[int, int], LiveTable] = {}
    for record in records(manifest):
        edit = _Edit(record)
        while edit.more():
            tag = edit.varint()
            if tag == _COMPARATOR:
                name = edit.bytes()
                if name != BYTEWISE:
                    raise Corrupt(f"MANIFEST: unsupported key comparer {name.decode(errors='replace')!r}")
            elif tag in (_LOG_NUMBER, _NEXT_FILE, _LAST_SEQ, _PREV_LOG, _REMOVED_BACKING):
                edit.varint()
            elif tag == _COMPACT_POINTER:
                edit.level()
                edit.bytes()
            elif tag == _DELETED_FILE:
                level = edit.level()
                live.pop((level, edit.varint()), None)
            elif tag in (_NEW_FILE, _NEW_FILE2, _NEW_FILE3, _NEW_FILE4, _NEW_FILE5):
                table = _new_file(edit, tag)
                live[(table.level, table.file_num)] = table
                if len(live) > MAX_LIVE_TABLES:
                    raise Corrupt(f"MANIFEST: more than {MAX_LIVE_TABLES} live tables")
            elif tag == _EXCISE_BOUNDS:
                edit.bytes()
                edit.bytes()
                edit.varint()
                edit.varint()
            elif tag in (_MARKED_FOR_COMPACTION, _CREATED_BACKING):
                edit.varint()
                edit.varint()
            elif tag in (_NEW_BLOB, _DELETED_BLOB):
                raise Corrupt("MANIFEST: blob files (value separation) are not supported")
            else:
                raise Corrupt(f"MANIFEST: unknown version edit tag {tag}")
    return sorted(live.values(), key=lambda t: (t.level, -t.largest_seq, t.file_num))
