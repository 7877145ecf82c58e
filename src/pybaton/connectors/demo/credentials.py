"""Generate secrets and keep only salted hashes of them.

The demo database stands in for a real system, so it behaves like one should:
a generated password or API key is handed back exactly once and the store
keeps an scrypt hash, never the value.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import string

from pybaton.connector.capabilities import CredentialOptions
from pybaton.errors import ProvisioningError

_DEFAULT_ALPHABET = string.ascii_letters + string.digits + "-_.!@#%+="
_MIN_LENGTH = 12
_MAX_LENGTH = 256
# scrypt parameters: interactive-login strength, ~16 MiB and a few tens of ms per hash.
_N, _R, _P = 2**14, 8, 1


def generate(options: CredentialOptions) -> str:
    """A random password honouring ``options`` (length and per-charset minimums)."""
    if options.kind != "random_password":
        raise ProvisioningError(f"the demo can only generate random passwords, not {options.kind!r}")
    length = max(options.length, _MIN_LENGTH)
    required = [c for c in options.constraints for _ in range(c.min_count)]
    if length > _MAX_LENGTH or len(required) > length:
        raise ProvisioningError(f"cannot generate a password of length {length} with these constraints")
    if any(not c.char_set for c in options.constraints):
        raise ProvisioningError("a password constraint has an empty character set")
    alphabet = "".join(dict.fromkeys("".join(c.char_set for c in options.constraints))) or _DEFAULT_ALPHABET
    chars = [secrets.choice(c.char_set) for c in required]
    chars += [secrets.choice(alphabet) for _ in range(length - len(chars))]
    secrets.SystemRandom().shuffle(chars)
    return "".join(chars)


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
