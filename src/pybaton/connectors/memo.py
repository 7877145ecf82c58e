"""Values read from a system once per sync, shared by the engine's worker threads."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Memo(Generic[T]):
    """A value computed once on first use, thread-safely, until :meth:`reset`.

    The engine may call a syncer from several worker threads; they must all see
    the one snapshot of the system that the first caller read, not race to read
    it again. Writes call :meth:`reset` so the next read sees their effect.
    """

    def __init__(self, load: Callable[[], T]) -> None:
        self._load = load
        self._lock = threading.Lock()
        self._value: T | None = None
        self._loaded = False

    def get(self) -> T:
        with self._lock:
            if not self._loaded:
                self._value = self._load()
                self._loaded = True
            return self._value  # type: ignore[return-value]

    def reset(self) -> None:
        with self._lock:
            self._value = None
            self._loaded = False


class MemoMap(Generic[T]):
    """:class:`Memo` per key (e.g. one catalog snapshot per database), each loaded on demand."""

    def __init__(self, load: Callable[[str], T]) -> None:
        self._load = load
        self._lock = threading.Lock()
        self._memos: dict[str, Memo[T]] = {}

    def get(self, key: str) -> T:
        with self._lock:
            memo = self._memos.get(key)
            if memo is None:
                memo = self._memos[key] = Memo(lambda: self._load(key))
        return memo.get()

    def reset(self) -> None:
        with self._lock:
            self._memos.clear()
