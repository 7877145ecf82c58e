"""The read path on a 1,000,000-grant file with 101,000 resources (100k users, 1k groups).

Builds the file with bench_write's shape (the sync-run row carries Go's stored
stats, as every sync writes them), then runs each read command in a new CLI
process with console output into a file: the first time the file is opened
(a fresh read cache, so it is unpacked, after the previous command's cache is
removed and written back to disk) and the best of three after. Then the
whole grant listing as JSON and as CSV into a file, with each command's peak RSS.
Every figure is wall time next to the command's CPU time (user + system), after
the machine's calibration figure: on a shared machine, wall time includes waiting.
Usage: python bench/bench_read.py [--users N --groups N --grants N] [--file PATH]
(--file: read an existing file of that shape, kept between runs, instead of building one.)
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import shutil
import tempfile
from pathlib import Path

from _measure import CommandFigures, calibration_seconds, measure_command
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


def _figure(figures: CommandFigures) -> str:
    return f"{figures.seconds:.2f} s (CPU {figures.cpu_seconds:.2f} s)"


def _read_commands(path: str, tmp: str, groups: int) -> None:
    group = f"g{groups // 2:05d}"
    commands = [
        (["grants", "-e", f"group:{group}:member"], GO_GRANTS_E),
        (["principals", "-e", f"group:{group}:member"], ""),
        (["grants", "-t", "group", "-r", group], ""),
        (["stats"], ""),
        (["access", "-p", "user:u000100"], ""),
    ]
    for command, go in commands:
        cache = Path(tmp) / "cache"
        shutil.rmtree(cache, ignore_errors=True)
        os.sync()  # each first open starts with no write-back pending from the previous one's 500 MB
        env = {**os.environ, "PYBATON_CACHE_DIR": str(cache)}
        first = measure_command(["-f", path, *command], env)
        again = min((measure_command(["-f", path, *command], env) for _ in range(3)), key=lambda f: f.seconds)
        note = f"; {go}" if go else ""
        print(f"pybaton {' '.join(command)}: first open {_figure(first)}, after {_figure(again)} "
              f"(console)   [target <= 1.0 s first, <= 0.2 s after{note}]", flush=True)


def _listings(path: str, tmp: str, grants: int) -> None:
    env = {**os.environ, "PYBATON_CACHE_DIR": str(Path(tmp) / "cache")}  # left by the read commands
    out = Path(tmp) / "listing"
    for fmt, target in (("json", "<= 15 s, constant memory; before this issue ~90 s"), ("csv", "<= 8 s")):
        figures = measure_command(["-f", path, "-o", fmt, "grants"], env, out)
        print(f"pybaton -o {fmt} grants ({grants:,} grants, {figures.stdout_bytes / 1e6:.0f} MB out): "
              f"{figures.seconds:.1f} s (CPU {figures.cpu_seconds:.1f} s), peak RSS {figures.peak_rss_mb:.0f} MB"
              f"   [target {target}]", flush=True)
        out.unlink()


def _build(path: str, users: int, groups: int, grants: int) -> None:
    ctx = mp.get_context("spawn")
    q: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    proc = ctx.Process(target=_build_and_write, args=(path, users, groups, grants, q))
    proc.start()
    q.get()
    proc.join()
    _store_stats(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--grants", type=int, default=1_000_000)
    ap.add_argument("--users", type=int, default=100_000)
    ap.add_argument("--groups", type=int, default=1_000)
    ap.add_argument("--file", help="an existing file of this shape (built there, and kept, if missing)")
    args = ap.parse_args()
    print(f"calibration: {calibration_seconds():.2f} s (idle machine ~0.20-0.30 s)", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        path = args.file or str(Path(tmp) / "read.c1z")
        if not Path(path).exists():
            _build(path, args.users, args.groups, args.grants)
        print(f"file: {args.grants:,} grants, {args.users + args.groups:,} resources, "
              f"{Path(path).stat().st_size / 1e6:.0f} MB packed", flush=True)
        _read_commands(path, tmp, args.groups)
        _listings(path, tmp, args.grants)


if __name__ == "__main__":
    main()
