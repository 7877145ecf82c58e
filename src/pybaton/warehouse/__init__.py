"""The access warehouse: a relational store of every system's access, loaded from ``.c1z`` sync runs.

An embedded SQLite file in the workspace's ``data_dir`` by default, PostgreSQL
when shared; one code path through SQLAlchemy Core, the layout kept by Alembic
migrations shipped here (``docs/warehouse.md`` documents it as a public
contract). Loads are atomic per system, history is kept per system
(``keep_syncs``), and every question can be asked as of a past moment.

The warehouse is loaded from ``.c1z`` runs and never talks to a connector.
"""

from pybaton.warehouse.asof import AsOf, parse_as_of, parse_moment
from pybaton.warehouse.load import LoadResult
from pybaton.warehouse.queries import AccessEntry, Change, Person, SystemStatus
from pybaton.warehouse.readonly import SqlResult
from pybaton.warehouse.settings import DEFAULT_FILE, DEFAULT_KEEP_SYNCS, WarehouseSettings
from pybaton.warehouse.stored import StoredSync, SyncRef
from pybaton.warehouse.warehouse import Warehouse

__all__ = ["DEFAULT_FILE", "DEFAULT_KEEP_SYNCS", "AccessEntry", "AsOf", "Change", "LoadResult", "Person",
           "SqlResult", "StoredSync", "SyncRef", "SystemStatus", "Warehouse", "WarehouseSettings", "parse_as_of",
           "parse_moment"]
