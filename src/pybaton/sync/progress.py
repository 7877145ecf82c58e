"""How the engine reports progress: a tiny protocol the CLI implements (Rich bar or logs)."""

from __future__ import annotations

import logging
import time
from typing import Protocol

log = logging.getLogger("pybaton.sync")


class Progress(Protocol):
    def phase(self, name: str, total: int | None = None) -> None: ...

    def advance(self, count: int = 1) -> None: ...

    def close(self) -> None: ...


class LogProgress:
    """Progress as log lines, at most one every ``interval`` seconds per phase."""

    def __init__(self, interval: float = 10.0) -> None:
        self._interval = interval
        self._name = ""
        self._count = 0
        self._total: int | None = None
        self._last = 0.0

    def phase(self, name: str, total: int | None = None) -> None:
        if self._name:
            log.info("%s: %d done", self._name, self._count)
        self._name, self._total, self._count, self._last = name, total, 0, time.monotonic()
        log.info("sync phase: %s%s", name, f" ({total} to do)" if total else "")

    def advance(self, count: int = 1) -> None:
        self._count += count
        now = time.monotonic()
        if now - self._last >= self._interval:
            self._last = now
            of = f"/{self._total}" if self._total else ""
            log.info("%s: %d%s", self._name, self._count, of)

    def close(self) -> None:
        if self._name:
            log.info("%s: %d done", self._name, self._count)
            self._name = ""
