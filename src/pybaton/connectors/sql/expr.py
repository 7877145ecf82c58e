"""baton-sql expressions: CEL with its conveniences, compiled once and evaluated per row.

A mapping value such as ``".username"`` or ``"'Team ' + string(.name)"`` is
baton-sql's dialect of CEL. Before compiling we apply its two rewrites
(:func:`preprocess`): a value that is one bare identifier is a string literal
(``entitlement_id: member``), and ``.column`` becomes ``cols['column']``
wherever the dot does not follow a letter, digit or ``_`` — also inside string
literals, exactly as baton-sql's regular expression does.

Most mapping values are trivial (a constant, one column, ``resource.ID``), so
those are recognised at compile time and evaluated without the CEL runtime;
everything else is a compiled :mod:`cel` program run with the row's values.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import cel

from pybaton.connectors.sql import functions
from pybaton.errors import ConfigError, FatalError

_DOT_FIELD = re.compile(r"\.\w+", re.ASCII)
_BARE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_COLUMN_ONLY = re.compile(r"^\.(\w+)$", re.ASCII)
_MEMBER_ONLY = re.compile(r"^([a-z_]+)\.(\w+)$", re.ASCII)
_QUOTED = re.compile(r"""^(?:'([^'\\\n]*)'|"([^"\\\n]*)")$""")
_MACRO_VAR = re.compile(r"\.\s*(?:all|exists|exists_one|map|filter)\s*\(\s*([A-Za-z_]\w*)\s*,")

# Functions of the CEL standard library (and macros) an expression may call, besides baton-sql's helpers.
STANDARD_FUNCTIONS = frozenset({
    "size", "has", "contains", "startsWith", "endsWith", "matches", "int", "uint", "double", "string",
    "bytes", "bool", "timestamp", "duration", "type", "dyn", "all", "exists", "exists_one", "map", "filter",
    "getFullYear", "getMonth", "getDayOfYear", "getDayOfMonth", "getDate", "getDayOfWeek", "getHours",
    "getMinutes", "getSeconds", "getMilliseconds",
})

_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


def _is_word_byte(ch: str) -> bool:
    return ch.isascii() and (ch.isalnum() or ch == "_")


def preprocess(expr: str) -> str:
    """Apply baton-sql's rewrites: bare identifier → string literal; ``.col`` → ``cols['col']``."""
    if _BARE.match(expr):
        return f'"{expr}"'

    def column(match: re.Match[str]) -> str:
        start = match.start()
        if start > 0 and _is_word_byte(expr[start - 1]):
            return match.group(0)
        return f"cols['{match.group(0)[1:]}']"

    return _DOT_FIELD.sub(column, expr)


_STRING_CALL = "_pybaton_string"


def _literal_end(expr: str, start: int) -> int:
    """Index just past the string literal that starts at ``start`` (quotes, triple quotes, escapes)."""
    quote = expr[start]
    triple = expr.startswith(quote * 3, start)
    closing = quote * 3 if triple else quote
    i = start + len(closing)
    while i < len(expr):
        if expr[i] == "\\":
            i += 2
            continue
        if expr.startswith(closing, i):
            return i + len(closing)
        i += 1
    return len(expr)


def route_string_calls(expr: str) -> str:
    """``string(x)`` → our own conversion, outside string literals.

    The CEL runtime we use has no ``string(double)`` / ``string(bool)`` and
    writes timestamps as ``+00:00``; baton-sql's cel-go writes ``Z``. Calls are
    routed to :func:`cel_string`, which gives cel-go's results.
    """
    out: list[str] = []
    i = 0
    while i < len(expr):
        ch = expr[i]
        if ch in "'\"":
            end = _literal_end(expr, i)
            out.append(expr[i:end])
            i = end
            continue
        if expr.startswith("string", i) and (i == 0 or not (_is_word_byte(expr[i - 1]) or expr[i - 1] == ".")):
            rest = expr[i + 6:]
            if rest.lstrip().startswith("(") and not (rest[:1] and _is_word_byte(rest[0])):
                out.append(_STRING_CALL)
                i += 6
                continue
        out.append(ch)
        i += 1
    return "".join(out)


