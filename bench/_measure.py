"""Running one sync as a child process and reading its figures (shared by the sync benchmarks)."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PYBATON = [sys.executable, "-m", "pybaton.cli.main"]


@dataclass(frozen=True)
class SyncFigures:
    seconds: float
    cpu_seconds: float
    peak_rss_mb: float
    counts: Mapping[str, Any]
    file_mb: float

    def count(self, key: str) -> int:
        return int(self.counts.get(key, 0))


def measure_sync(args: Sequence[str], out: Path, env: Mapping[str, str] | None = None) -> SyncFigures:
    """Run ``pybaton sync ARGS -f OUT`` in a child; wall, CPU and peak RSS of that child, and the counts.

    Peak RSS is the largest child's so far, so call it once per benchmark process.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run([*PYBATON, "sync", *args, "-f", str(out), "--log-level", "warn"],
                          capture_output=True, text=True, env=dict(env) if env is not None else None)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        print(proc.stderr[-2000:], file=sys.stderr)
        raise SystemExit(f"sync failed with exit code {proc.returncode}")
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = usage.ru_utime + usage.ru_stime - before.ru_utime - before.ru_stime
    stats = json.loads(subprocess.run([*PYBATON, "-f", str(out), "-o", "json", "stats"], capture_output=True,
                                      text=True, check=True).stdout)
    return SyncFigures(elapsed, cpu, usage.ru_maxrss / 1024, stats.get("stats", stats), out.stat().st_size / 1e6)
