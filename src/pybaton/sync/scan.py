"""Collecting entitlements or grants resource by resource, optionally with worker threads.

Workers only call the connector; the calling thread owns the database, so
writes stay single-threaded (SQLite's rule) and checkpoints stay exact. Pages
reach the writer in order per resource; ``ScanState`` records which resources
are finished and where the unfinished ones stand.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from pybaton.sync.state import ScanState


@dataclass(frozen=True)
class ScanTask:
    rowid: int
    start_token: str
    payload: Any


@dataclass(frozen=True)
class PageResult:
    rowid: int
    items: list[Any]
    next_token: str


FetchPages = Callable[[ScanTask, threading.Event], Iterator[PageResult]]
_DONE = object()


class ScanTracker:
    """Maintains the watermark as resources finish in any order."""

    def __init__(self, state: ScanState) -> None:
        self.state = state
        self._pending: deque[int] = deque()
        self._done: set[int] = set(state.done)

    def started(self, rowid: int) -> None:
        self._pending.append(rowid)

    def page(self, rowid: int, next_token: str) -> None:
        if next_token:
            self.state.tokens[str(rowid)] = next_token

    def finished(self, rowid: int) -> None:
        self.state.tokens.pop(str(rowid), None)
        self._done.add(rowid)
        while self._pending and self._pending[0] in self._done:
            self.state.watermark = max(self.state.watermark, self._pending.popleft())
        self._done = {r for r in self._done if r > self.state.watermark}
        self.state.done = sorted(self._done)


def run_scan(tasks: Iterator[ScanTask], fetch: FetchPages, tracker: ScanTracker, workers: int,
             accept: Callable[[PageResult], None]) -> None:
    """Drive ``fetch`` over ``tasks``; ``accept`` each page in the calling thread."""
    stop = threading.Event()
    if workers <= 1:
        for task in tasks:
            tracker.started(task.rowid)
            for page in fetch(task, stop):
                tracker.page(task.rowid, page.next_token)
                accept(page)
            tracker.finished(task.rowid)
        return
    _run_threaded(tasks, fetch, tracker, workers, accept, stop)


def _run_threaded(tasks: Iterator[ScanTask], fetch: FetchPages, tracker: ScanTracker, workers: int,
                  accept: Callable[[PageResult], None], stop: threading.Event) -> None:
    results: queue.Queue[tuple[Any, ...]] = queue.Queue(maxsize=workers * 8)

    def put(item: tuple[Any, ...]) -> bool:
        while not stop.is_set():
            try:
                results.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work(task: ScanTask) -> None:
        try:
            for page in fetch(task, stop):
                if not put(("page", page)):
                    return
            put(("done", task.rowid))
        except BaseException as exc:  # handed to the writer thread, which re-raises
            put(("error", exc))

    in_flight = 0
    exhausted = False
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pybaton-sync") as pool:
        try:
            while True:
                while not exhausted and in_flight < workers * 2:
                    task = next(tasks, None)
                    if task is None:
                        exhausted = True
                        break
                    tracker.started(task.rowid)
                    pool.submit(work, task)
                    in_flight += 1
                if in_flight == 0:
                    return
                kind, value = results.get()
                if kind == "page":
                    tracker.page(value.rowid, value.next_token)
                    accept(value)
                elif kind == "done":
                    tracker.finished(value)
                    in_flight -= 1
                else:
                    raise value
        except BaseException:
            stop.set()
            _drain(results)
            raise


def _drain(results: queue.Queue[tuple[Any, ...]]) -> None:
    try:
        while True:
            results.get_nowait()
    except queue.Empty:
        return
