"""One Pebble sstable (table format v5 to v8, columnar blocks), read front to back.

Layout, from the end: a footer (checksum type, metaindex and index block
handles, format version, magic), a metaindex naming the properties and
range-deletion blocks, an index of data blocks (one level, or two), the data
blocks. Every block carries a 5-byte trailer: its compression (none, Snappy,
zstd) and a checksum (CRC-32C or xxHash64) over the stored bytes and that byte.
Checksums are always verified; a block handle outside the file is corruption.
"""

from __future__ import annotations

import bisect
import mmap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cramjam
import xxhash
import zstandard

from pybaton.c1z.v3 import colblk
from pybaton.c1z.v3.wire import Corrupt, masked_crc32c, u32le, uvarint

PEBBLE_MAGIC = b"\xf0\x9f\xaa\xb3\xf0\x9f\xaa\xb3"
_FOOTER_LEN = {5: 53, 6: 57, 7: 61, 8: 61}
_TRAILER = 5

KIND_DELETE = 0
KIND_SET = 1
KIND_MERGE = 2
KIND_SINGLE_DELETE = 7
KIND_RANGE_DELETE = 15
KIND_SET_WITH_DELETE = 18
KIND_DELETE_SIZED = 23
_KIND_MASK = 0x3F  # drops Pebble's in-table "obsolete" bit (64)

# Names of the two meta blocks a reader needs.
META_PROPERTIES = b"rocksdb.properties"
META_RANGE_DEL = b"rocksdb.range_del2"
PROP_INDEX_TYPE = b"rocksdb.block.based.table.index.type"
_TWO_LEVEL_INDEX = 2
_DATA_HEADER = 4  # the data block's custom header: the longest key's length
_KEYSPAN_HEADER = 4


@dataclass(frozen=True)
class Handle:
    offset: int
    length: int


# One internal key and its value, ``(user key, -seqnum, kind, value)``: tuples order the way
# the LSM merges (key ascending, newest first), and are cheap to build by the hundred thousand.
Entry = tuple[bytes, int, int, bytes]


@dataclass(frozen=True)
class RangeTombstone:
    start: bytes
    end: bytes
    seq: int


def _decode_handle(buf: bytes, pos: int = 0) -> tuple[Handle, int]:
    offset, pos = uvarint(buf, pos)
    length, pos = uvarint(buf, pos)
    return Handle(offset, length), pos


