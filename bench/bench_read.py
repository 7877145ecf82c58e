"""The read path on a 1,000,000-grant file with 101,000 resources (100k users, 1k groups).

Builds the file with bench_write's shape (the sync-run row carries Go's stored
stats, as every sync writes them), then runs each read command in a new CLI
process with console output into a file: the first time the file is opened
(a fresh read cache, so it is unpacked) and the best of three after. Then the
whole grant listing as JSON and as CSV, with each command's peak RSS.
Usage: python bench/bench_read.py [--users N --groups N --grants N]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import tempfile
from pathlib import Path

from _measure import measure_command
from bench_write import _build_and_write

# Go's baton on a 1M-grant file (issue 19; that file had 11k resources): SQLite engine / Pebble engine.
GO_GRANTS_E = "Go: 1.15 s SQLite, 0.17 s Pebble"


def _store_stats(path: str) -> None:
    """Store the run's stats as the engine does at the end of every sync (Go's EndSync does the same)."""
    from pybaton.c1z import C1ZFile, SyncReader

    with C1ZFile.open(Path(path), writable=True) as c1z:
        run = c1z.resolve_sync()
        stats = json.dumps(SyncReader(c1z, run).stats(), separators=(",", ":"))
        c1z.conn.execute("update v1_sync_runs set stats = ? where sync_id = ?", (stats, run.sync_id))
        c1z.save()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--grants", type=int, default=1_000_000)
    ap.add_argument("--users", type=int, default=100_000)
    ap.add_argument("--groups", type=int, default=1_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "read.c1z")
        ctx = mp.get_context("spawn")
        q: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
        proc = ctx.Process(target=_build_and_write, args=(path, args.users, args.groups, args.grants, q))
        proc.start()
        q.get()
        proc.join()
        _store_stats(path)
        print(f"file: {args.grants:,} grants, {args.users + args.groups:,} resources, "
              f"{Path(path).stat().st_size / 1e6:.0f} MB packed")
        group = f"g{args.groups // 2:05d}"
        commands = [
            (["grants", "-e", f"group:{group}:member"], GO_GRANTS_E),
            (["principals", "-e", f"group:{group}:member"], ""),
            (["grants", "-t", "group", "-r", group], ""),
            (["stats"], ""),
            (["access", "-p", "user:u000100"], ""),
        ]
        for i, (command, go) in enumerate(commands):
            env = {**os.environ, "PYBATON_CACHE_DIR": str(Path(tmp) / f"cache{i}")}
            first = measure_command(["-f", path, *command], env)
            again = min(measure_command(["-f", path, *command], env).seconds for _ in range(3))
            note = f"; {go}" if go else ""
            print(f"pybaton {' '.join(command)}: first open {first.seconds:.2f} s, after {again:.2f} s "
                  f"(console)   [target <= 1.0 s first, <= 0.2 s after{note}]", flush=True)
        env = {**os.environ, "PYBATON_CACHE_DIR": str(Path(tmp) / "cache0")}
        out = Path(tmp) / "listing"
        for fmt, target in (("json", "<= 15 s, constant memory; before this issue ~90 s"), ("csv", "<= 8 s")):
            figures = measure_command(["-f", path, "-o", fmt, "grants"], env, out)
            print(f"pybaton -o {fmt} grants ({args.grants:,} grants, {figures.stdout_bytes / 1e6:.0f} MB out): "
                  f"{figures.seconds:.1f} s, peak RSS {figures.peak_rss_mb:.0f} MB   [target {target}]",
                  flush=True)
            out.unlink()


if __name__ == "__main__":
    main()
