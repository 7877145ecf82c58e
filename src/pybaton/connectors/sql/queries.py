"""Running a config's SQL: tokens bound from vars and pagination, errors that say where.

:class:`SqlQuery` is a query as written in the config, checked once (every
token defined, pagination tokens only where pagination is configured);
:class:`QueryRunner` binds and runs it on a :class:`~.backends.Backend`. Any
database error is re-raised naming the resource type, the field and its line,
with the database's own message.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from pybaton.connectors.sql import paging, tokens
from pybaton.connectors.sql.backends import Backend, error_text
from pybaton.connectors.sql.config import Pagination
from pybaton.connectors.sql.expr import Expression
from pybaton.errors import FatalError

Row = dict[str, Any]


class QueryError(FatalError):
    """A query failed; the message names where it is configured and what the database said."""


@dataclass(frozen=True)
class VarSpec:
    """One entry of a ``vars:`` map: an input's name, or a CEL expression over the inputs."""

    name: str
    source: str
    expression: Expression

    def value(self, inputs: Mapping[str, Any]) -> Any:
        if self.source in inputs:
            return inputs[self.source]
        return self.expression.value(inputs)


@dataclass(frozen=True)
class VarSet:
    specs: tuple[VarSpec, ...] = ()

    @property
    def names(self) -> set[str]:
        return {spec.name for spec in self.specs}

    def values(self, inputs: Mapping[str, Any]) -> dict[str, Any]:
        return {spec.name: spec.value(inputs) for spec in self.specs}


@dataclass(frozen=True)
class SqlQuery:
    """A query of the config with its tokens parsed and checked."""

    text: str
    site: str
    tokens: tuple[tokens.Token, ...] = ()
    pagination: Pagination | None = None

    @classmethod
    def compile(cls, text: str, site: str, pagination: Pagination | None, provided: Iterable[str],
                problems: list[str]) -> SqlQuery:
        try:
            found = tuple(tokens.parse(text))
        except tokens.TokenError as exc:
            problems.append(f"{site}: {exc}")
            return cls(text, site, (), pagination)
        known = {name.lower() for name in provided}
        for token in found:
            if token.reserved and pagination is None:
                problems.append(f"{site}: {token.text} needs a pagination section (strategy offset or cursor)")
            elif not token.reserved and token.key not in known:
                problems.append(f"{site}: {token.text} is not defined; define it under vars "
                                f"(defined here: {', '.join(sorted(known)) or 'none'})")
        if pagination is not None and pagination.strategy == "cursor" and not pagination.primary_key:
            problems.append(f"{site}: cursor pagination needs primary_key (the column the query orders by)")
        return cls(text, site, found, pagination)

    @property
    def paginated(self) -> bool:
        return self.pagination is not None and any(t.reserved for t in self.tokens)


@dataclass
class QueryPage:
    """One page of a query: its rows as the driver returned them, and as dicts on first use.

    The grants fast path reads the principal column straight from the tuples; a
    dict per row (1,000,000 for issue 19's memberships) is made only for
    mappings that evaluate expressions.
    """

    columns: list[str]
    tuples: list[tuple[Any, ...]]
    next_token: str = ""

    @cached_property
    def rows(self) -> list[Row]:
        return _dicts(self.columns, self.tuples)

    def column_index(self, name: str) -> int | None:
        """Where ``name`` is in a row tuple (the last of equal names, as in :attr:`rows`), or None."""
        for index in range(len(self.columns) - 1, -1, -1):
            if self.columns[index] == name:
                return index
        return None


@dataclass
class QueryRunner:
    """Binds and runs queries on one backend; calls are serialised (the connection is not thread-safe)."""

    backend: Backend
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _first_cursor: dict[str, int] = field(default_factory=dict)

    def page(self, query: SqlQuery, values: Mapping[str, Any], token: str, size: int) -> QueryPage:
        """One page of ``query`` (all its rows when it is not paginated)."""
        if query.pagination is None:
            columns, rows = self._run(query, values, None)
            return QueryPage(columns, rows)
        candidates = self.backend.first_cursors
        start = self._first_cursor.get(query.text, 0) if not token else 0
        for index in range(start, len(candidates)):
            win = paging.window(query.pagination, token, size, candidates[index])
            try:
                columns, rows = self._run(query, values, win)
            except _Retry:
                continue
            if win.first:
                self._first_cursor[query.text] = index
            kept, next_token = win.finish(columns, rows)
            return QueryPage(columns, kept, next_token)
        raise QueryError(f"{query.site}: no first-page cursor value suits this query's key")

    def rows(self, query: SqlQuery, values: Mapping[str, Any]) -> list[Row]:
        columns, rows = self._run(query, values, None)
        return _dicts(columns, rows)

    def execute(self, query: SqlQuery, values: Mapping[str, Any]) -> int:
        sql, params = self._bind(query, values, None)
        with self._lock, self._guard(query):
            return self.backend.execute(sql, params)

    @contextlib.contextmanager
    def transaction(self, enabled: bool = True) -> Iterator[None]:
        """Everything inside commits together, or nothing does (when ``enabled``)."""
        with self._lock:
            if not enabled:
                yield
                return
            self.backend.statement("BEGIN")
            try:
                yield
            except BaseException:
                self.backend.statement("ROLLBACK")
                raise
            self.backend.statement("COMMIT")

    # -- internals

    def _bind(self, query: SqlQuery, values: Mapping[str, Any],
              win: paging.Window | None) -> tuple[str, list[Any]]:
        def lookup(token: tokens.Token) -> Any:
            if token.reserved:
                if win is None:
                    raise KeyError(token.key)
                return win.reserved(token.key)
            return values[token.key]

        try:
            return tokens.bind(query.text, list(query.tokens), lookup, self.backend.dialect)
        except tokens.TokenError as exc:
            raise QueryError(f"{query.site}: {exc}") from None

    def _run(self, query: SqlQuery, values: Mapping[str, Any],
             win: paging.Window | None) -> tuple[list[str], list[tuple[Any, ...]]]:
        sql, params = self._bind(query, values, win)
        with self._lock:
            try:
                return self.backend.query(sql, params)
            except self.backend.driver_errors() as exc:
                retry = (win is not None and win.first and win.used and win.pagination.strategy == "cursor"
                         and self.backend.is_type_mismatch(exc))
                if retry:
                    raise _Retry from None
                raise QueryError(f"{query.site}: database error: {error_text(exc)}") from None

    @contextlib.contextmanager
    def _guard(self, query: SqlQuery) -> Iterator[None]:
        try:
            yield
        except self.backend.driver_errors() as exc:
            raise QueryError(f"{query.site}: database error: {error_text(exc)}") from None


class _Retry(Exception):
    """The first-page cursor value did not suit the key's type; try the next candidate."""


def _dicts(columns: list[str], rows: list[tuple[Any, ...]]) -> list[Row]:
    return [dict(zip(columns, row, strict=False)) for row in rows]