def cel_string(value: Any) -> str:
    """CEL's ``string()`` with cel-go's formatting (``1.5``, ``2``, ``true``, ``2019-04-01T09:00:00Z``)."""
    if value is None:
        raise TypeError("string(null): no such overload")
    if isinstance(value, float):
        text = repr(value)
        return text[:-2] if text.endswith(".0") else text
    if isinstance(value, dt.timedelta):
        seconds = value.total_seconds()
        return f"{seconds:g}s"
    if isinstance(value, (dict, list)):
        raise TypeError(f"string({type(value).__name__}): no such overload")
    return to_text(value)


# -- values ----------------------------------------------------------------------------------------


def rfc3339(value: dt.datetime) -> str:
    """A timestamp as RFC 3339; a zone-less database timestamp is taken as UTC (as Go's drivers do)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def to_text(value: Any) -> str:
    """A value as the string a mapped field holds. NULL is the empty string, never ``NULL_VALUE``."""
    kind = type(value)
    if kind is str:
        return value  # type: ignore[no-any-return]
    if kind is int:  # an integer key, once per row: before the isinstance chain (bool is not int here)
        return str(value)
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return rfc3339(value)
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, default=to_text, ensure_ascii=False)
    return str(value)


def to_bool(value: Any) -> bool:
    """A ``skip_if`` result: a bool, a number (non-zero is true) or Go's boolean strings."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0
    if isinstance(value, str):
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        raise TypeError(f"expected a boolean, got the string {value!r}")
    raise TypeError(f"expected a boolean, got {'null' if value is None else type(value).__name__}")


