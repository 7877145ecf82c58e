"""Full sync of the synthetic ``scale`` connector, expansion included; prints wall time and peak RSS.

Default shape (DESIGN.md §4): 100k users, 10k groups nested 5 levels, 1M direct grants
(about 3M grants after expansion). Target (issue 19): <= 30 s, <= 800 MB. The sync's CPU
seconds (user + system, all its threads) are printed beside the wall time, after a
calibration figure: on a busy machine compare those.
``--phases`` then runs the same sync once more, with info logs, and prints the engine's split of
that run by step (wall and CPU seconds; expansion is one step).
Usage: python bench/bench_sync.py [--users N --groups N --depth N --grants N --workers N --phases]
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
from pathlib import Path

from _measure import PYBATON, calibration_seconds, measure_sync

TARGET = "<= 30 s, <= 800 MB"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--users", type=int, default=100_000)
    ap.add_argument("--groups", type=int, default=10_000)
    ap.add_argument("--depth", type=int, default=5)
    ap.add_argument("--grants", type=int, default=1_000_000)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--phases", action="store_true", help="also print the split by step (a second run)")
    args = ap.parse_args()
    print(f"calibration: {calibration_seconds():.2f} s (idle ~0.2-0.3 s)", flush=True)
    flags = ["scale", "--users", str(args.users), "--groups", str(args.groups), "--depth", str(args.depth),
             "--grants", str(args.grants), "--workers", str(args.workers)]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "scale.c1z"
        fig = measure_sync(flags, out)
        print(f"sync scale ({args.users:,} users, {args.groups:,} groups, depth {args.depth}, "
              f"{args.grants:,} direct grants, workers {args.workers}): {fig.seconds:.1f} s (cpu {fig.cpu_seconds:.1f} s), "
              f"peak RSS {fig.peak_rss_mb:.0f} MB, {fig.count('grants'):,} grants stored, file {fig.file_mb:.1f} MB   "
              f"[target {TARGET}]")
        if args.phases:
            print(f"  by step (second run): {phase_split(flags, Path(tmp) / 'phases.c1z')}")


def phase_split(flags: list[str], out: Path) -> str:
    """The engine's ``sync steps:`` log line of one more run (info logs; see SyncEngine._timed)."""
    proc = subprocess.run([*PYBATON, "sync", *flags, "-f", str(out), "--log-level", "info", "--log-format", "console"],
                          capture_output=True, text=True, check=True)
    lines = [line for line in proc.stderr.splitlines() if "sync steps: " in line]
    return lines[-1].split("sync steps: ", 1)[1] if lines else "(no split logged)"

if __name__ == "__main__":
    main()
