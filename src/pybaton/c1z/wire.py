"""Protobuf's wire format where the store reads stored messages without parsing them.

The writer (a grant's id columns) and the readers (a listing's fields) both look at
top-level length-delimited fields of stored rows; they share this one varint reader.
(The v3 reader has its own bounds-checked helpers in :mod:`pybaton.c1z.v3.wire`; importing
it would load the whole v3 package on the read commands' fast path.)
"""

from __future__ import annotations


def varint_at(data: bytes, pos: int) -> tuple[int, int]:
    """The unsigned varint at ``pos`` (a field's length) and the position after it.

    Raises ``IndexError`` when it runs past the data and ``ValueError`` when it is longer than
    a 32-bit length can be: callers treat both as "not the shape we read here".
    """
    value, shift = 0, 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
        if shift > 28:
            raise ValueError("a length varint longer than 5 bytes")
