"""``?<name>`` tokens in baton-sql queries, turned into real bound parameters.

A query names its inputs with ``?<name>`` (a var, or the reserved ``limit``,
``offset``, ``cursor`` of pagination). Each token becomes the driver's
placeholder (``%s`` for psycopg and PyMySQL, ``?`` for sqlite3) with the value
passed separately, so no value is ever formatted into SQL text. The two
exceptions are where SQL grammar forbids a parameter (a table or role name):

* ``?<name|unquoted>`` inlines the value only if it is a plain identifier
  (letters, digits, ``_``) and refuses anything else — baton-sql silently
  strips the other characters, which can turn a hostile value into a valid
  but different name;
* ``?<name|identifier>`` inlines the value as a quoted identifier, embedded
  quotes doubled.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

TOKEN = re.compile(r"\?<([a-zA-Z0-9_]+)(?:\|([a-zA-Z0-9_, ]+))?>")
RESERVED = frozenset({"limit", "offset", "cursor"})
_SAFE_IDENTIFIER = re.compile(r"^[A-Za-z0-9_]+$")


class TokenError(ValueError):
    """A token is malformed, unknown, or its value cannot be inlined safely."""


@dataclass(frozen=True)
class Token:
    key: str
    text: str
    start: int
    end: int
    unquoted: bool = False
    identifier: bool = False

    @property
    def reserved(self) -> bool:
        return self.key in RESERVED


def _token(match: re.Match[str]) -> Token:
    options = {o.strip().lower() for o in (match.group(2) or "").split(",") if o.strip()}
    unknown = options - {"unquoted", "identifier"}
    if unknown:
        raise TokenError(f"{match.group(0)}: unknown option(s) {', '.join(sorted(unknown))} "
                         "(known: unquoted, identifier)")
    if {"unquoted", "identifier"} <= options:
        raise TokenError(f"{match.group(0)}: options unquoted and identifier exclude each other")
    return Token(match.group(1).lower(), match.group(0), match.start(), match.end(),
                 "unquoted" in options, "identifier" in options)


def parse(query: str) -> list[Token]:
    """Every token of ``query`` in order; names are case-insensitive (``?<Limit>`` is ``limit``)."""
    return [_token(m) for m in TOKEN.finditer(query)]


@dataclass(frozen=True)
class Dialect:
    """How one driver writes a placeholder and quotes an identifier."""

    name: str
    placeholder: str
    quote: str
    percent_escapes: bool

    def quote_identifier(self, name: str) -> str:
        return self.quote + name.replace(self.quote, self.quote * 2) + self.quote

    def literal_text(self, text: str) -> str:
        """SQL text between tokens; ``%`` doubled where the driver formats with ``%s``."""
        return text.replace("%", "%%") if self.percent_escapes else text


POSTGRES = Dialect("postgres", "%s", '"', True)
MYSQL = Dialect("mysql", "%s", "`", True)
SQLITE = Dialect("sqlite", "?", '"', False)


def _inline(token: Token, value: Any, dialect: Dialect) -> str:
    text = "" if value is None else str(value)
    if token.identifier:
        return dialect.quote_identifier(text)
    if not _SAFE_IDENTIFIER.match(text):
        raise TokenError(f"{token.text}: value {text!r} is not a plain identifier (letters, digits, _); "
                         "refusing to inline it")
    return text


def bind(query: str, tokens: list[Token], lookup: Callable[[Token], Any],
         dialect: Dialect) -> tuple[str, list[Any]]:
    """The query in the driver's placeholder style and its parameters, in order.

    ``lookup`` returns a token's value or raises :class:`KeyError` when nothing provides it.
    """
    parts: list[str] = []
    params: list[Any] = []
    position = 0
    for token in tokens:
        parts.append(dialect.literal_text(query[position:token.start]))
        try:
            value = lookup(token)
        except KeyError:
            raise TokenError(f"{token.text}: nothing provides a value for {token.key!r}") from None
        if token.unquoted or token.identifier:
            parts.append(dialect.literal_text(_inline(token, value, dialect)))
        else:
            parts.append(dialect.placeholder)
            params.append(value)
        position = token.end
    parts.append(dialect.literal_text(query[position:]))
    return "".join(parts), params
