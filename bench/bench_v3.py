"""Reading a v3 (Pebble) .c1z against the v1 file of the same data; prints wall time and peak RSS.

The file is the Go-written ``ldap-perf-v3.c1z`` (baton-ldap on SDK v0.25, default engine: 10,000
users, 500 groups, 11,050 grants) from the shared fixtures; its v1 twin is made with
``pybaton convert``. Each figure is a new CLI process listing every grant (JSON), and the grants of
one entitlement (``grants -e``): first with the read cache off (every read decodes the file), then
from the read cache (a repeated command on an unchanged file). Target: within 2x of v1.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ENTITLEMENT = "group:cn=group250,ou=groups,dc=example,dc=org:member"
PYBATON = [sys.executable, "-m", "pybaton.cli.main"]
# Runs a command and prints its wall time and peak RSS (the grandchild's, measured by this child).
_MEASURE = (
    "import resource, subprocess, sys, time\n"
    "t = time.perf_counter()\n"
    "p = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)\n"
    "e = time.perf_counter() - t\n"
    "if p.returncode: sys.exit(p.stderr[-500:])\n"
    "print(e, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)\n"
)


def find_fixture(given: str | None) -> Path:
    candidates = [Path(given)] if given else [REPO.parent / "shared" / "fixtures" / "ldap-perf-v3.c1z",
                                              REPO.parents[1] / "shared" / "fixtures" / "ldap-perf-v3.c1z"]
    for path in candidates:
        if path.exists():
            return path
    raise SystemExit(f"ldap-perf-v3.c1z not found (looked in {', '.join(map(str, candidates))}; give --file)")


def calibration() -> float:
    """A fixed pure-Python loop: compare figures across machines and loads by this."""
    started = time.perf_counter()
    total = 0
    for i in range(5_000_000):
        total += i % 7
    return time.perf_counter() - started


def measure(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    proc = subprocess.run([sys.executable, "-c", _MEASURE, *PYBATON, *args], capture_output=True, text=True,
                          env=env, check=False)
    if proc.returncode:
        raise SystemExit(f"pybaton {' '.join(args)} failed: {proc.stderr.strip()}")
    wall, rss = proc.stdout.split()
    return float(wall), float(rss)


def best(args: list[str], env: dict[str, str], runs: int) -> tuple[float, float]:
    results = [measure(args, env) for _ in range(runs)]
    return min(r[0] for r in results), max(r[1] for r in results)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--file", help="the v3 file (default: ldap-perf-v3.c1z of the shared fixtures)")
    ap.add_argument("--runs", type=int, default=3)
    opts = ap.parse_args()
    v3 = find_fixture(opts.file)
    print(f"calibration (fixed pure-Python loop): {calibration():.2f} s")
    with tempfile.TemporaryDirectory() as tmp:
        v1 = Path(tmp) / "ldap-perf-v1.c1z"
        subprocess.run([*PYBATON, "convert", str(v3), str(v1)], check=True, capture_output=True)
        cold = {**os.environ, "PYBATON_C1Z_CACHE": "0"}
        cached = {**os.environ, "PYBATON_CACHE_DIR": str(Path(tmp) / "cache")}
        print(f"{v3.name}: {v3.stat().st_size / 1e6:.2f} MB (v3) / {v1.stat().st_size / 1e6:.2f} MB (v1 twin)")
        cases = [("all grants (JSON), no cache", ["-o", "json", "grants"], cold),
                 ("grants -e ENT (JSON), no cache", ["-o", "json", "grants", "-e", ENTITLEMENT], cold),
                 ("grants -e ENT (JSON), read cache", ["-o", "json", "grants", "-e", ENTITLEMENT], cached)]
        for label, args, env in cases:
            if env is cached:
                for path in (v1, v3):  # the first read fills the cache
                    measure(["-f", str(path), *args], env)
            v3_wall, v3_rss = best(["-f", str(v3), *args], env, opts.runs)
            v1_wall, v1_rss = best(["-f", str(v1), *args], env, opts.runs)
            print(f"{label}: v3 {v3_wall:.2f} s / {v3_rss:.0f} MB, v1 {v1_wall:.2f} s / {v1_rss:.0f} MB, "
                  f"v3/v1 {v3_wall / v1_wall:.2f}x   [target <= 2x]")


if __name__ == "__main__":
    main()
