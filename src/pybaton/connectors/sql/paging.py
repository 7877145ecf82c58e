"""Pagination of baton-sql queries: offset and cursor, one page of rows at a time.

A paginated query binds ``?<limit>`` to the page size *plus one*: the extra
row only tells whether another page follows, and is not mapped. Then

* ``offset``: ``?<offset>`` is the number of rows already returned; the next
  page starts at ``offset + size``. (baton-sql at commit 8b5b0da computes
  ``offset * size + size``, which skips rows from the third page on.)
* ``cursor``: ``?<cursor>`` is the ``primary_key`` value of the last row
  returned; the query must order by that key. Our page token keeps the key's
  type (``{"c": 42}``), so an integer key is bound as an integer again; a
  plain token (baton-sql's form) is bound as a string. On the first page there
  is no last key yet: see :attr:`Backend.first_cursors`.

Page tokens are opaque to the engine; a malformed one is fatal rather than
"start over", which would silently duplicate what was already written.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pybaton.connector.pagination import offset_of
from pybaton.connectors.sql.config import Pagination
from pybaton.connectors.sql.expr import to_text
from pybaton.errors import FatalError

DEFAULT_PAGE_SIZE = 100
PREFERRED_PAGE_SIZE = 5_000
"""Rows per query when neither the query's ``page_size`` nor ``--page-size`` sets one (see SqlConnector)."""
MAX_PAGE_SIZE = 10_000


def page_size(pagination: Pagination, requested: int) -> int:
    """The config's ``page_size`` when set (the operator chose it for this query), else the engine's."""
    size = pagination.page_size or requested or DEFAULT_PAGE_SIZE
    return max(1, min(size, MAX_PAGE_SIZE))


def encode_cursor(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        value = to_text(value)
    return json.dumps({"c": value}, separators=(",", ":"))


def decode_cursor(token: str) -> Any:
    if not token.startswith("{"):
        return token
    try:
        return json.loads(token)["c"]
    except (ValueError, KeyError, TypeError):
        raise FatalError(f"malformed cursor page token {token[:60]!r}") from None


@dataclass
class Window:
    """One page being fetched: what the reserved tokens bind to, and how to find the next page."""

    pagination: Pagination
    limit: int
    offset: int = 0
    cursor: Any = ""
    first: bool = True
    used: bool = False

    def reserved(self, key: str) -> Any:
        """The value of ``?<limit>``, ``?<offset>`` or ``?<cursor>`` for this page."""
        self.used = True
        if key == "limit":
            return self.limit + 1
        if key == "offset":
            return self.offset
        return self.cursor

    def finish(self, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> tuple[list[tuple[Any, ...]], str]:
        """The rows of this page and the next page's token (``""`` after the last page)."""
        if not self.used or len(rows) <= self.limit:
            return rows, ""
        rows = rows[:self.limit]
        if self.pagination.strategy == "offset":
            return rows, str(self.offset + self.limit)
        return rows, encode_cursor(rows[-1][self._key_index(columns)])

    def _key_index(self, columns: Sequence[str]) -> int:
        try:
            return list(columns).index(self.pagination.primary_key)
        except ValueError:
            raise FatalError(f"pagination primary_key {self.pagination.primary_key!r} is not a column of the "
                             f"query result (columns: {', '.join(columns)})") from None


def window(pagination: Pagination, token: str, requested_size: int, first_cursor: Any = "") -> Window:
    """The page that ``token`` points at (``""``: the first page)."""
    size = page_size(pagination, requested_size)
    if pagination.strategy == "offset":
        return Window(pagination, size, offset=offset_of(token), first=not token)
    cursor = decode_cursor(token) if token else first_cursor
    return Window(pagination, size, cursor=cursor, first=not token)
