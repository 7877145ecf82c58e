"""The access warehouse: loads into SQLite and PostgreSQL, and cross-system queries, next to the issue's targets.

1. Load one system of 1,000,000 grants (10k users, 1k groups) into SQLite and into PostgreSQL, each in a
   fresh child process (wall time, peak RSS).
2. Load SYSTEMS systems (default 20) of GRANTS_PER_SYSTEM grants (default 500k: 10M in all) into
   PostgreSQL, two loads at a time; the same into SQLite (one writer) for the query figures.
3. With those loaded: ``access --person`` (median over 25 people, 20 accounts each) and ``who-has`` on an
   entitlement held by 5,000 users in each system (100k holders with 20 systems), server time, both backends.
4. A reload of the 1M-grant system while ``who-has`` queries run: the slowest query and any failure.

Usage: python bench/bench_warehouse.py [--systems N] [--grants-per-system N] [--skip-fleet]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from bench_write import _build_and_write

from pybaton.testing.servers import PostgresServer

LOAD_CHILD = """
import json, resource, sys, time
from pathlib import Path
from pybaton.warehouse import Warehouse
url, system, path = sys.argv[1:4]
started = time.perf_counter()
with Warehouse.open(url) as wh:
    result = wh.load(system, Path(path))
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"seconds": time.perf_counter() - started, "grants": result.grants,
                  "cpu_seconds": usage.ru_utime + usage.ru_stime, "peak_rss_mb": usage.ru_maxrss / 1024}))
