"""The access warehouse: a relational store of every system's access, loaded from ``.c1z`` sync runs.

An embedded SQLite file in the workspace's ``data_dir`` by default, PostgreSQL
when shared; one code path through SQLAlchemy Core, the layout kept by Alembic
migrations shipped here (``docs/warehouse.md`` documents it as a public
contract). Loads are atomic per system, history is kept per system
(``keep_syncs``), and every question can be asked as of a past moment.

The warehouse is loaded from ``.c1z`` runs and never talks to a connector.
Names are imported on first use, so reading a workspace's ``warehouse:``
setting does not load the database toolkit.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pybaton.warehouse.asof import AsOf, parse_as_of, parse_moment
    from pybaton.warehouse.load import LoadResult
    from pybaton.warehouse.queries import AccessEntry, Change, Person, SystemStatus
    from pybaton.warehouse.readonly import SqlResult
    from pybaton.warehouse.settings import DEFAULT_FILE, DEFAULT_KEEP_SYNCS, WarehouseSettings
    from pybaton.warehouse.stored import StoredSync, SyncRef
    from pybaton.warehouse.warehouse import Warehouse

_WHERE = {
    "AsOf": "asof", "parse_as_of": "asof", "parse_moment": "asof", "LoadResult": "load",
    "AccessEntry": "queries", "Change": "queries", "Person": "queries", "SystemStatus": "queries",
    "SqlResult": "readonly", "DEFAULT_FILE": "settings", "DEFAULT_KEEP_SYNCS": "settings",
    "WarehouseSettings": "settings", "StoredSync": "stored", "SyncRef": "stored", "Warehouse": "warehouse",
}

__all__ = ["DEFAULT_FILE", "DEFAULT_KEEP_SYNCS", "AccessEntry", "AsOf", "Change", "LoadResult", "Person",
           "SqlResult", "StoredSync", "SyncRef", "SystemStatus", "Warehouse", "WarehouseSettings", "parse_as_of",
           "parse_moment"]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'pybaton.warehouse' has no attribute {name!r}")
    return getattr(importlib.import_module(f"pybaton.warehouse.{module}"), name)
