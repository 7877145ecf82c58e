"""Distinguished names (RFC 4514): parsing, and the canonical form used as resource ids.

The same entry is written many ways: ``uid=Alice, ou=Users,dc=example,dc=org``
in one group's ``member`` values, ``UID=alice,OU=users,DC=example,DC=org`` in
another's, and ``cn=Smith\\, Judy`` or ``cn=Smith\\2C Judy`` for a comma in a
value. Matching members to entries needs one spelling: :func:`canonical`
lower-cases attribute types and values (the naming attributes of users and
groups — uid, cn, ou, dc, o… — all compare case-insensitively), trims the
spaces around values and re-escapes only what RFC 4514 requires. For the
common case this is exactly the id Go's baton-ldap produces.
"""

from __future__ import annotations

from functools import lru_cache

_SPECIAL = '"+,;<>\\'
_HEX = "0123456789abcdefABCDEF"

RDN = tuple[tuple[str, str], ...]  # ((type, value), ...): more than one for a multi-valued RDN


class DNError(ValueError):
    """Text that is not a distinguished name."""


def parse(dn: str) -> list[RDN]:
    """``"cn=Smith\\, Judy,ou=users"`` → ``[(("cn", "Smith, Judy"),), (("ou", "users"),)]`` (values unescaped)."""
    if not dn.strip():
        return []
    rdns: list[RDN] = []
    current: list[tuple[str, str]] = []
    i, n = 0, len(dn)
    while True:
        attr, i = _read_type(dn, i)
        value, i = _read_value(dn, i)
        current.append((attr, value))
        if i >= n:
            rdns.append(tuple(current))
            return rdns
        if dn[i] == "+":
            i += 1
            continue
        rdns.append(tuple(current))
        current = []
        i += 1  # "," or ";"


def _read_type(dn: str, i: int) -> tuple[str, int]:
    eq = dn.find("=", i)
    if eq < 0:
        raise DNError(f"not a DN: {dn!r}")
    attr = dn[i:eq].strip()
    if not attr or any(c in attr for c in ",+;\\\""):
        raise DNError(f"not a DN: {dn!r}")
    return attr, eq + 1


def _read_value(dn: str, i: int) -> tuple[str, int]:
    """One attribute value up to the next unescaped ``,`` ``;`` or ``+``; unescaped spaces at the ends trimmed."""
    chars: list[tuple[str, bool]] = []  # (character, was escaped)
    pending = bytearray()  # bytes of \XX escapes, decoded together (they may form one UTF-8 character)
    n = len(dn)
    while i < n and dn[i] not in ",;+":
        c = dn[i]
        if c == "\\":
            pair = dn[i + 1:i + 3]
            if len(pair) == 2 and all(h in _HEX for h in pair):
                pending.append(int(pair, 16))
                i += 3
                continue
            if i + 1 >= n:
                raise DNError(f"dangling escape in DN {dn!r}")
            c, escaped, i = dn[i + 1], True, i + 2
        else:
            escaped, i = False, i + 1
        _decode(pending, chars)
        chars.append((c, escaped))
    _decode(pending, chars)
    while chars and chars[0] == (" ", False):
        chars.pop(0)
    while chars and chars[-1] == (" ", False):
        chars.pop()
    return "".join(c for c, _ in chars), i


def _decode(pending: bytearray, chars: list[tuple[str, bool]]) -> None:
    if pending:
        chars.extend((c, True) for c in pending.decode("utf-8", errors="replace"))
        pending.clear()


def escape_value(value: str) -> str:
    """RFC 4514 escaping of one attribute value."""
    out = []
    for pos, c in enumerate(value):
        if c in _SPECIAL or (c == "#" and pos == 0) or (c == " " and pos in (0, len(value) - 1)):
            out.append("\\" + c)
        elif c == "\x00":
            out.append("\\00")
        else:
            out.append(c)
    return "".join(out)


def format_rdns(rdns: list[RDN]) -> str:
    return ",".join("+".join(f"{t}={escape_value(v)}" for t, v in rdn) for rdn in rdns)


@lru_cache(maxsize=65536)
def canonical(dn: str) -> str:
    """The one spelling of ``dn`` used as an id (lower case, normalised spaces and escapes)."""
    simple = _simple_canonical(dn)
    if simple is not None:
        return simple
    rdns = parse(dn)
    return format_rdns([tuple(sorted((t.lower(), v.lower()) for t, v in rdn)) for rdn in rdns])


def _simple_canonical(dn: str) -> str | None:
    """The canonical form of a DN without escapes, quotes or multi-valued RDNs (nearly all of them),
    without the general parser; None when the DN needs it."""
    if any(c in dn for c in '\\"+;#<>') or not dn.strip():
        return None
    parts = []
    for rdn in dn.split(","):
        attr, eq, value = rdn.partition("=")
        attr, value = attr.strip(), value.strip()
        if not eq or not attr or not value or "=" in value:
            return None
        parts.append(f"{attr.lower()}={value.lower()}")
    return ",".join(parts)


def parent(dn: str) -> str | None:
    """The canonical DN of the entry ``dn`` sits under (None for a single-RDN DN)."""
    rdns = parse(dn)
    if len(rdns) < 2:
        return None
    return canonical(format_rdns(rdns[1:]))


def rdn_value(dn: str, attribute: str) -> str | None:
    """The value of ``attribute`` in the first RDN (``uid=alice,...`` → ``alice``), if it names it."""
    rdns = parse(dn)
    if not rdns:
        return None
    return next((v for t, v in rdns[0] if t.lower() == attribute.lower()), None)


def is_under(dn: str, base: str) -> bool:
    """Whether canonical ``dn`` is ``base`` or below it (both canonical)."""
    return dn == base or dn.endswith("," + base)
