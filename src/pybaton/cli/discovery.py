"""Finding connectors by name: the built-ins, plus any package's ``pybaton.connectors`` entry points.

Nothing is imported until a connector is asked for, because a connector's
module may need an optional dependency (a database driver) that this
installation lacks; ``pybaton connectors`` then reports it as unavailable
instead of failing as a whole.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from pybaton.connector.base import Connector
from pybaton.connectors import BUILTIN, ENTRY_POINT_GROUP, load_builtin
from pybaton.errors import UserError
from pybaton.extras import optional_import

ConnectorClass = type[Connector[Any]]


@dataclass(frozen=True)
class ConnectorSource:
    """Where a connector comes from, and how to load it."""

    name: str
    origin: str
    target: str
    load: Callable[[], ConnectorClass]


def _from_entry_point(ep: importlib.metadata.EntryPoint) -> ConnectorClass:
    try:
        with optional_import(f"the {ep.name} connector"):
            cls = ep.load()
    except ImportError as exc:
        raise UserError(f"connector {ep.name!r} ({ep.value}) cannot be imported: {exc}") from None
    if not (isinstance(cls, type) and issubclass(cls, Connector)):
        raise UserError(f"entry point {ep.name!r} ({ep.value}) is not a pybaton Connector class")
    return cls


def _entry_point_sources() -> list[ConnectorSource]:
    out = []
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        origin = ep.dist.name if ep.dist is not None else "entry point"
        out.append(ConnectorSource(ep.name, origin, ep.value, partial(_from_entry_point, ep)))
    return out


def available_connectors() -> dict[str, ConnectorSource]:
    """Every connector by name, built-ins first (an entry point cannot shadow a built-in)."""
    found = {name: ConnectorSource(name, "built-in", target, partial(load_builtin, name))
             for name, target in BUILTIN.items()}
    for source in _entry_point_sources():
        found.setdefault(source.name, source)
    return dict(sorted(found.items()))


def load_connector(name: str) -> ConnectorClass:
    """The connector class called ``name``, or a one-line error listing the known names."""
    sources = available_connectors()
    source = sources.get(name)
    if source is None:
        raise UserError(f"unknown connector {name!r}; known connectors: {', '.join(sources) or 'none'}")
    return source.load()
