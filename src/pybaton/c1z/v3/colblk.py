"""Pebble's columnar block encoding (table formats v5 and later), read-only.

A block is a header (version, column count, row count, then per column a type
byte and a 4-byte start offset), the column data, and one padding byte. Each
column's decoder must end exactly where the next column starts; any other
offset, width or count that does not fit the block is :class:`Corrupt`.
Offsets and alignment are relative to the start of the block, as in Pebble.
"""

from __future__ import annotations

import itertools
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from pybaton.c1z.v3.wire import Corrupt, u32le, u64le

TYPE_BOOL = 1
TYPE_UINT = 2
TYPE_BYTES = 3
TYPE_PREFIX_BYTES = 4

_HEADER_BASE = 7
_COLUMN_HEADER = 5
_DELTA_BIT = 0x80
_WIDTH_FORMATS = {1: "B", 2: "H", 4: "I", 8: "Q"}
T = TypeVar("T")


def _align(offset: int, width: int) -> int:
    return (offset + width - 1) & ~(width - 1)


@dataclass(frozen=True)
class Block:
    """The decoded header of one columnar block; columns are decoded on demand."""

    data: bytes
    rows: int
    types: tuple[int, ...]
    starts: tuple[int, ...]

    @classmethod
    def parse(cls, data: bytes, custom_header: int) -> Block:
        if len(data) < custom_header + _HEADER_BASE + 1:
            raise Corrupt("a columnar block is shorter than its header")
        base = custom_header
        columns = int.from_bytes(data[base + 1:base + 3], "little")
        rows = u32le(data, base + 3)
        if rows > len(data):
            # Every row of a real block costs at least a byte somewhere; a larger count is hostile.
            raise Corrupt(f"a columnar block of {len(data)} bytes claims {rows} rows")
        header_end = base + _HEADER_BASE + columns * _COLUMN_HEADER
        if header_end > len(data) - 1:
            raise Corrupt("a columnar block's column table runs past the block")
        types: list[int] = []
        starts: list[int] = []
        for col in range(columns):
            at = base + _HEADER_BASE + col * _COLUMN_HEADER
            types.append(data[at])
            start = u32le(data, at + 1)
            if start < header_end or start > len(data) - 1 or (starts and start < starts[-1]):
                raise Corrupt("a column of a columnar block starts outside the block")
            starts.append(start)
        return cls(data, rows, tuple(types), tuple(starts))

    def _bounds(self, col: int, expected_type: int) -> tuple[int, int]:
        if col >= len(self.types):
            raise Corrupt(f"a columnar block has {len(self.types)} columns; column {col} is missing")
        if self.types[col] != expected_type:
            raise Corrupt(f"column {col} of a columnar block has type {self.types[col]}, not {expected_type}")
        end = self.starts[col + 1] if col + 1 < len(self.starts) else len(self.data) - 1
        return self.starts[col], end

    def _column(self, col: int, kind: int, decode: Callable[[bytes, int, int], tuple[list[T], int]],
                rows: int | None) -> list[T]:
        """Decode column ``col``; it must end exactly where the next one starts."""
        rows = self.rows if rows is None else rows
        start, end = self._bounds(col, kind)
        values, got = decode(self.data, start, rows)
        if got != end and rows:
            raise Corrupt(f"column {col} of a columnar block decodes to offset {got}, not {end}")
        return values

    def uints(self, col: int, rows: int | None = None) -> list[int]:
        """A column of unsigned integers (possibly delta-encoded from a 64-bit base)."""
        return self._column(col, TYPE_UINT, decode_uints, rows)

    def raw_bytes(self, col: int, rows: int | None = None) -> list[bytes]:
        return self._column(col, TYPE_BYTES, decode_raw_bytes, rows)

    def bitmap(self, col: int) -> list[bool]:
        return self._column(col, TYPE_BOOL, decode_bitmap, None)

    def prefix_bytes(self, col: int) -> list[bytes]:
        return self._column(col, TYPE_PREFIX_BYTES, decode_prefix_bytes, None)


