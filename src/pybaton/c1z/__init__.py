"""The ``.c1z`` file format (v1): Baton's zstd-compressed SQLite of protobuf rows.

- :class:`C1ZFile` opens, creates and atomically saves files;
- :class:`SyncReader` answers indexed queries over one sync run;
- :class:`SyncWriter` bulk-writes one sync run's objects;
- :mod:`pybaton.c1z.syncs` manages the runs a file holds.

The store knows nothing about connectors: it stores and returns messages.
"""

from pybaton.c1z.container import DecodeLimits
from pybaton.c1z.file import C1ZFile
from pybaton.c1z.merge import copy_run, import_run
from pybaton.c1z.queries import SyncQueries
from pybaton.c1z.reader import SyncReader
from pybaton.c1z.syncs import SyncRun
from pybaton.c1z.writer import SyncWriter

__all__ = ["C1ZFile", "DecodeLimits", "SyncQueries", "SyncReader", "SyncRun", "SyncWriter", "copy_run", "import_run"]
