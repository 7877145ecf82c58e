"""Packing a ``.c1z``: frames per slice against one multithreaded frame, and incremental re-packs.

Builds a ``scale`` file (``--scale 0.33`` ≈ 1M grants after expansion, ``--scale 1`` ≈ 3M), unpacks
it once, then times on that database, wall and CPU (this process and its threads):

* the former pack, one zstd frame written by zstd's own threads (``threads=-1``), as reference;
* the chunked pack (:mod:`pybaton.c1z.frames`), all slices compressed (target: no slower);
* a re-pack from the frame table with nothing changed, and with one row changed (what a sync
  on a kept working database pays when its run changed a few pages);
* unpacking the chunked file.

Usage: python bench/bench_pack.py [--scale F] [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import zstandard
from _measure import calibration_seconds

from pybaton.c1z import container
from pybaton.connectors.scale import ScaleConfig, ScaleConnector
from pybaton.sync import sync


def timed(label: str, work: Callable[[], Any], note: Callable[[], str] = str) -> Any:
    """Run ``work``; print its wall and CPU seconds, then ``note()`` (said after the work, e.g. a size)."""
    started, cpu = time.perf_counter(), time.process_time()
    result = work()
    print(f"  {label}: {time.perf_counter() - started:.2f} s wall, {time.process_time() - cpu:.2f} s CPU{note()}",
          flush=True)
    return result


def single_frame(db: Path, out: Path) -> None:
    """The pack as it was: one frame, zstd's worker threads, level 1, with its checksum."""
    cctx = zstandard.ZstdCompressor(level=1, threads=-1, write_checksum=True)
    with out.open("wb") as dst, db.open("rb") as src:
        dst.write(container.MAGIC_V1)
        cctx.copy_stream(src, dst, size=db.stat().st_size, read_size=4 << 20, write_size=4 << 20)
        dst.flush()
        os.fsync(dst.fileno())


def change_one_row(db: Path) -> None:
    """Give one grant row new bytes of the same length (SQLite leaves a page alone when a write changes
    nothing, so ``set data = data`` would change no slice at all)."""
    conn = sqlite3.connect(db)
    conn.execute("update v1_grants set data = randomblob(length(data)) where id = (select max(id) / 2 from v1_grants)")
    conn.commit()
    conn.close()


def one_round(db: Path, root: Path) -> None:
    single_frame(db, root / "single.c1z")  # warm the page cache alike for both
    timed("one frame, zstd threads (before)", lambda: single_frame(db, root / "single.c1z"),
          lambda: f", {(root / 'single.c1z').stat().st_size / 1e6:.1f} MB")
    packed = root / "f.c1z"
    first = timed("frames per 4 MiB slice, all compressed", lambda: container.pack(db, packed),
                  lambda: f", {packed.stat().st_size / 1e6:.1f} MB [target: no slower than one frame]")
    again = timed("re-pack, nothing changed", lambda: container.pack(db, packed, previous=first))
    change_one_row(db)
    changed = timed("re-pack, one row changed", lambda: container.pack(db, packed, previous=again))
    recompressed = sum(1 for new, old in zip(changed.frames, again.frames, strict=False) if new.digest != old.digest)
    print(f"    ({recompressed} of {len(changed.frames)} slices changed and were recompressed)", flush=True)
    out = root / "unpacked.sqlite"
    timed("unpack the chunked file", lambda: container.unpack(packed, out))
    out.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=0.33)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    print(f"calibration: fixed pure-Python loop {calibration_seconds():.2f} s")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        config = ScaleConfig(users=int(100_000 * args.scale), groups=int(10_000 * args.scale), depth=5,
                             grants=int(1_000_000 * args.scale))
        stats = sync(ScaleConnector(config), root / "scale.c1z").stats
        db = root / "db.sqlite"
        container.unpack(root / "scale.c1z", db)
        print(f"scale {args.scale:g}: {stats.get('grants', 0):,} grants, database {db.stat().st_size / 1e6:.0f} MB, "
              f"{os.cpu_count()} cores")
        for _ in range(args.repeat):
            one_round(db, root)

if __name__ == "__main__":
    main()
