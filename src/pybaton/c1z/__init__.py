"""The ``.c1z`` file format (v1): Baton's zstd-compressed SQLite of protobuf rows.

- :class:`C1ZFile` opens, creates and atomically saves files;
- :class:`SyncReader` answers indexed queries over one sync run;
- :class:`SyncWriter` bulk-writes one sync run's objects;
- :mod:`pybaton.c1z.syncs` manages the runs a file holds.

The store knows nothing about connectors: it stores and returns messages.

The names below are imported on first use: a read command needs the reader,
not the writer, the merge or the protobuf models of the sync engine, and a
cold CLI start pays for every module it imports.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pybaton.c1z.container import DecodeLimits
    from pybaton.c1z.file import C1ZFile
    from pybaton.c1z.merge import copy_run, import_run
    from pybaton.c1z.queries import SyncQueries
    from pybaton.c1z.reader import SyncReader
    from pybaton.c1z.syncs import SyncRun
    from pybaton.c1z.writer import SyncWriter

_EXPORTS = {
    "C1ZFile": "file", "DecodeLimits": "container", "SyncQueries": "queries", "SyncReader": "reader",
    "SyncRun": "syncs", "SyncWriter": "writer", "copy_run": "merge", "import_run": "merge",
}

__all__ = ["C1ZFile", "DecodeLimits", "SyncQueries", "SyncReader", "SyncRun", "SyncWriter", "copy_run", "import_run"]


def __getattr__(name: str) -> Any:
    """A public name (imported from its module now), or a submodule (``pybaton.c1z.syncs``)."""
    module = _EXPORTS.get(name)
    if module is None:
        try:
            return importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
