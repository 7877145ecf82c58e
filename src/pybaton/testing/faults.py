"""Fault injection: make chosen connector calls fail N times, to test retry and error handling.

Real systems time out, rate-limit and lose objects mid-sync; a connector's
tests (and the engine's) should see that happen on purpose::

    connector, faults = inject_faults(MyConnector(config),
                                      Fault("grants", RetryableError, times=2, resource_type="group"))
    sync(connector, path)
    assert faults.raised_count == 2
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pybaton.connector.base import Connector
from pybaton.connector.hooks import Call, WrappedConnector, wrap_connector

ErrorFactory = Callable[..., BaseException]


@dataclass(frozen=True)
class Fault:
    """Raise ``error`` on matching calls, ``times`` times, after letting ``skip`` of them through.

    ``method`` is a syncer method name (``list``, ``entitlements``, ``grants``,
    ``get``, ``grant`` …), ``validate``, or ``*`` for any. ``error`` is an
    exception class (instantiated with a message naming the call) or a
    zero-argument factory. ``page_token`` narrows to calls continuing from that token.
    """

    method: str
    error: ErrorFactory
    times: int = 1
    resource_type: str | None = None
    skip: int = 0
    page_token: str | None = None

    def matches(self, call: Call) -> bool:
        return (self.method in ("*", call.method)
                and self.resource_type in (None, call.resource_type)
                and self.page_token in (None, call.token))

    def build(self, call: Call) -> BaseException:
        error: BaseException
        if isinstance(self.error, type):
            error = self.error(f"injected fault in {call.method} {call.resource_type}".rstrip())
        else:
            error = self.error()
        return error


class FaultInjector:
    """The hook behind :func:`inject_faults`; records what it raised."""

    def __init__(self, faults: tuple[Fault, ...]) -> None:
        self.faults = faults
        self._matched = [0] * len(faults)
        self.raised: list[tuple[Call, BaseException]] = []
        self._lock = threading.Lock()

    def __call__(self, call: Call) -> None:
        error = self._next_error(call)
        if error is not None:
            raise error

    def _next_error(self, call: Call) -> BaseException | None:
        with self._lock:
            for i, fault in enumerate(self.faults):
                if not fault.matches(call):
                    continue
                self._matched[i] += 1
                if fault.skip < self._matched[i] <= fault.skip + fault.times:
                    error = fault.build(call)
                    self.raised.append((call, error))
                    return error
        return None

    @property
    def raised_count(self) -> int:
        return len(self.raised)

    @property
    def exhausted(self) -> bool:
        """Every fault has fired all its times (the run really met what the test meant it to)."""
        return all(m >= f.skip + f.times for m, f in zip(self._matched, self.faults, strict=True))


def inject_faults(connector: Connector[Any], *faults: Fault) -> tuple[WrappedConnector, FaultInjector]:
    """``connector`` wrapped so the given faults fire; returns the wrapper and its injector."""
    injector = FaultInjector(faults)
    return wrap_connector(connector, injector), injector