"""


def calibration() -> float:
    """A fixed pure-Python loop: how fast this machine is right now (quote it with the figures)."""
    started = time.perf_counter()
    total = 0
    for i in range(10_000_000):
        total += i % 7
    return time.perf_counter() - started


def write_file(path: Path, users: int, groups: int, grants: int) -> None:
    ctx = mp.get_context("spawn")
    queue: mp.Queue = ctx.Queue()  # type: ignore[type-arg]
    proc = ctx.Process(target=_build_and_write, args=(str(path), users, groups, grants, queue))
    proc.start()
    queue.get()
    proc.join()


def load_in_child(url: str, system: str, path: Path) -> dict[str, float]:
    proc = subprocess.run([sys.executable, "-c", LOAD_CHILD, url, system, str(path)], capture_output=True,
                          text=True)
    if proc.returncode != 0:
        raise SystemExit(f"load failed: {proc.stderr[-2000:]}")
    figures: dict[str, float] = json.loads(proc.stdout)
    return figures


def correlate(url: str, idp: str) -> None:
    """People from the first system (as identity provider), linked by email in every system."""
    from pybaton.identity import CorrelationSettings, SystemAccounts, correlate, read_accounts
    from pybaton.warehouse import Warehouse

    with Warehouse.open(url) as wh:
        with wh.stored_syncs() as stored:
            parts = [SystemAccounts(name, list(read_accounts(reader, name)), name == idp)
                     for name, reader in stored.items()]
            sync_ids = {name: reader.sync_id for name, reader in stored.items()}
        wh.store_correlation(correlate(parts, CorrelationSettings(rules=["email"])), sync_ids)


def query_figures(url: str, label: str) -> None:
    from pybaton.warehouse import Warehouse

    with Warehouse.open(url) as wh:
        times = []
        rows = 0
        for i in range(25):
            started = time.perf_counter()
            _, entries = wh.person_access(f"user{i * 397 % 10_000}@example.com")
            times.append(time.perf_counter() - started)
            rows = len(entries)
        print(f"  access --person on {label}: median {statistics.median(times) * 1000:.1f} ms "
              f"({rows} grants in {len(wh.syncs())} systems)   [target <= 50 ms]")
        started = time.perf_counter()
        holders = wh.who_has("group:g00000:member")
        print(f"  who-has on {label}: {time.perf_counter() - started:.2f} s for {len(holders):,} holders   "
              f"[target <= 1 s for 100k]")


def reload_while_querying(url: str, label: str, path: Path, system: str) -> None:
    """Reload ``system`` from another sync while who-has runs in a loop; the slowest query and any failure."""
    from pybaton.warehouse import Warehouse

    stop = threading.Event()
    slowest = 0.0
    failures: list[str] = []
    count = 0

    def ask() -> None:
        nonlocal slowest, count
        with Warehouse.open(url) as wh:
            while not stop.is_set():
                started = time.perf_counter()
                try:
                    wh.who_has("group:g00500:member", system=system)
                except Exception as exc:  # a failure is a figure here
                    failures.append(str(exc))
                slowest = max(slowest, time.perf_counter() - started)
                count += 1

    thread = threading.Thread(target=ask)
    thread.start()
    figures = load_in_child(url, system, path)
    stop.set()
    thread.join()
    print(f"  reload of {figures['grants']:,.0f} grants on {label} ({figures['seconds']:.1f} s) while querying: "
          f"{count} who-has queries, slowest {slowest * 1000:.0f} ms, {len(failures)} failed   "
          "[target: never blocked or broken]", flush=True)


def big_loads(pg: PostgresServer, root: Path) -> None:
    """One 1M-grant system into each backend, then a reload of it while queries run."""
    big, big2 = root / "big.c1z", root / "big2.c1z"
    write_file(big, 10_000, 1_000, 1_000_000)
    sqlite_url = str(root / "warehouse.sqlite")
    pg.create_database("bench")
    pg_url = str(pg.dsn("bench"))
    for label, url in (("SQLite", sqlite_url), ("PostgreSQL", pg_url)):
        figures = load_in_child(url, "big", big)
        target = "15 s" if label == "SQLite" else "20 s"
        print(f"load 1,000,000 grants into {label}: {figures['seconds']:.1f} s (CPU of the loader "
              f"{figures['cpu_seconds']:.1f} s), peak RSS {figures['peak_rss_mb']:.0f} MB   "
              f"[target <= {target}, <= 500 MB]", flush=True)
    write_file(big2, 10_000, 1_000, 1_000_000)  # another sync of the same shape: a reload
    for label, url in (("SQLite", sqlite_url), ("PostgreSQL", pg_url)):
        reload_while_querying(url, label, big2, "big")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--systems", type=int, default=20)
    ap.add_argument("--grants-per-system", type=int, default=500_000)
    ap.add_argument("--skip-fleet", action="store_true", help="only the 1M-grant loads")
    ap.add_argument("--skip-big", action="store_true", help="only the systems of the fleet and the queries")
    args = ap.parse_args()
    print(f"calibration: pure-Python loop of 10M steps {calibration():.2f} s; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (wall times stretch with it)")
    with PostgresServer() as pg, tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if not args.skip_big:
            big_loads(pg, root)
        if args.skip_fleet:
            return
        fleet = root / "fleet.c1z"
        write_file(fleet, 10_000, 100, args.grants_per_system)
        names = [f"s{i:02d}" for i in range(args.systems)]
        total = args.systems * args.grants_per_system
        pg.create_database("fleet")
        fleet_pg = str(pg.dsn("fleet"))
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=2) as pool:
            peak = max(f["peak_rss_mb"] for f in pool.map(lambda n: load_in_child(fleet_pg, n, fleet), names))
        print(f"load {args.systems} systems, {total:,} grants into PostgreSQL: {time.perf_counter() - started:.0f} s, "
              f"peak RSS per load {peak:.0f} MB   [target <= 300 s for 20 systems, 10M grants]")
        fleet_sqlite = str(root / "fleet.sqlite")
        started = time.perf_counter()
        for name in names:
            load_in_child(fleet_sqlite, name, fleet)
        print(f"load {args.systems} systems, {total:,} grants into SQLite: {time.perf_counter() - started:.0f} s   "
              "[no target]")
        for label, url in (("SQLite", fleet_sqlite), ("PostgreSQL", fleet_pg)):
            correlate(url, names[0])
            query_figures(url, label)


if __name__ == "__main__":
    main()
