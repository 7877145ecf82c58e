"""Collecting pages in a forked child process, so building rows and inserting them use two cores.

With one worker, a grant scan is two halves of similar cost: the connector building grant
messages and the writer turning them into rows (Python, holding the interpreter lock), and
SQLite inserting the rows. A thread cannot overlap them (the insert needs the lock for every
row it binds); a process can. The child runs the connector's calls and encodes each page's
items (``encode``: for grants, the store's rows); the parent keeps everything that makes a
run resumable — the database, the scan tracker, the checkpoints — and receives pages in the
order the in-process loop (:func:`pybaton.sync.scan.run_scan`) would produce them, so the
stored rows and every checkpoint are the same.

Only for connectors that declare ``fork_safe`` (pure computation, no sockets or files a fork
would share) and where ``os.fork`` exists; ``PYBATON_FORK_SCAN=0`` turns it off. The child
dies with its parent (the kernel's parent-death signal on Linux; elsewhere it notices between
pages), so a ``kill -9`` of the sync leaves nothing holding the working copy's lock.

Protocol: tasks go to the child on a :class:`multiprocessing.Queue` as ``(rowid, start_token,
payload)`` (a fed queue, so the parent never blocks writing them); the child answers with
``marshal``-ed lists of events, ``("p", rowid, items, next_token)`` per page, ``"l"`` instead of
``"p"`` for a task's last page (the task is then finished: its last rows are checkpointed with it
done, so no death between two messages makes a resumed run list that page again), ``("d", rowid)``
for a task without pages, ``("e", pickled exception)`` on failure.
"""

from __future__ import annotations

import ctypes
import marshal
import multiprocessing
import os
import pickle
import queue
import signal
import threading
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from typing import Any

from pybaton.errors import FatalError
from pybaton.sync.scan import FetchPages, PageResult, ScanTask, ScanTracker

_ENV = "PYBATON_FORK_SCAN"
# Tasks handed to the child ahead of the pages the parent has received (bounds the queue's memory).
_TASKS_AHEAD = 64
# Rows the child collects before sending (fewer, larger messages); it sends early when it runs out of work.
_SEND_ROWS = 5000
_POLL_SECONDS = 0.5


def available() -> bool:
    """A child can be forked here, and the operator has not turned it off.

    Not inside a daemonic process (a Celery prefork worker, a workspace sync's pool): multiprocessing
    does not let those have children, so their syncs scan in-process.
    """
    return (hasattr(os, "fork") and os.environ.get(_ENV, "1") != "0"
            and not multiprocessing.current_process().daemon)


def run_scan_forked(tasks: Iterator[ScanTask], fetch: FetchPages, tracker: ScanTracker,
                    accept: Callable[[PageResult], None], finished: Callable[[int], None]) -> None:
    """Like ``run_scan(..., workers=1)``, with ``fetch`` running in a forked child.

    ``tasks`` payloads and the pages' items must be ``marshal``-able; ``finished`` runs in the
    parent once per task, after its last page was accepted.
    """
    ctx = multiprocessing.get_context("fork")
    todo: multiprocessing.Queue[tuple[int, str, Any] | None] = ctx.Queue()
    reader, writer = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_child_main, args=(fetch, todo, writer, os.getpid()), daemon=True,
                        name="pybaton-scan")
    child.start()
    writer.close()
    try:
        _drive(tasks, todo, reader, tracker, accept, finished)
        todo.put(None)
        child.join()
    finally:
        if child.is_alive():
            child.kill()
            child.join()
        reader.close()
        todo.close()
        todo.cancel_join_thread()


