"""Convert a ``.c1z`` (v3 Pebble or v1) into a v1 file that older tools and Go's ``baton`` read.

Go has no v3 → v1 converter. Opening a v3 file already materializes it in the
v1 layout (:mod:`pybaton.c1z.v3`); conversion copies every sync run of that
working copy into a fresh v1 file with the run-copy routine imports use, keeping
sync ids, and packs it atomically over ``target`` (a crash never leaves half a
file).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from pybaton.c1z.file import C1ZFile
from pybaton.c1z.merge import copy_run
from pybaton.c1z.syncs import SyncRun
from pybaton.errors import C1ZError


def convert_to_v1(source: Path, target: Path, *, overwrite: bool = False) -> list[SyncRun]:
    """Write every run of ``source`` into a new v1 file at ``target``; return the runs copied."""
    if target.exists() and not overwrite:
        raise C1ZError(f"{target}: already exists (give --force to replace it)")
    if target.exists() and source.exists() and target.resolve() == source.resolve():
        raise C1ZError(f"{target}: is the input file; write the converted file elsewhere")
    with C1ZFile.open(source) as src:
        runs = src.sync_runs()
        if not runs:
            raise C1ZError(f"{source}: holds no sync run to convert")
        with tempfile.TemporaryDirectory(prefix="pybaton-convert-") as work:
            # A path that never exists as a file: the copy starts empty and is packed to ``target``.
            fresh = Path(work) / "converted.c1z"
            with C1ZFile.create(fresh, workdir=Path(work) / "db") as dst:
                for run in runs:
                    copy_run(src, dst, run.sync_id)
                dst.save(target)
                dst.close(discard_workdir=True)
    return runs
