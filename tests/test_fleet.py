"""The fleet with real processes: Redis and PostgreSQL started by the suite, three ``pybaton fleet worker``s.

Every test here shares one xdist group (``fleet``), so they run one after the
other on one pytest worker and share its servers; the systems are kept small
(the point is the delivery guarantees, not the sync engine's speed).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis as redis_lib
from fleet_support import (
    FAST_FLEET,
    Workers,
    company,
    history,
    new_database,
    scale_system,
    syncs_per_system,
    wait_for,
    warehouse_rows,
    write_workspace,
)
from provision_helpers import Cli

from pybaton.testing.servers import PostgresServer, RedisServer, SlapdServer, free_port

pytestmark = [pytest.mark.servers, pytest.mark.slow, pytest.mark.xdist_group("fleet")]



class Fleet:
    """A workspace, its broker database, its warehouse, and the workers serving it."""

    def __init__(self, root: Path, redis: RedisServer, pg: PostgresServer, spec: dict[str, Any], db: int) -> None:
        self.redis = redis
        self.redis_url = redis.url(db)
        self.warehouse = new_database(pg)
        self.env = {"FLEET_BROKER_URL": self.redis_url, "FLEET_WAREHOUSE_URL": self.warehouse}
        os.environ.update(self.env)
        self.root = root
        self.path = write_workspace(root / "ws", spec)
        self.workers = Workers(self.path, redis, self.env)

    def pybaton(self, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "pybaton.cli", *args, "-w", str(self.path)],
                              capture_output=True, text=True, timeout=timeout, env={**os.environ, **self.env})

    def status(self, system: str) -> dict[str, str]:
        client = redis_lib.Redis.from_url(self.redis_url, decode_responses=True)
        try:
            return dict(client.hgetall(f"pybaton:fleet:status:{system}"))  # type: ignore[arg-type]
        finally:
            client.close()


_db_counter = iter(range(1, 16))


@pytest.fixture
def make_fleet(tmp_path: Path, redis_server: RedisServer, postgres_server: PostgresServer,
               monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Build a fleet for a workspace spec (each on its own Redis database); workers stopped at the end."""
    made: list[Fleet] = []

    def make(spec: dict[str, Any]) -> Fleet:
        for key in ("FLEET_BROKER_URL", "FLEET_WAREHOUSE_URL"):
            monkeypatch.setenv(key, "")
        fleet = Fleet(tmp_path / f"fleet{len(made)}", redis_server, postgres_server, spec, next(_db_counter))
        made.append(fleet)
        return fleet

    yield make
    for fleet in made:
        fleet.workers.stop()


def _ok(proc: subprocess.CompletedProcess[str], fleet: Fleet) -> str:
    assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr}\n{fleet.workers.logs()}"
    return proc.stdout


def test_24_systems_on_3_workers_fill_the_warehouse_as_one_machine_does(
        make_fleet: Any, slapd_server: SlapdServer, postgres_server: PostgresServer, tmp_path: Path) -> None:
    spec = company(tmp_path / "systems", slapd_server, postgres_server)
    assert len(spec["systems"]) == 24
    fleet = make_fleet(spec)
    metrics_port = free_port()
    fleet.workers.start(1, "--metrics-port", str(metrics_port))
    fleet.workers.start(2)
    out = _ok(fleet.pybaton("fleet", "sync", "--all", "--wait", "--timeout", "200"), fleet)
    assert out.count(" ok ") == 24

    # each system synced exactly once, by the fleet's workers, spread over more than one of them
    workers = set()
    for name in spec["systems"]:
        (done,) = history(fleet.redis_url, name)
        assert done["ok"] and done["attempts"] == 1 and Path(done["artifact"]).is_file()
        workers.add(done["worker"])
    assert len(workers) > 1 and workers <= set(fleet.workers.procs)
    assert syncs_per_system(fleet.warehouse) == dict.fromkeys(spec["systems"], 1)

    # fleet status: every system ok, with its grants
    status = _ok(fleet.pybaton("fleet", "status", "-o", "json"), fleet)
    rows = {r["system"]: r for r in json.loads(status)["systems"]}
    assert {r["state"] for r in rows.values()} == {"ok"}
    assert int(rows["scale0"]["grants"]) > 0 and rows["scale0"]["last_error"] == ""

    # the metrics endpoint of the first worker counts what its pool process did
    text = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).read().decode()
    assert 'pybaton_fleet_syncs_total{outcome="ok"' in text and "pybaton_fleet_sync_seconds_bucket" in text

    # one machine: the same systems synced by `workspace sync` into a warehouse of their own
    alone = dict(spec, warehouse={"url_env": "ALONE_WAREHOUSE_URL"})
    alone.pop("fleet")
    alone_path = write_workspace(tmp_path / "alone", alone)
    alone_url = new_database(postgres_server)
    proc = subprocess.run([sys.executable, "-m", "pybaton.cli", "workspace", "sync", "-w", str(alone_path)],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "ALONE_WAREHOUSE_URL": alone_url})
    assert proc.returncode == 0, proc.stderr
    fleet_rows, alone_rows = warehouse_rows(fleet.warehouse), warehouse_rows(alone_url)
    for table in ("resources", "grants", "accounts"):
        assert fleet_rows[table] == alone_rows[table], table
    assert len(fleet_rows["grants"]) > 1000


