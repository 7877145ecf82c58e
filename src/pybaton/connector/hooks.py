"""Wrap any connector so every call to it passes through a hook first.

Fault injection, counting calls, interrupting a sync after N calls, pausing
a process so it can be killed, and the fleet's shared rate limit all need the same thing: to see each call a sync
makes to a connector and, sometimes, to raise instead of letting it through.
The wrapper keeps the wrapped syncers' capabilities visible to ``isinstance``
(it only defines the methods the real syncer has), so the engine treats the
wrapped connector exactly as the real one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from pybaton.connector.base import Connector, ResourceSyncer
from pybaton.connector.pagination import PageToken

# Everything a syncer may implement (the base methods and every capability Protocol's).
SYNCER_METHODS: tuple[str, ...] = (
    "list", "entitlements", "grants", "static_entitlements", "get", "grant", "revoke", "create_account",
    "account_creation_schema", "delete_resource", "rotate_credentials",
)


@dataclass(frozen=True)
class Call:
    """One call about to reach the connector: ``validate`` or a syncer method."""

    method: str
    resource_type: str = ""
    args: tuple[Any, ...] = ()

    @property
    def token(self) -> str:
        """The page token of a paged call (``""`` for the first page or unpaged calls)."""
        return next((a.token for a in self.args if isinstance(a, PageToken)), "")


Hook = Callable[[Call], None]


class _SyncerProxy(ResourceSyncer):
    """Base of generated proxies; subclasses get one forwarding method per method the inner syncer has."""

    def __init__(self, inner: ResourceSyncer, hook: Hook) -> None:
        self._inner = inner
        self._hook = hook
        self.resource_type = inner.resource_type  # type: ignore[misc]

    @property
    def inner(self) -> ResourceSyncer:
        return self._inner


def _forward(name: str) -> Callable[..., Any]:
    def method(self: _SyncerProxy, *args: Any, **kwargs: Any) -> Any:
        self._hook(Call(name, self.resource_type.id, args))
        return getattr(self._inner, name)(*args, **kwargs)

    method.__name__ = name
    return method


@cache
def _proxy_class(inner_class: type[ResourceSyncer]) -> type[_SyncerProxy]:
    present = {name: _forward(name) for name in SYNCER_METHODS if callable(getattr(inner_class, name, None))}
    return type(f"Wrapped{inner_class.__name__}", (_SyncerProxy,), present)


def wrap_syncer(syncer: ResourceSyncer, hook: Hook) -> ResourceSyncer:
    return _proxy_class(type(syncer))(syncer, hook)


class WrappedConnector(Connector[Any]):
    """A connector whose calls go through ``hook``; build it with :func:`wrap_connector`."""

    def __init__(self, inner: Connector[Any], hook: Hook) -> None:
        super().__init__(inner.config)
        self.inner = inner
        self.hook = hook
        self._syncers: list[ResourceSyncer] | None = None
        self._lock = threading.Lock()

    def syncers(self) -> Sequence[ResourceSyncer]:
        with self._lock:
            if self._syncers is None:
                self._syncers = [wrap_syncer(s, self.hook) for s in self.inner.syncers()]
            return self._syncers

    def validate(self) -> None:
        self.hook(Call("validate"))
        self.inner.validate()

    def close(self) -> None:
        self.inner.close()


def wrap_connector(inner: Connector[Any], hook: Hook) -> WrappedConnector:
    """``inner`` with every call passed to ``hook`` first (same metadata and config)."""
    cls: type[WrappedConnector] = type(f"Wrapped{type(inner).__name__}", (WrappedConnector,),
                                       {"metadata": inner.metadata, "config_class": inner.config_class})
    return cls(inner, hook)


class CallCounter:
    """A hook that counts calls (thread-safe: the engine's workers call concurrently)."""

    def __init__(self) -> None:
        self.count = 0
        self.calls: list[Call] = []
        self._lock = threading.Lock()

    def __call__(self, call: Call) -> None:
        with self._lock:
            self.count += 1
            self.calls.append(call)


class AfterCalls:
    """A hook that runs ``action`` on the ``n``-th call (1-based) and lets every other call through."""

    def __init__(self, n: int, action: Callable[[Call], None]) -> None:
        self.n = n
        self.action = action
        self.seen = 0
        self.fired = False
        self._lock = threading.Lock()

    def __call__(self, call: Call) -> None:
        with self._lock:
            self.seen += 1
            fire = self.seen == self.n
            self.fired = self.fired or fire
        if fire:
            self.action(call)


def interrupt(call: Call) -> None:
    """An :class:`AfterCalls` action: what Ctrl-C does to a sync."""
    raise KeyboardInterrupt(f"interrupted before {call.method} {call.resource_type}")
