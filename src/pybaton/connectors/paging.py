"""Offset pages over an in-memory, ordered snapshot of a system.

The built-ins read a consistent picture of the system once per sync and serve
every page from it; the page token is the offset of the next item
(:func:`pybaton.connector.pagination.offset_of`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from pybaton.connector.pagination import Page, PageToken, offset_of

T = TypeVar("T")
U = TypeVar("U")


def window(token: str, size: int, total: int) -> tuple[range, str]:
    """Positions of one page over ``total`` items, and the next page's token (``""`` at the end)."""
    start = offset_of(token)
    stop = min(start + max(size, 1), total)
    return range(start, max(start, stop)), (str(stop) if stop < total else "")


def page_of(items: Sequence[T], page: PageToken) -> Page[T]:
    """One offset page of an in-memory list (the snapshot is ordered, so offsets are stable)."""
    return page_map(items, page, lambda item: item)


def page_map(items: Sequence[T], page: PageToken, build: Callable[[T], U]) -> Page[U]:
    """One offset page of ``items``, building only that page's objects (``build`` is the costly part)."""
    positions, token = window(page.token, page.size, len(items))
    return Page([build(items[i]) for i in positions], token)


class PageCache(Generic[T]):
    """The rows of the resource being paged, kept between its page calls.

    The engine asks for a resource's grants a page at a time; recomputing all
    of them for every page is quadratic (PUBLIC has a member grant per role).
    One slot suffices, as pages of one resource come one after the other; the
    slot also remembers the snapshot it was computed from, so a refreshed
    snapshot is never served stale rows.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._slot: tuple[str, object, Sequence[T]] | None = None

    def rows(self, key: str, snapshot: object, compute: Callable[[], Sequence[T]]) -> Sequence[T]:
        with self._lock:
            slot = self._slot
        if slot is not None and slot[0] == key and slot[1] is snapshot:
            return slot[2]
        rows = compute()
        with self._lock:
            self._slot = (key, snapshot, rows)
        return rows
