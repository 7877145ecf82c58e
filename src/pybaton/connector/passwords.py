"""Random passwords for connectors that create accounts or rotate credentials.

One generator for every connector, so "length 20 with at least 2 digits" means
the same everywhere: each :class:`~pybaton.connector.capabilities.PasswordConstraint`
contributes its minimum count from its character set, the rest is drawn from
the union of the constraints' sets (or a default alphabet), and the result is
shuffled with a CSPRNG. Values never pass through logs: callers hand them back
as :class:`~pybaton.connector.capabilities.GeneratedCredential`.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Sequence

from pybaton.connector.capabilities import CredentialOptions, PasswordConstraint
from pybaton.errors import ProvisioningError

DEFAULT_ALPHABET = string.ascii_letters + string.digits + "-_.!@#%+=~^*"
CHARACTER_CLASSES = (string.ascii_uppercase, string.ascii_lowercase, string.digits, string.punctuation)


def generate_password(options: CredentialOptions, *, who: str = "this connector", min_length: int = 12,
                      max_length: int = 256, disallowed: str = "",
                      default_constraints: Sequence[PasswordConstraint] = ()) -> str:
    """A random password honouring ``options``; ``who`` names the connector in errors.

    The length is ``options.length`` raised to ``min_length``; more than
    ``max_length`` is refused. ``disallowed`` characters are never used;
    ``default_constraints`` apply when ``options`` carries none.
    """
    if options.kind != "random_password":
        raise ProvisioningError(f"{who} can only generate random passwords, not {options.kind!r}")
    length = max(options.length, min_length)
    constraints = list(options.constraints) or list(default_constraints)
    banned = set(disallowed)
    sets = [_allowed(c.char_set, banned) for c in constraints]
    required = [charset for c, charset in zip(constraints, sets, strict=True) for _ in range(c.min_count)]
    if length > max_length or len(required) > length:
        raise ProvisioningError(f"cannot generate a password of length {length} with these constraints")
    alphabet = _allowed("".join(dict.fromkeys("".join(sets))) or DEFAULT_ALPHABET, banned)
    chars = [secrets.choice(charset) for charset in required]
    chars += [secrets.choice(alphabet) for _ in range(length - len(chars))]
    secrets.SystemRandom().shuffle(chars)
    return "".join(chars)


def _allowed(charset: str, banned: set[str]) -> str:
    allowed = "".join(ch for ch in charset if ch not in banned)
    if not allowed:
        raise ProvisioningError("a password constraint has no usable characters")
    return allowed


def one_of_each_class() -> list[PasswordConstraint]:
    """Upper, lower, digit and punctuation, one each: the usual complexity rule."""
    return [PasswordConstraint(chars, 1) for chars in CHARACTER_CLASSES]


# Connectors to real systems (PostgreSQL roles, LDAP entries) ask for at least this much.
SYSTEM_MIN_LENGTH = 16
SYSTEM_MAX_LENGTH = 256


def system_password(options: CredentialOptions, *, system: str) -> str:
    """A random password for an account in ``system`` (at least 16 characters)."""
    return generate_password(options, who=system, min_length=SYSTEM_MIN_LENGTH, max_length=SYSTEM_MAX_LENGTH)


def wants_password(options: CredentialOptions) -> bool:
    """Whether the operator asked for a generated password (``none`` creates an account without one)."""
    return options.kind != "none"
