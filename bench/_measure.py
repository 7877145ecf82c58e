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


def calibration_seconds() -> float:
    """A fixed pure-Python loop: how fast this machine is right now (quote it with every figure)."""
    started = time.perf_counter()
    total = 0
    for i in range(5_000_000):
        total += i % 7
    assert total > 0
    return time.perf_counter() - started


# Runs argv[1:] as a child of a fresh interpreter and prints that child's peak RSS (KB) on stderr's
# last line, so each command's figure is its own (RUSAGE_CHILDREN keeps the largest child ever).
_RSS_RUNNER = (
    "import resource, subprocess, sys\n"
    "rc = subprocess.call(sys.argv[1:])\n"
    "u = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "sys.stderr.write(f'\\nRSS_KB {u.ru_maxrss} CPU_S {u.ru_utime + u.ru_stime}\\n')\n"
    "sys.exit(rc)\n"
)


@dataclass(frozen=True)
class CommandFigures:
    seconds: float
    peak_rss_mb: float
    stdout_bytes: int
    cpu_seconds: float = 0.0  # user + system of the command's process


def measure_command(args: Sequence[str], env: Mapping[str, str] | None = None,
                    stdout_path: Path | None = None) -> CommandFigures:
    """Run ``pybaton ARGS`` with stdout into a file (a pipe-like sink); wall time, peak RSS, output size."""
    sink = stdout_path or Path("/dev/null")
    with sink.open("wb") as out:
        started = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", _RSS_RUNNER, *PYBATON, *args], stdout=out,
                              stderr=subprocess.PIPE, env=dict(env) if env is not None else None)
        elapsed = time.perf_counter() - started
    err = proc.stderr.decode(errors="replace")
    if proc.returncode != 0:
        print(err[-2000:], file=sys.stderr)
        raise SystemExit(f"pybaton {' '.join(args)} failed with exit code {proc.returncode}")
    rss_kb, _, cpu = err.rsplit("RSS_KB ", 1)[1].split()[:3]
    size = stdout_path.stat().st_size if stdout_path is not None else 0
    return CommandFigures(elapsed, int(rss_kb) / 1024, size, float(cpu))
