"""Generate secrets and keep only salted hashes of them.

The demo database stands in for a real system, so it behaves like one should:
a generated password or API key is handed back exactly once and the store
keeps an scrypt hash, never the value.
"""

from __future__ import annotations

import hashlib
import hmac
import os

from pybaton.connector.capabilities import CredentialOptions
from pybaton.connector.passwords import generate_password

_MIN_LENGTH = 12
_MAX_LENGTH = 256
# scrypt parameters: interactive-login strength, ~16 MiB and a few tens of ms per hash.
_N, _R, _P = 2**14, 8, 1


def generate(options: CredentialOptions) -> str:
    """A random password honouring ``options`` (see :func:`pybaton.connector.passwords.generate_password`)."""
    return generate_password(options, who="the demo", min_length=_MIN_LENGTH, max_length=_MAX_LENGTH)


def hash_secret(value: str) -> str:
    """``scrypt$N$r$p$salt$hash`` (hex), with a fresh 16-byte salt."""
    salt = os.urandom(16)
    digest = hashlib.scrypt(value.encode(), salt=salt, n=_N, r=_R, p=_P)
    return f"scrypt${_N}${_R}${_P}${salt.hex()}${digest.hex()}"


def verify(value: str, stored: str) -> bool:
    """Whether ``value`` hashes to ``stored`` (constant-time compare; malformed → False)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        actual = hashlib.scrypt(value.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p))
    except ValueError:
        return False
    return hmac.compare_digest(actual.hex(), digest)
