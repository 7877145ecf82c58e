"""Reading v3 (Pebble) ``.c1z`` files, in pure Python.

Since SDK v0.25 Go connectors write ``C1Z3\\0`` files: a manifest and a Pebble
checkpoint (MANIFEST, sstables in columnar table format v7). Modules, bottom up:
:mod:`wire` (bounded varints, CRC-32C), :mod:`colblk` (columnar blocks),
:mod:`sstable` (one table), :mod:`lsm` (MANIFEST replay), :mod:`merge`
(sequence numbers and deletions), :mod:`keys` (Baton's key layout),
:mod:`records` (records → connector messages), :mod:`envelope` (header,
manifest, payload extraction) and :mod:`store` (the v1 working copy).
"""

from pybaton.c1z.v3.store import materialize

__all__ = ["materialize"]
