"""The sync engine: reads a connector into a ``.c1z``. Entry point: :func:`sync`."""

from pybaton.sync.engine import SyncEngine, SyncResult, sync, work_dir_for
from pybaton.sync.options import RetryPolicy, SyncOptions

__all__ = ["RetryPolicy", "SyncEngine", "SyncOptions", "SyncResult", "sync", "work_dir_for"]
