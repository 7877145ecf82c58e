"""The fleet: a fleet of I/O-bound syncs on 4 worker processes versus 1, and the enqueue → start overhead.

Each system is the ``scale`` connector with 2,000 users, 200 groups and 20,000 grants, every call delayed
by ``--latency-ms 50`` (I/O bound, like a real API). Redis and PostgreSQL (the warehouse every sync is
loaded into) are started here; the workers are ``pybaton fleet worker -c 1`` processes.

1. SYSTEMS systems (default 64) synced by 1 worker process, then (fresh data, fresh warehouse) by 4:
   wall time of ``fleet sync --all --wait`` each, and the ratio. Target: 4 workers ≤ 1/3 of 1 worker's time.
2. Enqueue → start of a task sent to an idle worker, 20 times: median. Target ≤ 50 ms.

Usage: python bench/bench_fleet.py [--systems N] [--latency-ms MS]   (--systems 0: the overhead only)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).parent))

from bench_warehouse import calibration

from pybaton.testing.servers import PostgresServer, RedisServer

PYBATON = [sys.executable, "-m", "pybaton.cli"]

OVERHEAD_CHILD = """
import json, sys
from pybaton.fleet.client import FleetClient
from pybaton.reconcile.workspace import load_workspace
path, system, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
client = FleetClient(load_workspace(path))
waits = []
for _ in range(count):
    outcome = client.wait(client.enqueue_syncs([system]))[system]
    waits.append(outcome["wait"])
print(json.dumps(waits))
"""


def scale(seed: int, latency_ms: int, users: int = 2000, groups: int = 200, grants: int = 20000) -> dict[str, Any]:
    return {"connector": "scale", "config": {"users": users, "groups": groups, "grants": grants, "depth": 3,
                                             "apps": 10, "latency_ms": latency_ms, "seed": seed}}


class Run:
    """One workspace (its own data dir, Redis database and warehouse) and its workers."""

    def __init__(self, root: Path, redis: RedisServer, pg: PostgresServer, db: int,
                 systems: dict[str, Any]) -> None:
        root.mkdir(parents=True)
        name = f"bench_fleet_{db}"
        pg.create_database(name)
        self.env = {**os.environ, "BENCH_BROKER_URL": redis.url(db), "BENCH_WAREHOUSE_URL": pg.dsn(name)}
        spec = {"data_dir": "data", "systems": {"hr": {"connector": "demo", "identity_provider": True,
                                                        "config": {"data_dir": str(root / "hr-db")}}, **systems},
                "warehouse": {"url_env": "BENCH_WAREHOUSE_URL"},
                "fleet": {"broker_url_env": "BENCH_BROKER_URL", "visibility_timeout": "2h"}}
        self.path = root / "pybaton.yaml"
        self.path.write_text(yaml.safe_dump(spec))
        self.workers: list[subprocess.Popen[bytes]] = []

    def start_workers(self, count: int) -> None:
        for i in range(count):
            log = (self.path.parent / f"worker{i}.log").open("wb")
            self.workers.append(subprocess.Popen(
                [*PYBATON, "fleet", "worker", "-w", str(self.path), "-c", "1", "-n", f"bench{i}@%h"],
                stdout=log, stderr=subprocess.STDOUT, env=self.env, start_new_session=True))

    def sync(self, *names: str) -> float:
        started = time.perf_counter()
        args = list(names) or ["--all"]
        proc = subprocess.run([*PYBATON, "fleet", "sync", *args, "--wait", "-w", str(self.path)],
                              capture_output=True, text=True, env=self.env)
        if proc.returncode != 0:
            raise SystemExit(f"fleet sync failed:\n{proc.stdout}\n{proc.stderr}")
        return time.perf_counter() - started

    def enqueue_one_by_one(self, system: str, count: int) -> list[float]:
        """From one client (a scheduler, a `fleet sync`), send ``count`` tasks, each after the last ended;
        the enqueue → start delay of each, as the worker measured it."""
        proc = subprocess.run([sys.executable, "-c", OVERHEAD_CHILD, str(self.path), system, str(count)],
                              capture_output=True, text=True, env=self.env)
        if proc.returncode != 0:
            raise SystemExit(f"overhead run failed:\n{proc.stderr}")
        return [float(w) for w in json.loads(proc.stdout)]

    def stop(self) -> None:
        for proc in self.workers:
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.workers:
            proc.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--systems", type=int, default=64)
    parser.add_argument("--latency-ms", type=int, default=50)
    args = parser.parse_args()
    print(f"calibration: pure-Python loop of 10M steps {calibration():.2f} s")
    root = Path(tempfile.mkdtemp(prefix="bench-fleet-"))
    systems = {f"scale{i}": scale(i, args.latency_ms) for i in range(args.systems)}
    try:
        with RedisServer() as redis, PostgresServer() as pg:
            seconds = {}
            for db, workers in ((1, 1), (2, 4)) if args.systems else ():
                run = Run(root / f"w{workers}", redis, pg, db, systems)
                run.start_workers(workers)
                try:
                    run.sync("hr")  # workers up and the warehouse created before the clock starts
                    seconds[workers] = run.sync()
                finally:
                    run.stop()
                print(f"fleet of {args.systems} scale systems (2,000 users, 200 groups, 20,000 grants, "
                      f"--latency-ms {args.latency_ms}), {workers} worker process(es) of concurrency 1: "
                      f"{seconds[workers]:.1f} s", flush=True)
            if seconds:
                ratio = seconds[4] / seconds[1]
                print(f"4 workers / 1 worker: {ratio:.2f} (target <= 0.33: {'met' if ratio <= 1 / 3 else 'NOT met'})")

            tiny = {"tiny": scale(0, 0, users=10, groups=2, grants=10)}
            run = Run(root / "overhead", redis, pg, 3, tiny)
            run.start_workers(4)
            try:
                run.sync("tiny")  # the workers are up
                waits = run.enqueue_one_by_one("tiny", 20)
            finally:
                run.stop()
            median_ms = statistics.median(waits) * 1000
            print(f"enqueue -> start, idle workers, median of {len(waits)}: {median_ms:.0f} ms "
                  f"(target <= 50 ms: {'met' if median_ms <= 50 else 'NOT met'})")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