def test_a_wrong_password_fails_alone_and_a_redis_restart_loses_nothing(
        make_fleet: Any, slapd_server: SlapdServer, postgres_server: PostgresServer, redis_server: RedisServer,
        tmp_path: Path) -> None:
    spec = company(tmp_path / "systems", slapd_server, postgres_server, bad_pg_password=True)
    spec["systems"]["scale0"] = scale_system(latency_ms=300)  # still running when Redis restarts
    fleet = make_fleet(spec)
    fleet.workers.start(3)
    run = subprocess.Popen([sys.executable, "-m", "pybaton.cli", "fleet", "sync", "--all", "--wait", "--timeout",
                            "240", "-w", str(fleet.path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, env={**os.environ, **fleet.env})
    wait_for(lambda: fleet.status("scale0").get("state") == "running", 120, "scale0 to start", fleet.workers)
    redis_server.restart(down_seconds=2)
    out, err = run.communicate(timeout=300)
    assert run.returncode == 1, f"{out}\n{err}\n{fleet.workers.logs()}"
    assert "Traceback" not in err and "still waiting" not in err, f"{out}\n{err}\n{fleet.workers.logs()}"
    assert [line.split()[:2] for line in out.splitlines() if line.startswith("pg1 ")] == [["pg1", "failed"]], out

    failed = [n for n in spec["systems"] if not history(fleet.redis_url, n)[0]["ok"]]
    assert failed == ["pg1"]
    (pg1,) = history(fleet.redis_url, "pg1")
    assert pg1["attempts"] == 1 and "authentication failed" in pg1["error"]  # not retried
    assert "not-the-password" not in pg1["error"] and "not-the-password" not in out + err
    assert fleet.status("pg1")["state"] == "failed" and "authentication failed" in fleet.status("pg1")["last_error"]
    for name in spec["systems"]:
        assert len([h for h in history(fleet.redis_url, name) if h["ok"]]) == (name != "pg1")
    assert syncs_per_system(fleet.warehouse) == {n: 1 for n in spec["systems"] if n != "pg1"}


def _slow_workspace(tmp_path: Path) -> dict[str, Any]:
    """An identity provider, four quick systems and one that syncs for ~18s on an idle machine: over twice the
    8s visibility timeout, so the broker's sweep (every 2s) surely redelivers it while it runs."""
    systems: dict[str, Any] = {"hr": {"connector": "demo", "identity_provider": True,
                                      "config": {"data_dir": str(tmp_path / "hr-db")}}}
    systems |= {f"quick{i}": scale_system(seed=i) for i in range(4)}
    systems["slow"] = scale_system(latency_ms=1200)
    return {"data_dir": "data", "systems": systems, "warehouse": {"url_env": "FLEET_WAREHOUSE_URL"},
            "fleet": FAST_FLEET}


def test_long_syncs_outlive_the_visibility_timeout_and_a_killed_worker_loses_nothing(
        make_fleet: Any, tmp_path: Path) -> None:
    spec = _slow_workspace(tmp_path)
    fleet = make_fleet(spec)
    fleet.workers.start(3)

    # 1. the slow sync (~18s) outlives the broker's visibility timeout (8s): delivered twice, run once
    _ok(fleet.pybaton("fleet", "sync", "slow", "--wait", "--timeout", "120"), fleet)
    wait_for(lambda: fleet.workers.logged("system=slow", "already finished (delivered again)"), 60,
             "the second delivery of the slow sync to be recognised", fleet.workers)
    (done,) = history(fleet.redis_url, "slow")
    assert done["ok"]
    assert syncs_per_system(fleet.warehouse) == {"slow": 1}

    # 2. kill -9 of the worker running the slow sync: another worker finishes it, once
    run = subprocess.Popen([sys.executable, "-m", "pybaton.cli", "fleet", "sync", "--all", "--wait", "--timeout",
                            "240", "-w", str(fleet.path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, env={**os.environ, **fleet.env})
    wait_for(lambda: fleet.status("slow").get("state") == "running", 60, "the slow sync to start",
             fleet.workers)
    victim = fleet.status("slow")["worker"]
    time.sleep(7)  # past the first checkpoint (every 5s)
    fleet.workers.kill(victim)
    out, err = run.communicate(timeout=300)
    assert run.returncode == 0, f"{out}\n{err}\n{fleet.workers.logs()}"
    slow = history(fleet.redis_url, "slow")
    assert len(slow) == 2 and slow[0]["ok"] and slow[0]["worker"] != victim
    for name in spec["systems"]:
        assert len(history(fleet.redis_url, name)) == (2 if name == "slow" else 1), name
    assert syncs_per_system(fleet.warehouse) == {**dict.fromkeys(spec["systems"], 1), "slow": 2}
    artifacts = sorted(p.name for p in (fleet.path.parent / "data" / "artifacts" / "slow").iterdir())
    assert artifacts == sorted(f"{h['sync_id']}.c1z" for h in slow)  # no temp file left behind


def test_fleet_reconcile_converges_like_reconcile_once(
        make_fleet: Any, tmp_path: Path, cli: Cli, slapd_server: SlapdServer, postgres_server: PostgresServer,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from test_reconcile_servers import Company

    world = Company(tmp_path / "company", cli, slapd_server, postgres_server, monkeypatch)
    try:
        spec = dict(world.ws.workspace, warehouse={"url_env": "FLEET_WAREHOUSE_URL"}, fleet=FAST_FLEET)
        fleet = make_fleet(spec)
        shutil.copy(world.ws.policy_path, fleet.path.parent / "policy.yaml")
        world.ws.root = fleet.path.parent  # the demo database is looked for beside the workspace
        fleet.workers.start(3)
        first = _ok(fleet.pybaton("fleet", "reconcile", "-p"), fleet).strip().splitlines()[-1]
        assert "drift 2, fixed 2, failed 0, skipped by brake 0, remaining 0" in first, first
        ada = world.login("ada")
        assert world.members() == {ada, f"svc_{world.sfx}"}
        second = _ok(fleet.pybaton("fleet", "reconcile", "-p"), fleet).strip().splitlines()[-1]
        assert "drift 0, fixed 0" in second, second
    finally:
        world.cleanup()


def test_the_scheduler_enqueues_each_system_on_its_every(make_fleet: Any, tmp_path: Path) -> None:
    spec = {"data_dir": "data", "systems": {
        "hr": {"connector": "demo", "identity_provider": True, "config": {"data_dir": str(tmp_path / "hr-db")}},
        "often": scale_system(users=5), "never": scale_system(users=5)},
        "warehouse": {"url_env": "FLEET_WAREHOUSE_URL"},
        "fleet": {**FAST_FLEET, "systems": {"often": {"every": "3s"}}}}
    fleet = make_fleet(spec)
    fleet.workers.start(1)
    beat = subprocess.Popen([sys.executable, "-m", "pybaton.cli", "fleet", "scheduler", "-w", str(fleet.path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, **fleet.env},
                            start_new_session=True)
    try:
        wait_for(lambda: len(history(fleet.redis_url, "often")) >= 2, 90, "two scheduled syncs of 'often'")
    finally:
        os.killpg(beat.pid, 9)
        beat.wait(timeout=30)
    assert all(h["ok"] for h in history(fleet.redis_url, "often"))
    assert history(fleet.redis_url, "never") == [] and history(fleet.redis_url, "hr") == []