def _drive(tasks: Iterator[ScanTask], todo: multiprocessing.Queue[tuple[int, str, Any] | None], reader: Connection,
           tracker: ScanTracker, accept: Callable[[PageResult], None], finished: Callable[[int], None]) -> None:
    in_flight = 0
    exhausted = False
    while True:
        while not exhausted and in_flight < _TASKS_AHEAD:
            task = next(tasks, None)
            if task is None:
                exhausted = True
                break
            tracker.started(task.rowid)
            todo.put((task.rowid, task.start_token, task.payload))
            in_flight += 1
        if in_flight == 0:
            return
        for event in _receive(reader):
            if event[0] in ("p", "l"):
                _, rowid, items, next_token = event
                tracker.page(rowid, next_token)
                if event[0] == "l":  # the task's last page: its rows are checkpointed with the task done
                    tracker.finished(rowid)
                accept(PageResult(rowid, items, next_token))
            if event[0] in ("l", "d"):
                if event[0] == "d":
                    tracker.finished(event[1])
                finished(event[1])
                in_flight -= 1
            elif event[0] == "e":  # the pages before a failure are kept, as the in-process loop keeps them
                raise pickle.loads(event[1])


def _receive(reader: Connection) -> list[tuple[Any, ...]]:
    try:
        events: list[tuple[Any, ...]] = marshal.loads(reader.recv_bytes())
    except EOFError:
        raise FatalError("the scan's child process died") from None
    return events


# -- the child -----------------------------------------------------------------------------------

def _child_main(fetch: FetchPages, todo: multiprocessing.Queue[tuple[int, str, Any] | None], out: Connection,
                parent: int) -> None:
    """Fetch tasks until the parent sends None or goes away; never returns to the parent's code."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it stops us
    status = 0
    try:
        _die_with(parent)
        _ChildLoop(fetch, todo, out, parent).run()
    except (BrokenPipeError, _Orphaned):
        status = 1
    finally:
        os._exit(status)  # no atexit handlers, no finalizers of the parent's objects (its database)


class _Orphaned(Exception):
    """The parent is gone."""


_PR_SET_PDEATHSIG = 1


def _die_with(parent: int) -> None:
    """Have the kernel kill us when the parent dies (Linux), so a ``kill -9`` of the sync leaves no child
    holding its working copy's lock (a fork shares it); elsewhere :class:`_ChildLoop` polls between pages."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # died before the request above took effect
        raise _Orphaned()


class _ChildLoop:
    def __init__(self, fetch: FetchPages, todo: multiprocessing.Queue[tuple[int, str, Any] | None],
                 out: Connection, parent: int) -> None:
        self.fetch = fetch
        self.todo = todo
        self.out = out
        self.parent = parent
        self.events: list[tuple[Any, ...]] = []
        self.rows = 0

    def run(self) -> None:
        never = threading.Event()
        try:
            while (task := self._next()) is not None:
                rowid, token, payload = task
                held: PageResult | None = None  # one page behind, so the last one goes out marked as last
                for page in self.fetch(ScanTask(rowid, token, payload), never):
                    if held is not None:
                        self._emit(("p", rowid, held.items, held.next_token), len(held.items))
                    held = page
                if held is None:
                    self._emit(("d", rowid), 0)
                else:
                    self._emit(("l", rowid, held.items, held.next_token), len(held.items))
        except (BrokenPipeError, _Orphaned):
            raise
        except BaseException as exc:
            self.events.append(("e", _pickled(exc)))
        self._send()

    def _next(self) -> tuple[int, str, Any] | None:
        try:
            return self.todo.get_nowait()
        except queue.Empty:
            pass
        self._send()  # about to wait: the parent may be waiting for these
        while True:
            try:
                return self.todo.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                if os.getppid() != self.parent:
                    raise _Orphaned() from None

    def _emit(self, event: tuple[Any, ...], rows: int) -> None:
        if os.getppid() != self.parent:
            raise _Orphaned()
        self.events.append(event)
        self.rows += rows
        if self.rows >= _SEND_ROWS:
            self._send()

    def _send(self) -> None:
        if self.events:
            self.out.send_bytes(marshal.dumps(self.events))
            self.events, self.rows = [], 0


def _pickled(exc: BaseException) -> bytes:
    """The exception for the parent to raise; a one-line FatalError when it does not pickle."""
    try:
        data = pickle.dumps(exc)
        pickle.loads(data)
        return data
    except Exception:  # any exception type may fail to round-trip
        return pickle.dumps(FatalError(f"{type(exc).__name__}: {exc}"))
