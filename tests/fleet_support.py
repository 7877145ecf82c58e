"""What the fleet tests share: a workspace of many systems, and ``pybaton fleet worker`` processes.

:class:`Workers` starts each worker as its own process group (``pybaton fleet
worker`` and its pool process), with its output in a log file, and kills one
the way a lost host goes: ``kill -9`` of the whole group, by its id.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml

from pybaton.testing.servers import PostgresServer, RedisServer, SlapdServer

BASE = "dc=example,dc=org"
FAST_FLEET = {"broker_url_env": "FLEET_BROKER_URL", "visibility_timeout": "8s", "lease": "3s",
              "retries": {"max": 2, "backoff": "1s"}}


def scale_system(users: int = 40, latency_ms: int = 0, **extra: Any) -> dict[str, Any]:
    return {"connector": "scale", "config": {"users": users, "groups": 8, "depth": 2, "grants": users * 3,
                                             "apps": 2, "latency_ms": latency_ms, **extra}}


def ldap_tree(slapd: SlapdServer, sfx: str, people: int) -> str:
    """An LDAP subtree of its own with a few people; its DN."""
    tree = f"ou=fleet{sfx},{BASE}"
    ldif = [f"dn: {tree}\nobjectClass: organizationalUnit\nou: fleet{sfx}\n"]
    for i in range(people):
        ldif.append(f"dn: uid=p{i}{sfx},{tree}\nobjectClass: inetOrgPerson\nuid: p{i}{sfx}\ncn: Person {i}\n"
                    f"sn: {i}\nmail: p{i}.{sfx}@example.org\n")
    slapd.ldapadd("\n".join(ldif))
    return tree


def company(root: Path, slapd: SlapdServer, pg: PostgresServer, *, demo: int = 8, scale: int = 12,
            bad_pg_password: bool = False, **fleet: Any) -> dict[str, Any]:
    """24 systems by default: demo (one is the identity provider), scale, two LDAP subtrees, two PostgreSQL."""
    sfx = uuid.uuid4().hex[:6]
    os.environ["FLEET_LDAP_PASSWORD"] = slapd.bind_password
    os.environ["FLEET_PG_DSN"] = pg.dsn()
    os.environ["FLEET_PG_BAD_DSN"] = pg.dsn(password="not-the-password")
    systems: dict[str, Any] = {"hr": {"connector": "demo", "identity_provider": True,
                                      "config": {"data_dir": str(root / "demo-hr")}}}
    systems |= {f"demo{i}": {"connector": "demo", "config": {"data_dir": str(root / f"demo-{i}")}}
                for i in range(1, demo)}
    systems |= {f"scale{i}": scale_system(seed=i) for i in range(scale)}
    for i in range(2):
        systems[f"ldap{i}"] = {"connector": "ldap", "config": {
            "url": slapd.url, "base_dn": ldap_tree(slapd, f"{sfx}{i}", 3 + i), "bind_dn": slapd.bind_dn,
            "password_env": "FLEET_LDAP_PASSWORD"}}
        dsn = "FLEET_PG_BAD_DSN" if bad_pg_password and i == 1 else "FLEET_PG_DSN"
        systems[f"pg{i}"] = {"connector": "postgres", "config": {"dsn_env": dsn, "databases": ["postgres"]}}
    return {"data_dir": "data", "identity": {"rules": ["email", "login"]}, "systems": systems,
            "warehouse": {"url_env": "FLEET_WAREHOUSE_URL"}, "fleet": {**FAST_FLEET, **fleet}}


def write_workspace(root: Path, spec: dict[str, Any]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    path = root / "pybaton.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def new_database(pg: PostgresServer) -> str:
    name = f"fleet_{uuid.uuid4().hex[:10]}"
    pg.create_database(name)
    return pg.dsn(name)


class Workers:
    """``pybaton fleet worker`` processes on one workspace, each named ``wN@fleet``."""

    def __init__(self, workspace: Path, redis: RedisServer, env: dict[str, str]) -> None:
        self.workspace = workspace
        self.redis = redis
        self.env = {**os.environ, **env}
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, count: int, *extra: str) -> None:
        for _ in range(count):
            name = f"w{len(self.procs)}@fleet"
            log = (self.workspace.parent / f"{name}.log").open("ab")
            self.procs[name] = subprocess.Popen(
                [sys.executable, "-m", "pybaton.cli", "fleet", "worker", "-w", str(self.workspace), "-n", name,
                 "-c", "1", *extra],
                stdout=log, stderr=subprocess.STDOUT, env=self.env, start_new_session=True)
            log.close()

    def kill(self, name: str) -> None:
        """``kill -9`` of the worker and its pool process (its process group), as a lost host."""
        proc = self.procs[name]
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)

    def logs(self, tail: int = 4000) -> str:
        """The workers' output (the last ``tail`` characters of each; 0: all of it)."""
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-tail:]}"
                         for p in sorted(self.workspace.parent.glob("w*@fleet.log")))

    def logged(self, *parts: str) -> bool:
        """True when one line of the workers' output holds every one of ``parts``."""
        return any(all(part in line for part in parts) for line in self.logs(0).splitlines())


def wait_for(check: Callable[[], Any], timeout: float, what: str, workers: Workers | None = None) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    logs = f"\n{workers.logs()}" if workers is not None else ""
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}{logs}")


def warehouse_rows(url: str) -> dict[str, set[tuple[Any, ...]]]:
    """What the warehouse says of the current syncs: resources, grants, accounts (sync ids left out)."""
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    queries = {
        "resources": "select s.name, r.resource_type_id, r.resource_id from resources r join syncs y "
                     "on y.sync_pk = r.sync_pk join systems s on s.system_id = y.system_id where y.is_current",
        "grants": "select s.name, g.grant_id, g.is_direct from grants g join syncs y on y.sync_pk = g.sync_pk "
                  "join systems s on s.system_id = y.system_id where y.is_current",
        "accounts": "select system, resource_type_id, resource_id, identity_id, match from accounts",
    }
    try:
        with engine.connect() as conn:
            return {k: {tuple(row) for row in conn.execute(sa.text(q))} for k, q in queries.items()}
    finally:
        engine.dispose()


def syncs_per_system(url: str) -> dict[str, int]:
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("select s.name, count(*) from syncs y join systems s "
                                        "on s.system_id = y.system_id group by s.name"))
            return {name: int(n) for name, n in rows}
    finally:
        engine.dispose()


def history(redis_url: str, system: str) -> list[dict[str, Any]]:
    import redis

    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        return [json.loads(x) for x in client.lrange(f"pybaton:fleet:history:{system}", 0, -1)]
    finally:
        client.close()


def outcomes_by_system(lines: Iterator[str]) -> dict[str, str]:
    return dict(line.split(": ", 1) for line in lines if ": " in line)
