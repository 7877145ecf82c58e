"""The fleet's parts against a real Redis: settings, system locks and leases, outcomes, rate limits, retries."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from fleet_support import FAST_FLEET, scale_system, write_workspace

from pybaton.errors import AuthenticationError, ConfigError, RetryableError
from pybaton.fleet.artifacts import DirectoryStore
from pybaton.fleet.coordination import Coordinator, connect
from pybaton.fleet.settings import fleet_settings
from pybaton.fleet.work import FleetContext, FleetTaskError, RetryLater, TaskRef, is_retryable, sync_system
from pybaton.reconcile.workspace import load_workspace
from pybaton.sync.retry import SyncCallError
from pybaton.testing.servers import RedisServer

pytestmark = [pytest.mark.servers, pytest.mark.xdist_group("fleet")]


def _workspace(tmp_path: Path, **fleet: Any) -> Path:
    spec = {"systems": {"hr": {"connector": "demo", "identity_provider": True,
                               "config": {"data_dir": str(tmp_path / "hr-db")}},
                        "app": scale_system()},
            "fleet": {**FAST_FLEET, **fleet}}
    return write_workspace(tmp_path / "ws", spec)


@pytest.fixture
def coordinator(redis_server: RedisServer) -> Coordinator:
    return Coordinator(connect(redis_server.url(15)))


def test_settings_per_system_over_the_defaults_and_errors_with_the_line(tmp_path: Path) -> None:
    ws = load_workspace(_workspace(tmp_path, defaults={"queue": "zone-a"},
                                   systems={"app": {"every": "15m", "rate_limit": 5, "queue": "zone-b"}}))
    settings = fleet_settings(ws)
    assert settings.schedule("app").every == 900 and settings.schedule("app").queue == "zone-b"
    assert settings.schedule("hr").queue == "zone-a" and settings.schedule("hr").every is None
    assert settings.visibility_timeout == 8 and settings.lease == 3
    with pytest.raises(ConfigError, match=r"pybaton.yaml:\d+: fleet.systems.nope: no system 'nope'"):
        fleet_settings(load_workspace(_workspace(tmp_path, systems={"nope": {"every": "1m"}})))
    with pytest.raises(ConfigError, match="lease must be at most half the visibility_timeout"):
        fleet_settings(load_workspace(_workspace(tmp_path, lease="1h")))
    with pytest.raises(ConfigError, match=r"fleet.systems.app.every.*duration"):
        fleet_settings(load_workspace(_workspace(tmp_path, systems={"app": {"every": "often"}})))


def test_a_system_lock_admits_one_task_and_its_lease_outlives_the_ttl_only_while_renewed(
        coordinator: Coordinator) -> None:
    system = f"s{uuid.uuid4().hex[:6]}"
    lease = coordinator.acquire(system, "task-1", slots=1, lease=0.6)
    assert lease is not None
    assert coordinator.acquire(system, "task-2", slots=1, lease=0.6) is None
    with lease.renewing():
        time.sleep(1.5)  # well past the lease: renewed every 0.2s
        assert lease.held() and coordinator.holders(system, 1) == ["task-1"]
        assert coordinator.acquire(system, "task-2", slots=1, lease=0.6) is None
    assert coordinator.acquire(system, "task-2", slots=1, lease=0.6) is not None  # released at the end

    dead = coordinator.acquire(f"{system}x", "task-3", slots=1, lease=0.5)  # a worker that dies: no renewal
    assert dead is not None and coordinator.acquire(f"{system}x", "task-4", slots=1, lease=0.5) is None
    time.sleep(0.7)
    assert coordinator.acquire(f"{system}x", "task-4", slots=1, lease=0.5) is not None
    assert not dead.held()


def test_concurrency_two_admits_two_tasks_at_once(coordinator: Coordinator) -> None:
    system = f"s{uuid.uuid4().hex[:6]}"
    held = [coordinator.acquire(system, f"t{i}", slots=2, lease=5) for i in range(3)]
    assert held[0] is not None and held[1] is not None and held[2] is None


def test_a_shared_rate_limit_holds_every_worker_to_the_budget(coordinator: Coordinator) -> None:
    system = f"s{uuid.uuid4().hex[:6]}"
    calls: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(5):
            while (wait := coordinator.take_call(system, 10)) > 0:
                time.sleep(wait)
            with lock:
                calls.append(time.time())

    threads = [threading.Thread(target=worker) for _ in range(4)]  # 20 calls at 10/s from 4 "workers"
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    per_second: dict[int, int] = {}
    for at in calls:
        per_second[int(at)] = per_second.get(int(at), 0) + 1
    assert len(calls) == 20 and max(per_second.values()) <= 10
    assert len(per_second) >= 2  # 20 calls cannot fit in one second's budget


def test_an_artifact_appears_whole_and_publishing_it_again_is_a_no_op(tmp_path: Path) -> None:
    source = tmp_path / "x.c1z"
    source.write_bytes(b"C1ZF\0" + b"x" * 100_000)
    store = DirectoryStore(tmp_path / "artifacts")
    where = store.publish("app", "SYNC1", source)
    assert Path(where).read_bytes() == source.read_bytes()
    source.write_bytes(b"changed")
    assert store.publish("app", "SYNC1", source) == where and Path(where).stat().st_size == 100_005
    assert [p.name for p in (tmp_path / "artifacts" / "app").iterdir()] == ["SYNC1.c1z"]


def test_retryable_errors_are_found_through_the_engine_wrapping_them() -> None:
    try:
        try:
            raise RetryableError("503")
        except RetryableError as exc:
            raise SyncCallError("list users: gave up after 6 attempts") from exc
    except SyncCallError as wrapped:
        assert is_retryable(wrapped)
    assert not is_retryable(SyncCallError("list users: boom"))
    assert not is_retryable(AuthenticationError("bad password"))


def test_a_retryable_failure_retries_with_backoff_then_fails_and_a_fatal_one_fails_at_once(
        tmp_path: Path, redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """The connector's fault is injected (a real server cannot be made to fail on cue here)."""
    monkeypatch.setenv("FLEET_BROKER_URL", redis_server.url(14))
    ctx = FleetContext.load(str(_workspace(tmp_path, retries={"max": 2, "backoff": "1s"})))
    errors: list[Exception] = [RetryableError("503 from the API"), RetryableError("503 again"),
                               RetryableError("still 503"), AuthenticationError("bad password")]

    def failing_sync(*args: Any, **kwargs: Any) -> Any:
        raise errors.pop(0)

    monkeypatch.setattr("pybaton.fleet.work.run_sync", failing_sync)
    task_id = str(uuid.uuid4())
    delays = []
    for attempt in range(2):
        with pytest.raises(RetryLater) as later:
            sync_system(ctx, TaskRef(task_id, "w@test", attempt), "app", None)
        delays.append(later.value.countdown)
        assert ctx.coordinator.status("app")["state"] == "retrying"
    assert delays == [1.0, 2.0]  # backoff * 2**n (capped at a third of the visibility timeout)
    with pytest.raises(FleetTaskError, match="still 503"):
        sync_system(ctx, TaskRef(task_id, "w@test", 2), "app", None)
    assert ctx.coordinator.outcome(task_id)["attempts"] == 3  # type: ignore[index]
    # delivered again after the end: the recorded outcome, no new attempt
    assert sync_system(ctx, TaskRef(task_id, "w@test", 0), "app", None)["ok"] is False
    assert len(errors) == 1

    other = str(uuid.uuid4())
    with pytest.raises(FleetTaskError, match="bad password"):
        sync_system(ctx, TaskRef(other, "w@test", 0), "hr", None)
    assert ctx.coordinator.status("hr")["state"] == "failed"
    assert ctx.coordinator.outcome(other)["attempts"] == 1  # type: ignore[index]