def celify(value: Any) -> Any:
    """Database values the CEL runtime cannot take, converted: dates, decimals, UUIDs, buffers."""
    if value is None or isinstance(value, (str, int, float, bool, dt.datetime, dt.timedelta, bytes)):
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, Mapping):
        return {str(k): celify(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [celify(v) for v in value]
    if isinstance(value, (uuid.UUID, dt.time)):
        return str(value)
    return str(value)


# -- expressions -----------------------------------------------------------------------------------


class ExpressionError(FatalError):
    """An expression failed on a row; the message names the resource type, field and line."""


@dataclass(frozen=True)
class Expression:
    """A compiled mapping value. ``site`` says where it was written, for error messages."""

    source: str
    site: str

    def value(self, env: Mapping[str, Any]) -> Any:
        raise NotImplementedError

    def text(self, env: Mapping[str, Any]) -> str:
        value = self.value(env)
        return value if type(value) is str else to_text(value)

    def boolean(self, env: Mapping[str, Any]) -> bool:
        result = self.value(env)
        try:
            return to_bool(result)
        except TypeError as exc:
            raise ExpressionError(f"{self.site}: {self.source!r}: {exc}") from None

    @property
    def constant(self) -> str | None:
        """The value when it does not depend on the row (a literal), else None."""
        return None


@dataclass(frozen=True)
class ConstExpression(Expression):
    literal: str = ""

    def value(self, env: Mapping[str, Any]) -> Any:
        return self.literal

    @property
    def constant(self) -> str | None:
        return self.literal


@dataclass(frozen=True)
class ColumnExpression(Expression):
    """``.column``: the column's value, looked up without the CEL runtime."""

    column: str = ""

    def value(self, env: Mapping[str, Any]) -> Any:
        cols = env.get("cols") or {}
        try:
            return cols[self.column]
        except KeyError:
            raise ExpressionError(f"{self.site}: {self.source!r}: the query returned no column "
                                  f"{self.column!r} (columns: {', '.join(cols) or 'none'})") from None


@dataclass(frozen=True)
class MemberExpression(Expression):
    """``resource.ID`` and the like: one key of one input map."""

    variable: str = ""
    key: str = ""

    def value(self, env: Mapping[str, Any]) -> Any:
        holder = env.get(self.variable)
        if not isinstance(holder, Mapping) or self.key not in holder:
            raise ExpressionError(f"{self.site}: {self.source!r}: no such key {self.key!r} in {self.variable}")
        return holder[self.key]


@dataclass(frozen=True)
class CelExpression(Expression):
    program: Any = None
    variables: tuple[str, ...] = ()
    calls: Mapping[str, Callable[..., Any]] = field(default_factory=dict)

    def value(self, env: Mapping[str, Any]) -> Any:
        activation: dict[str, Any] = {name: celify(env[name]) for name in self.variables if name in env}
        activation.setdefault("cols", {})
        activation.update(self.calls)
        try:
            return self.program.execute(activation)
        except (ValueError, RuntimeError, TypeError, KeyError, OverflowError) as exc:
            raise ExpressionError(f"{self.site}: {self.source!r}: {_one_line(exc)}") from None


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, KeyError):
        return f"no such key: {exc.args[0]!r}" if exc.args else "no such key"
    text = str(exc).strip().splitlines()
    return text[0][:400] if text else type(exc).__name__


def _macro_names(source: str) -> set[str]:
    return set(_MACRO_VAR.findall(source))


@dataclass
class Compiler:
    """Compiles expressions, collecting every problem so that a config reports them all at once."""

    problems: list[str] = field(default_factory=list)

    def compile(self, source: str, site: str, names: Iterable[str]) -> Expression:
        """``names``: the variables this field may use (e.g. ``cols``, ``resource``)."""
        constant = literal(source)
        if constant is not None:
            return ConstExpression(source, site, constant)
        column = _COLUMN_ONLY.match(source)
        if column:
            return ColumnExpression(source, site, column.group(1))
        member = _MEMBER_ONLY.match(source)
        allowed = set(names) | {"cols"}
        if member and member.group(1) in allowed and member.group(1) != "cols":
            return MemberExpression(source, site, member.group(1), member.group(2))
        return self._cel(source, site, allowed)

    def _cel(self, source: str, site: str, allowed: set[str]) -> Expression:
        rewritten = route_string_calls(preprocess(source))
        try:
            program = cel.compile(rewritten)
        except (ValueError, RuntimeError) as exc:
            self.problems.append(f"{site}: {source!r} does not compile: {_one_line(exc)}")
            return ConstExpression(source, site, "")
        variables = tuple(program.variables())
        unknown = set(variables) - allowed - _macro_names(rewritten)
        if unknown:
            self.problems.append(f"{site}: {source!r} uses unknown name(s) {', '.join(sorted(unknown))} "
                                 f"(available here: {', '.join(sorted(allowed))})")
        used = set(program.functions())
        calls = {name: fn for name, fn in functions.FUNCTIONS.items() if name in used}
        if _STRING_CALL in used:
            calls[_STRING_CALL] = cel_string
        unknown_calls = [f for f in used if f[0].isalpha() and f not in STANDARD_FUNCTIONS
                         and f not in functions.FUNCTIONS]
        if unknown_calls:
            self.problems.append(f"{site}: {source!r} calls unknown function(s) {', '.join(sorted(unknown_calls))}")
        return CelExpression(source, site, program, variables, calls)

    def check(self) -> None:
        """Raise one :class:`ConfigError` listing every expression that did not compile."""
        if self.problems:
            raise ConfigError("\n  ".join(self.problems))


def literal(source: str) -> str | None:
    """The string a value stands for when it is a constant (a bare word or a quoted literal), else None."""
    if _BARE.match(source):
        return source
    quoted = _QUOTED.match(source)
    if quoted and "." not in source:
        return quoted.group(1) if quoted.group(1) is not None else quoted.group(2)
    return None
