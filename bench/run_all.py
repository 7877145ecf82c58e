"""Run every benchmark under bench/ in turn and print its figures (``make bench``).

Each script prints its own lines; this runner only sequences them (one at a
time: they measure wall time and peak RSS on a 2-core machine) and reports
scripts that failed, without hiding their output.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent


def main() -> int:
    scripts = sorted(p for p in HERE.glob("bench_*.py"))
    only = set(sys.argv[1:])
    sys.path.insert(0, str(HERE))
    from _measure import calibration_seconds

    print(f"calibration: a fixed pure-Python loop took {calibration_seconds():.2f} s "
          "(higher = a slower or busier machine; compare figures only at a similar calibration)", flush=True)
    failed = []
    for script in scripts:
        if only and script.stem not in only and script.stem.removeprefix("bench_") not in only:
            continue
        print(f"== {script.stem}", flush=True)
        started = time.perf_counter()
        proc = subprocess.run([sys.executable, str(script)], check=False)
        print(f"   ({time.perf_counter() - started:.0f} s)", flush=True)
        if proc.returncode != 0:
            failed.append(script.stem)
    if failed:
        print(f"failed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
