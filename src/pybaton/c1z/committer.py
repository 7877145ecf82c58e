"""Commits on a background thread, one batch in flight.

SQLite releases the GIL while it works, so handing each batch's transaction
to a second thread lets inserting (and index upkeep) overlap with whatever the
caller does next: fetching the next page from a connector, building the next
batch of messages. At most one batch is in flight, so memory stays bounded
and a failure surfaces at the next :meth:`Committer.submit` or :meth:`Committer.wait`.
Everything that touches the database from the caller's thread must
:meth:`Committer.wait` first.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType

from pybaton.c1z.writer import SyncWriter


class Committer:
    def __init__(self, writer: SyncWriter) -> None:
        self._writer = writer
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pybaton-commit")
        self._pending: Future[None] | None = None

    def submit(self, work: Callable[[], None]) -> None:
        """Run ``work`` in one transaction on the background thread (after the previous batch)."""
        self.wait()
        self._pending = self._pool.submit(self._run, work)

    def _run(self, work: Callable[[], None]) -> None:
        with self._writer.transaction():
            work()

    def wait(self) -> None:
        """Block until the batch in flight is committed; re-raise its error."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def close(self) -> None:
        """Let the batch in flight land (also on Ctrl-C), then stop the thread."""
        try:
            self.wait()
        finally:
            self._pool.shutdown(wait=True)

    def __enter__(self) -> Committer:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
