"""K-sortable unique ids, the format Baton uses for sync ids.

20 bytes (a 4-byte big-endian timestamp in seconds since 2014-05-13, then 16
random bytes) written as 27 base62 characters, so ids sort by creation time.
"""

from __future__ import annotations

import os
import time

_EPOCH = 1_400_000_000
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_LENGTH = 27


def new_ksuid(now: float | None = None) -> str:
    ts = int(now if now is not None else time.time()) - _EPOCH
    raw = ts.to_bytes(4, "big") + os.urandom(16)
    value = int.from_bytes(raw, "big")
    chars = []
    while value:
        value, rem = divmod(value, 62)
        chars.append(_ALPHABET[rem])
    return "".join(reversed(chars)).rjust(_LENGTH, "0")

