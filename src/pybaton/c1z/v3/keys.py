"""The keys of Baton's v3 store: ``0x03 | type | 0x00 | tuple`` (the sync run: ``0x03 0x06``).

Tuple parts are separated by ``0x00``; inside a part ``0x00`` is written
``01 01`` and ``0x01`` is written ``01 02``. The reader dispatches on the type
byte and takes every field from the record value, so the tuple is only decoded
for messages and tests.
"""

from __future__ import annotations

from pybaton.c1z.v3.wire import Corrupt

KEY_VERSION = 0x03

RESOURCE_TYPE = 0x01
RESOURCE = 0x02
ENTITLEMENT = 0x03
GRANT = 0x04
ASSET = 0x05
SYNC_RUN = 0x06
ENGINE_META = 0xFF
# Engine bookkeeping a reader does not need: secondary indexes (07), counters (08),
# and the SDK's digest/deferred-index state (09, 0a).
INTERNAL = frozenset({0x07, 0x08, 0x09, 0x0A})
RECORDS = frozenset({RESOURCE_TYPE, RESOURCE, ENTITLEMENT, GRANT, ASSET, SYNC_RUN})

STATS_KEY = bytes([KEY_VERSION, ENGINE_META]) + b"stats\x00"
_INTERNAL_LOW = bytes([KEY_VERSION, min(INTERNAL)])
_INTERNAL_HIGH = bytes([KEY_VERSION, max(INTERNAL) + 1])


def only_internal(smallest: bytes, largest: bytes) -> bool:
    """Whether every key in ``[smallest, largest]`` is engine bookkeeping (a table a reader can skip).

    A table's bounds include its range deletions, so such a table cannot delete a record either.
    """
    return smallest >= _INTERNAL_LOW and largest < _INTERNAL_HIGH


def key_type(key: bytes) -> int | None:
    """The record type of ``key``, or None when the key is not of the v3 layout."""
    if len(key) < 2 or key[0] != KEY_VERSION:
        return None
    return key[1]


def decode_tuple(encoded: bytes) -> list[bytes]:
    """Split and unescape a tuple."""
    parts: list[bytes] = []
    current = bytearray()
    i = 0
    while i < len(encoded):
        byte = encoded[i]
        if byte == 0x00:
            parts.append(bytes(current))
            current.clear()
        elif byte == 0x01:
            if i + 1 >= len(encoded) or encoded[i + 1] not in (0x01, 0x02):
                raise Corrupt("a key holds an invalid escape sequence")
            current.append(0x00 if encoded[i + 1] == 0x01 else 0x01)
            i += 1
        else:
            current.append(byte)
        i += 1
    parts.append(bytes(current))
    return parts


def encode_tuple(parts: list[bytes]) -> bytes:
    return b"\x00".join(p.replace(b"\x01", b"\x01\x02").replace(b"\x00", b"\x01\x01") for p in parts)


def record_key(record_type: int, parts: list[bytes]) -> bytes:
    return bytes([KEY_VERSION, record_type, 0x00]) + encode_tuple(parts)