class Table:
    """A table file mapped read-only; blocks are read and decompressed one at a time."""

    def __init__(self, path: Path, name: str, max_block_bytes: int, synthetic_seq: int = 0) -> None:
        self.name = name
        self._max_block = max_block_bytes
        self._synthetic_seq = synthetic_seq
        self._file = path.open("rb")
        try:
            size = path.stat().st_size
            if size < 53:
                raise Corrupt(f"table {name} is too short to hold a footer ({size} bytes)")
            self._map = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ)
        except BaseException:
            self._file.close()
            raise
        self._size = size
        self.format, self._checksum, self._metaindex, self._index = self._footer()

    def close(self) -> None:
        self._map.close()
        self._file.close()

    # -- footer and blocks ---------------------------------------------------------------------

    def _footer(self) -> tuple[int, int, Handle, Handle]:
        tail = self._map[self._size - 61:] if self._size >= 61 else self._map[:]
        if tail[-8:] != PEBBLE_MAGIC:
            raise Corrupt(f"table {self.name}: not a Pebble table (bad magic number)")
        version = int.from_bytes(tail[-12:-8], "little")
        if version not in _FOOTER_LEN:
            raise Corrupt(f"table {self.name}: unsupported table format version {version} "
                          "(columnar formats 5-8 are read)")
        footer = tail[-_FOOTER_LEN[version]:]
        if len(footer) < _FOOTER_LEN[version]:
            raise Corrupt(f"table {self.name}: the footer is truncated")
        if version >= 6:
            at = len(footer) - 16
            if u32le(footer, at) != masked_crc32c(footer[:at], footer[at + 4:]):
                raise Corrupt(f"table {self.name}: footer checksum mismatch")
        checksum = footer[0]
        if checksum not in (1, 3):
            raise Corrupt(f"table {self.name}: unsupported checksum type {checksum}")
        metaindex, pos = _decode_handle(footer, 1)
        index, _ = _decode_handle(footer, pos)
        return version, checksum, metaindex, index

    def read_block(self, handle: Handle, what: str) -> bytes:
        """The decompressed contents of the block at ``handle``, checksum verified."""
        if handle.offset + handle.length + _TRAILER > self._size:
            raise Corrupt(f"table {self.name}: the {what} block at {handle.offset} (+{handle.length}) "
                          "lies outside the file")
        if handle.length > self._max_block:
            raise Corrupt(f"table {self.name}: the {what} block is {handle.length} bytes, over the cap")
        end = handle.offset + handle.length
        stored = self._map[handle.offset:end]
        trailer = self._map[end:end + _TRAILER]
        expected = int.from_bytes(trailer[1:], "little")
        if self._checksum == 1:
            actual = masked_crc32c(stored, trailer[:1])
        else:
            actual = xxhash.xxh64_intdigest(stored + trailer[:1]) & 0xFFFFFFFF
        if actual != expected:
            raise Corrupt(f"table {self.name}: checksum mismatch in the {what} block at {handle.offset}")
        return self._decompress(stored, trailer[0], what)

    def _decompress(self, stored: bytes, compression: int, what: str) -> bytes:
        try:
            if compression == 0:
                return stored
            if compression == 1:
                size, pos = uvarint(stored, 0)
                if size > self._max_block:
                    raise Corrupt(f"table {self.name}: the {what} block claims {size} bytes, over the cap")
                return bytes(cramjam.snappy.decompress_raw(stored))
            if compression == 7:
                size, pos = uvarint(stored, 0)
                if size > self._max_block:
                    raise Corrupt(f"table {self.name}: the {what} block claims {size} bytes, over the cap")
                out = zstandard.ZstdDecompressor().decompress(stored[pos:], max_output_size=size)
                if len(out) != size:
                    raise Corrupt(f"table {self.name}: the {what} block decompresses to the wrong size")
                return out
        except (cramjam.DecompressionError, zstandard.ZstdError) as exc:
            raise Corrupt(f"table {self.name}: the {what} block does not decompress ({exc})") from None
        raise Corrupt(f"table {self.name}: the {what} block uses unsupported compression {compression}")

    # -- meta blocks ---------------------------------------------------------------------------

    def _named_handles(self, handle: Handle, what: str) -> dict[bytes, bytes]:
        """A two-column key/value block (metaindex, properties) as a dict."""
        block = colblk.Block.parse(self.read_block(handle, what), 0)
        keys = block.raw_bytes(0)
        values = block.raw_bytes(1)
        return dict(zip(keys, values, strict=True))

    def _meta(self) -> dict[bytes, bytes]:
        return self._named_handles(self._metaindex, "metaindex")

    def _two_level(self, meta: dict[bytes, bytes]) -> bool:
        raw = meta.get(META_PROPERTIES)
        if raw is None:
            return False
        props = self._named_handles(_decode_handle(raw)[0], "properties")
        value = props.get(PROP_INDEX_TYPE)
        if not value:
            return False
        kind, _ = uvarint(value, 0)
        return kind == _TWO_LEVEL_INDEX

    # -- contents ------------------------------------------------------------------------------

    def _index_handles(self, handle: Handle) -> list[tuple[bytes, Handle]]:
        """``(separator, handle)``: the block holds keys up to its separator (and above the previous one)."""
        block = colblk.Block.parse(self.read_block(handle, "index"), 0)
        separators = block.raw_bytes(0)
        offsets = block.uints(1)
        lengths = block.uints(2)
        return [(s, Handle(o, n)) for s, o, n in zip(separators, offsets, lengths, strict=True)]

    def _data_handles(self, low: bytes = b"", high: bytes | None = None) -> list[Handle]:
        """The data blocks that may hold keys in ``[low, high]`` (all of them by default)."""
        meta = self._meta()
        entries = self._index_handles(self._index)
        if self._two_level(meta):
            entries = [e for _, lower in _covering(entries, low, high) for e in self._index_handles(lower)]
        return [h for _, h in _covering(entries, low, high)]

    def entries(self, low: bytes = b"", high: bytes | None = None) -> Iterator[Entry]:
        """The point entries (of the blocks covering ``[low, high]``), in key order, newest first."""
        for handle in self._data_handles(low, high):
            yield from self._data_block(handle)

    def _data_block(self, handle: Handle) -> Iterator[Entry]:
        block = colblk.Block.parse(self.read_block(handle, "data"), _DATA_HEADER)
        if len(block.types) < 7:
            raise Corrupt(f"table {self.name}: a data block has {len(block.types)} columns, not 7")
        prefixes = block.prefix_bytes(0)
        suffixes = block.raw_bytes(1)
        trailers = block.uints(2)
        values = block.raw_bytes(4)
        external = block.bitmap(5)
        if any(external):
            raise Corrupt(f"table {self.name}: values stored outside the data block (value separation) "
                          "are not supported")
        synthetic = -self._synthetic_seq
        for prefix, suffix, trailer, value in zip(prefixes, suffixes, trailers, values, strict=True):
            yield (prefix + suffix if suffix else prefix, synthetic or -(trailer >> 8), trailer & _KIND_MASK, value)

    def range_tombstones(self) -> list[RangeTombstone]:
        handle_bytes = self._meta().get(META_RANGE_DEL)
        if handle_bytes is None:
            return []
        data = self.read_block(_decode_handle(handle_bytes)[0], "range-deletion")
        try:
            return decode_range_deletions(data, self._synthetic_seq)
        except Corrupt as exc:
            raise Corrupt(f"table {self.name}: {exc}") from None


def decode_range_deletions(data: bytes, synthetic_seq: int = 0) -> list[RangeTombstone]:
    """A columnar keyspan block: unique boundary keys (each with the index of the first span starting
    there), then one trailer per fragment; fragments between two boundaries cover ``[start, end)``."""
    if len(data) < _KEYSPAN_HEADER:
        raise Corrupt("the range-deletion block is truncated")
    boundaries = u32le(data, 0)
    block = colblk.Block.parse(data, _KEYSPAN_HEADER)
    if boundaries > len(data):
        raise Corrupt(f"the range-deletion block claims {boundaries} boundaries")
    bounds = block.raw_bytes(0, boundaries)
    starts = block.uints(1, boundaries)
    trailers = block.uints(2)
    out: list[RangeTombstone] = []
    for i in range(len(bounds) - 1):
        lo, hi = starts[i], starts[i + 1]
        if not lo <= hi <= len(trailers):
            raise Corrupt("the range-deletion block's indexes are out of order")
        for trailer in trailers[lo:hi]:
            if trailer & _KIND_MASK == KIND_RANGE_DELETE:
                out.append(RangeTombstone(bounds[i], bounds[i + 1], synthetic_seq or trailer >> 8))
    return out


def _covering(entries: list[tuple[bytes, Handle]], low: bytes, high: bytes | None) -> list[tuple[bytes, Handle]]:
    """The index entries whose blocks may hold keys in ``[low, high]`` (separators ascend)."""
    first = bisect.bisect_left([s for s, _ in entries], low) if low else 0
    out = []
    for separator, handle in entries[first:]:
        out.append((separator, handle))
        if high is not None and separator >= high:
            break
    return out


__all__ = ["Entry", "Handle", "RangeTombstone", "Table", "decode_range_deletions"]
