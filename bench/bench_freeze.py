"""A connector frozen by ``pybaton build``: build time, size, and how fast the executable starts.

Builds the CSV tutorial (examples/csv_connector.py) into one executable, then
runs it under ``env -i`` (no PATH, no Python) in a temp directory: ``config``
(start, parse, print), ``capabilities`` and a whole sync of the tutorial's CSV.
Each figure is the median of several runs, next to the script run by the
virtual environment's Python, and the target (DESIGN: starts in ≤ 1 s).
"""

from __future__ import annotations

import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).parent.parent
SCRIPT = ROOT / "examples" / "csv_connector.py"
PEOPLE = ROOT / "examples" / "data" / "people.csv"
RUNS = 7
TARGET_START = 1.0


def calibration() -> float:
    """Seconds for a fixed pure-Python loop: how fast this machine is right now."""
    started = time.perf_counter()
    total = 0
    for i in range(5_000_000):
        total += i * i % 7
    return time.perf_counter() - started


def median_seconds(command: Sequence[str], cwd: Path) -> tuple[float, float]:
    """Median wall and CPU (user + system) seconds of ``command``; CPU tells a busy machine from a slow start."""
    walls, cpus = [], []
    for _ in range(RUNS):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(command, cwd=cwd, check=True, capture_output=True)
        walls.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    print(f"calibration (pure-Python loop): {calibration():.2f} s")
    with tempfile.TemporaryDirectory(prefix="bench-freeze-") as tmp:
        work = Path(tmp)
        exe = work / "baton-csv"
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "pybaton.cli", "build", str(SCRIPT), "-o", str(exe)],
                       check=True, capture_output=True)
        print(f"pybaton build of the CSV tutorial: {time.perf_counter() - started:.0f} s, "
              f"{exe.stat().st_size / 1e6:.1f} MB")
        shutil.copy(PEOPLE, work / "people.csv")
        cases = {
            "config": ["config"],
            "capabilities": ["capabilities", "--path", "people.csv"],
            "sync": ["-f", "out.c1z", "--path", "people.csv", "--log-level", "warn"],
        }
        for name, args in cases.items():
            frozen, frozen_cpu = median_seconds(["env", "-i", str(exe), *args], work)
            script, script_cpu = median_seconds([sys.executable, str(SCRIPT), *args], work)
            target = f" (target ≤ {TARGET_START:.1f} s)" if name == "config" else ""
            print(f"{name:>12}: executable {frozen:.2f} s (CPU {frozen_cpu:.2f} s), script {script:.2f} s "
                  f"(CPU {script_cpu:.2f} s), median of {RUNS}{target}")


if __name__ == "__main__":
    main()
