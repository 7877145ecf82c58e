"""Full sync of the synthetic ``scale`` connector, expansion included; prints wall time and peak RSS.

Default shape (DESIGN.md §4): 100k users, 10k groups nested 5 levels, 1M direct grants.
Usage: python bench/bench_sync.py [--users N --groups N --depth N --grants N --workers N]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--users", type=int, default=100_000)
    ap.add_argument("--groups", type=int, default=10_000)
    ap.add_argument("--depth", type=int, default=5)
    ap.add_argument("--grants", type=int, default=1_000_000)
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "scale.c1z"
        cmd = [sys.executable, "-m", "pybaton.cli.main", "sync", "scale", "-f", str(out),
               "--users", str(args.users), "--groups", str(args.groups), "--depth", str(args.depth),
               "--grants", str(args.grants), "--workers", str(args.workers), "--log-level", "warn"]
        started = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        elapsed = time.perf_counter() - started
        if proc.returncode != 0:
            print(proc.stderr[-2000:], file=sys.stderr)
            raise SystemExit(f"sync failed with exit code {proc.returncode}")
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        stats = subprocess.run([sys.executable, "-m", "pybaton.cli.main", "-f", str(out), "-o", "json", "stats"],
                               capture_output=True, text=True, check=True).stdout
        import json

        counts = json.loads(stats).get("stats", {})
        print(f"sync scale ({args.users:,} users, {args.groups:,} groups, depth {args.depth}, "
              f"{args.grants:,} direct grants, workers {args.workers}): {elapsed:.1f} s, peak RSS {peak:.0f} MB, "
              f"{int(counts.get('grants', 0)):,} grants stored, file {out.stat().st_size / 1e6:.1f} MB   "
              f"[target <= 60 s, <= 800 MB]")


if __name__ == "__main__":
    main()
