"""A Rich progress bar for interactive syncs (the engine's :class:`~pybaton.sync.progress.Progress`).

On a terminal an operator wants to see a long sync move; in CI or a pipe the
same information is better as occasional log lines, which is what
:func:`progress_for` picks when stderr is not a TTY.
"""

from __future__ import annotations

import sys
from typing import TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from pybaton.sync.progress import LogProgress
from pybaton.sync.progress import Progress as ProgressProtocol


class RichProgress:
    """One bar per sync phase; a phase without a known total shows a spinner and a count."""

    def __init__(self, console: Console | None = None) -> None:
        self._bar = Progress(SpinnerColumn(), TextColumn("{task.description:<20}"), BarColumn(),
                             MofNCompleteColumn(), TimeElapsedColumn(),
                             console=console or Console(stderr=True), transient=False)
        self._task: TaskID | None = None
        self._started = False

    def phase(self, name: str, total: int | None = None) -> None:
        if not self._started:
            self._bar.start()
            self._started = True
        self._finish_task()
        self._task = self._bar.add_task(name, total=total)

    def advance(self, count: int = 1) -> None:
        if self._task is not None:
            self._bar.advance(self._task, count)

    def close(self) -> None:
        self._finish_task()
        if self._started:
            self._bar.stop()
            self._started = False

    def _finish_task(self) -> None:
        """Mark the running phase complete so its bar ends full, whatever its estimate was."""
        if self._task is None:
            return
        done = next(t.completed for t in self._bar.tasks if t.id == self._task)
        self._bar.update(self._task, total=max(done, 1), completed=max(done, 1))
        self._task = None


def progress_for(stream: TextIO | None = None, *, log_format: str = "console") -> ProgressProtocol:
    """A Rich bar when ``stream`` (stderr) is a terminal and logs are for humans, log lines otherwise."""
    stream = stream or sys.stderr
    if log_format == "console" and stream.isatty():
        return RichProgress()
    return LogProgress()
