"""Bounds-checked reading of the little binary encodings inside a Pebble store.

Every reader of the v3 format goes through these helpers, so a hostile length
or offset becomes one :class:`Corrupt` error (turned into a one-line
``C1ZFormatError`` naming the file by :mod:`pybaton.c1z.v3.store`), never an
``IndexError`` or a loop that runs past the data.
"""

from __future__ import annotations

import google_crc32c

_MASK_DELTA = 0xA282EAD8


class Corrupt(Exception):
    """Something inside the payload does not decode; the message says what and where."""


def uvarint(buf: bytes | memoryview, pos: int, end: int | None = None) -> tuple[int, int]:
    """Decode an unsigned LEB128 varint at ``pos``; return ``(value, next position)``."""
    limit = len(buf) if end is None else min(end, len(buf))
    result = 0
    shift = 0
    while True:
        if pos >= limit:
            raise Corrupt("a varint runs past the end of its data")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise Corrupt("a varint is longer than 10 bytes")


def length_prefixed(buf: bytes | memoryview, pos: int, end: int | None = None) -> tuple[bytes, int]:
    """A varint length then that many bytes."""
    limit = len(buf) if end is None else min(end, len(buf))
    size, pos = uvarint(buf, pos, limit)
    if size > limit - pos:
        raise Corrupt(f"a {size}-byte field runs past the end of its data")
    return bytes(buf[pos:pos + size]), pos + size


def u32le(buf: bytes | memoryview, pos: int) -> int:
    if pos < 0 or pos + 4 > len(buf):
        raise Corrupt("a 4-byte integer lies outside its block")
    return int.from_bytes(buf[pos:pos + 4], "little")


def u64le(buf: bytes | memoryview, pos: int) -> int:
    if pos < 0 or pos + 8 > len(buf):
        raise Corrupt("an 8-byte integer lies outside its block")
    return int.from_bytes(buf[pos:pos + 8], "little")


def masked_crc32c(*parts: bytes | memoryview) -> int:
    """LevelDB's masked CRC-32C (Pebble's ``crc.CRC(...).Value()``) over the concatenated parts."""
    crc = 0
    for part in parts:
        crc = google_crc32c.extend(crc, bytes(part))
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF
