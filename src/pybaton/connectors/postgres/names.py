"""Resource ids of the PostgreSQL connector: readable qualified names that parse back.

Objects are named as an operator would write them, ``appdb.public.customers``,
rather than by OID (Go's ``table:db16395:16398``): ids survive a dump and
restore, read well in access reviews and in reconcile policies, and say which
database to connect to. A part that is not a plain lower-case identifier is
double-quoted the way SQL does (``appdb."Sales Q1".orders``), so any name,
including one with dots, slashes, colons or quotes, round-trips exactly.

Default-privilege ids add the object kind and the creating role after slashes:
``appdb.sales/tables/dba_lead`` (``IN SCHEMA sales``) or ``appdb/tables/dba_lead``
(database-wide). Functions add their argument types: ``appdb.public.f(integer)``.

These ids are never put into SQL: statements are always built from the parts
with :mod:`psycopg.sql`.
"""

from __future__ import annotations

import re

from pybaton.errors import ProvisioningError

_PLAIN = re.compile(r"[a-z_][a-z0-9_$]*")
_SEPARATORS = "./"


def quote_part(name: str) -> str:
    """``public`` stays as is; ``Sales Q1`` becomes ``"Sales Q1"`` (quotes doubled inside)."""
    if _PLAIN.fullmatch(name):
        return name
    return '"' + name.replace('"', '""') + '"'


def qualify(*parts: str) -> str:
    """``qualify("appdb", "public", "t")`` → ``appdb.public.t``."""
    return ".".join(quote_part(p) for p in parts)


def default_privilege_id(database: str, schema: str | None, objtype: str, creator: str) -> str:
    """``appdb.sales/tables/dba_lead``, or ``appdb/tables/dba_lead`` for a database-wide default."""
    scope = qualify(database, schema) if schema is not None else qualify(database)
    return f"{scope}/{objtype}/{quote_part(creator)}"


def split_parts(text: str) -> list[str]:
    """Split an id into its unquoted parts at ``.`` and ``/``; ``(`` ends the scan (function arguments).

    Raises :class:`ProvisioningError` for text that no id of this connector looks like.
    """
    parts: list[str] = []
    i = 0
    while i <= len(text):
        part, i = _read_part(text, i)
        parts.append(part)
        if i >= len(text) or text[i] == "(":
            return parts
        if text[i] not in _SEPARATORS:
            raise ProvisioningError(f"{text!r} is not a PostgreSQL object id of this connector")
        i += 1
    return parts


def _read_part(text: str, i: int) -> tuple[str, int]:
    """One part starting at ``i`` (quoted or plain) and the index after it."""
    if i < len(text) and text[i] == '"':
        out, i = [], i + 1
        while i < len(text):
            if text[i] == '"':
                if text[i + 1:i + 2] == '"':
                    out.append('"')
                    i += 2
                    continue
                return "".join(out), i + 1
            out.append(text[i])
            i += 1
        raise ProvisioningError(f"{text!r}: unterminated quoted name")
    match = _PLAIN.match(text, i)
    if match is None:
        raise ProvisioningError(f"{text!r} is not a PostgreSQL object id of this connector")
    return match.group(), match.end()


def database_of(resource_id: str) -> str:
    """The database an object id lives in (its first part)."""
    return split_parts(resource_id)[0]