def decode_uints(data: bytes, off: int, rows: int) -> tuple[list[int], int]:
    if rows == 0:
        return [], off
    if off >= len(data):
        raise Corrupt("an integer column starts past its block")
    encoding = data[off]
    off += 1
    width = encoding & ~_DELTA_BIT
    if width not in (0, 1, 2, 4, 8) or (width == 8 and encoding & _DELTA_BIT):
        raise Corrupt(f"an integer column has an invalid encoding 0x{encoding:02x}")
    base = 0
    if encoding & _DELTA_BIT:
        base = u64le(data, off)
        off += 8
    if width == 0:
        return [base] * rows, off
    off = _align(off, width)
    end = off + rows * width
    if end > len(data):
        raise Corrupt("an integer column runs past its block")
    values = struct.unpack_from(f"<{rows}{_WIDTH_FORMATS[width]}", data, off)
    if base:
        return [base + v for v in values], end
    return list(values), end


def _offsets(data: bytes, off: int, count: int) -> tuple[list[int], int]:
    offsets, data_off = decode_uints(data, off, count)
    for lo, hi in itertools.pairwise(offsets):
        if hi < lo:
            raise Corrupt("a byte-string column has decreasing offsets")
    if offsets and data_off + offsets[-1] > len(data):
        raise Corrupt("a byte-string column runs past its block")
    return offsets, data_off


def decode_raw_bytes(data: bytes, off: int, rows: int) -> tuple[list[bytes], int]:
    if rows == 0:
        return [], off
    offsets, data_off = _offsets(data, off, rows + 1)
    if offsets[0] != 0:
        raise Corrupt("a byte-string column does not start at offset 0")
    values = [data[data_off + lo:data_off + hi] for lo, hi in itertools.pairwise(offsets)]
    return values, data_off + offsets[-1]


def decode_bitmap(data: bytes, off: int, rows: int) -> tuple[list[bool], int]:
    if off >= len(data):
        raise Corrupt("a bitmap column starts past its block")
    encoding = data[off]
    off += 1
    if encoding == 1:
        return [False] * rows, off
    if encoding != 0:
        raise Corrupt(f"a bitmap column has an unknown encoding {encoding}")
    off = _align(off, 8)
    words = (rows + 63) // 64
    summary = (words + 63) // 64
    end = off + 8 * (words + summary)
    if end > len(data):
        raise Corrupt("a bitmap column runs past its block")
    bits = int.from_bytes(data[off:off + 8 * words], "little")
    return [bool(bits >> i & 1) for i in range(rows)], end


def decode_prefix_bytes(data: bytes, off: int, rows: int) -> tuple[list[bytes], int]:
    """Prefix-compressed sorted keys: a block-wide prefix, one prefix per bundle, one suffix per row.

    An empty suffix after a bundle's first row repeats the previous key.
    """
    if rows == 0:
        raise Corrupt("an empty prefix-compressed column")
    if off >= len(data):
        raise Corrupt("a prefix-compressed column starts past its block")
    shift = data[off]
    if shift > 16:
        raise Corrupt(f"a prefix-compressed column has an implausible bundle size 2^{shift}")
    bundle = 1 << shift
    bundles = 1 + ((rows - 1) >> shift)
    offsets, data_off = _offsets(data, off + 1, rows + bundles + 1)
    shared = data[data_off:data_off + offsets[0]]
    keys: list[bytes] = []
    index = 0
    for b in range(bundles):
        bundle_prefix = data[data_off + offsets[index]:data_off + offsets[index + 1]]
        index += 1
        for i in range(min(bundle, rows - b * bundle)):
            lo, hi = offsets[index], offsets[index + 1]
            index += 1
            if hi == lo and i > 0:
                keys.append(keys[-1])
            else:
                keys.append(shared + bundle_prefix + data[data_off + lo:data_off + hi])
    return keys, data_off + offsets[-1]
