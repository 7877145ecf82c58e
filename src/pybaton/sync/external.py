"""Syncing a registered connector command (``connectors.yaml``) into a ``.c1z``.

The command syncs into a file of its own in a temp directory (``-f``; a Go
connector's default v3 file is read directly, ``--storage-engine sqlite`` is
only passed when configured), then its run is imported into the target file as
a new sync run (:mod:`pybaton.c1z.merge`).
The target is only touched once the command has succeeded, so a failing
connector never leaves a half-written run behind.

:mod:`pybaton.runtime.operations` plugs this into the standard runner as an
operation, so ``pybaton sync <name>`` takes the same flags for an external
connector as for a built-in one; the Baton ones among them are passed on.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pybaton.c1z import C1ZFile, SyncReader
from pybaton.c1z.merge import import_run
from pybaton.connector.config import flag_name
from pybaton.connector.external import ExternalEntry, run_command
from pybaton.errors import ConnectorError
from pybaton.sync.engine import SyncResult
from pybaton.sync.options import SyncOptions

# Standard flags every Baton connector understands, passed on when the operator gave them.
PASSED_ON = ("log_level", "log_format", "sync_resources", "sync_resource_types",
             "skip_entitlements_and_grants", "skip_grants")


def baton_args(given: Mapping[str, Any], names: Iterable[str] = PASSED_ON) -> list[str]:
    """Command-line arguments for the flags in ``given`` (lists comma-joined, true booleans bare)."""
    args: list[str] = []
    for name in names:
        value = given.get(name)
        if value is None or value is False or value == []:
            continue
        if value is True:
            args.append(flag_name(name))
        else:
            args.extend([flag_name(name), ",".join(value) if isinstance(value, list) else str(value)])
    return args


def sync_external(entry: ExternalEntry, path: Path, args: Iterable[str] = ()) -> SyncResult:
    """Run the command's sync into a temp file and import its run into ``path``.

    Old full runs are pruned as after an engine sync (``BATON_KEEP_SYNC_COUNT``).
    """
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"pybaton-{entry.name}-") as tmp:
        produced = Path(tmp) / "sync.c1z"
        run_command(entry, ["-f", str(produced), *args], what=f"sync of {entry.name}")
        if not produced.exists():
            raise ConnectorError(f"{entry.name} exited successfully but wrote no .c1z file at {produced}")
        run = import_run(produced, path, keep_full_runs=SyncOptions().keep_syncs)
    with C1ZFile.open(path) as c1z:
        stats = SyncReader(c1z, run).stats()
    return SyncResult(run.sync_id, path, stats, resumed=False, seconds=time.monotonic() - started)
