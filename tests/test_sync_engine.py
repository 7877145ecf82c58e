"""The sync engine end to end: counts, retries, page-token loops, workers, kill -9 and resume, integrity."""

from __future__ import annotations

import io
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from connector_toys import USER, GroupSyncer, Toy, ToyConfig, UserSyncer, toy

from pybaton import model
from pybaton.connector import Connector, ConnectorMetadata, Page, PageToken, ResourceSyncer
from pybaton.errors import FatalError, NotFoundError, RateLimitedError, RetryableError
from pybaton.pb.c1.connector.v2 import grant_pb2, resource_pb2
from pybaton.runtime.runner import execute
from pybaton.sync import RetryPolicy, SyncOptions, SyncResult, sync
from pybaton.testing import ConnectorWalk, Fault, inject_faults, snapshot

FAST_RETRY = RetryPolicy(attempts=4, base_delay=0.001, max_delay=0.01)


def quiet_sync(connector: Connector[Any], path: Path, **options: Any) -> SyncResult:
    options.setdefault("retry", FAST_RETRY)
    return sync(connector, path, SyncOptions(**options))


def scale_class() -> type[Connector[Any]]:
    mod = pytest.importorskip("pybaton.connectors.scale")
    cls: type[Connector[Any]] = mod.ScaleConnector
    return cls


def demo_class() -> type[Connector[Any]]:
    mod = pytest.importorskip("pybaton.connectors.demo")
    cls: type[Connector[Any]] = mod.DemoConnector
    return cls


def listed_ids(connector: Connector[Any]) -> dict[str, set[str]]:
    walk = ConnectorWalk(connector, page_size=50)
    assert not walk.problems
    return walk.ids


# -- counts --------------------------------------------------------------------------------------

def test_toy_counts_match_what_the_connector_lists(tmp_path: Path) -> None:
    connector = toy(users=23, groups=4)
    result = quiet_sync(connector, tmp_path / "toy.c1z", page_size=5, expand=False)
    assert {k: result.stats[k] for k in ("resources", "entitlements", "grants")} == connector.expected_counts()
    assert {k: set(v) for k, v in snapshot(result.path).ids.items()} == listed_ids(connector)
    assert result.stats["resources_by_resource_type"] == {"group": 4, "user": 23}
    assert not result.integrity and not result.resumed


@pytest.mark.parametrize("name", ["demo", "scale"])
def test_builtin_counts_match_what_the_connector_lists(tmp_path: Path, name: str) -> None:
    if name == "demo":
        cls = demo_class()
        connector = cls(cls.config_class(data_dir=tmp_path / "demo-data"))
    else:
        cls = scale_class()
        connector = cls(cls.config_class(users=300, groups=30, grants=900, apps=3, depth=3))
    result = quiet_sync(connector, tmp_path / f"{name}.c1z", expand=False, workers=2)
    stored = snapshot(result.path).ids
    assert {k: set(v) for k, v in stored.items()} == listed_ids(connector)
    assert result.stats["grants"] == len(stored["grants"]) and not result.integrity
    connector.close()


# -- retries -------------------------------------------------------------------------------------

def test_retries_injected_faults_until_success(tmp_path: Path) -> None:
    connector, faults = inject_faults(
        toy(users=12, groups=3),
        Fault("list", RetryableError, times=2, resource_type="user"),
        Fault("list", RetryableError, times=1, resource_type="user", page_token="5"),
        Fault("grants", lambda: RateLimitedError(retry_after=0.01), times=2),
        Fault("entitlements", RetryableError, times=1, resource_type="group"),
        Fault("validate", RetryableError, times=0),
    )
    result = quiet_sync(connector, tmp_path / "t.c1z", page_size=5, expand=False, workers=2)
    assert faults.exhausted and faults.raised_count == 6
    assert {k: result.stats[k] for k in ("resources", "entitlements", "grants")} == \
        toy(users=12, groups=3).expected_counts()


def test_gives_up_after_the_retry_budget_naming_the_call(tmp_path: Path) -> None:
    connector, _ = inject_faults(toy(), Fault("grants", RetryableError, times=100, resource_type="group"))
    with pytest.raises(FatalError, match=r"grants of group:g0: gave up after 4 attempts"):
        quiet_sync(connector, tmp_path / "t.c1z", expand=False)


def test_not_found_skips_that_resource_only(tmp_path: Path) -> None:
    connector, faults = inject_faults(toy(users=9, groups=3),
                                      Fault("grants", NotFoundError, times=1, resource_type="group"))
    result = quiet_sync(connector, tmp_path / "t.c1z", expand=False)
    assert faults.exhausted
    assert result.stats["grants"] == 9 - 3  # the first group's three members were "gone"


# -- page tokens ---------------------------------------------------------------------------------

class LoopingUsers(UserSyncer):
    """Returns the same next-page token forever: a classic connector bug."""

    def list(self, parent: resource_pb2.ResourceId | None, page: PageToken) -> Page[resource_pb2.Resource]:
        return Page([model.resource(USER, "u0", "User 0")], "same-token")


class Looping(Toy):
    metadata = ConnectorMetadata("looping", "Looping toy")

    def syncers(self) -> Sequence[ResourceSyncer]:
        return [LoopingUsers(self.config)]


def test_repeated_page_token_fails_cleanly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    started = time.monotonic()
    with pytest.raises(FatalError, match=r"listing user: the connector returned page token 'same-token' twice"):
        quiet_sync(Looping(ToyConfig()), tmp_path / "loop.c1z")
    capsys.readouterr()  # only the standalone command's stderr is under test
    code = execute(Looping, ["-f", str(tmp_path / "loop2.c1z"), "--log-level", "error"], env={}, out=io.StringIO())
    err = capsys.readouterr().err.strip()
    assert code == 1 and "\n" not in err and "twice" in err
    assert time.monotonic() - started < 10


# -- integrity -----------------------------------------------------------------------------------

class DanglingGroups(GroupSyncer):
    """Grants to a user that was never listed, and of an entitlement that does not exist."""

    def grants(self, resource: resource_pb2.Resource, page: PageToken) -> Page[grant_pb2.Grant]:
        good = super().grants(resource, page)
        ghost = model.grant(model.entitlement_ref(resource, "member"), model.resource_id("user", "ghost"))
        nowhere = model.grant(model.entitlement_ref(resource, "owner"), model.resource_id("user", "u0"))
        return Page([*good.items, ghost, nowhere], good.next_token)


class Dangling(Toy):
    metadata = ConnectorMetadata("dangling", "Dangling toy")

    def syncers(self) -> Sequence[ResourceSyncer]:
        return [UserSyncer(self.config), DanglingGroups(self.config)]


def test_integrity_violations_are_reported(tmp_path: Path) -> None:
    result = quiet_sync(Dangling(ToyConfig(users=4, groups=2)), tmp_path / "d.c1z", expand=False)
    kinds = {v.kind: v for v in result.integrity}
    assert kinds["grant_without_principal"].count == 2
    assert "group:g0:member:user:ghost" in kinds["grant_without_principal"].examples
    assert kinds["grant_without_entitlement"].count == 2


def test_runner_summary_shows_integrity_warnings(tmp_path: Path) -> None:
    out = io.StringIO()
    code = execute(Dangling, ["-f", str(tmp_path / "d.c1z"), "--log-level", "error", "--users", "4",
                              "--groups", "2"], env={}, out=out)
    assert code == 0
    assert "warning: 2 grants whose principal was not listed" in out.getvalue()


# -- interruption --------------------------------------------------------------------------------

def test_keyboard_interrupt_then_resume_gives_the_same_ids(tmp_path: Path) -> None:
    expected = snapshot(quiet_sync(toy(users=40, groups=5), tmp_path / "full.c1z", page_size=3,
                                   expand=False).path)
    connector, _ = inject_faults(toy(users=40, groups=5), Fault("grants", KeyboardInterrupt, skip=2))
    path = tmp_path / "cut.c1z"
    with pytest.raises(KeyboardInterrupt):
        quiet_sync(connector, path, page_size=3, expand=False, checkpoint_seconds=0)
    assert not path.exists() and (tmp_path / "cut.c1z.wip").is_dir()
    result = quiet_sync(toy(users=40, groups=5), path, page_size=3, expand=False)
    assert result.resumed
    assert snapshot(path) == expected


# -- workers -------------------------------------------------------------------------------------

def timed_scale_sync(tmp_path: Path, workers: int) -> float:
    cls = scale_class()
    connector = cls(cls.config_class(users=200, groups=60, grants=600, apps=4, latency_ms=25))
    started = time.monotonic()
    quiet_sync(connector, tmp_path / f"w{workers}.c1z", workers=workers, expand=False)
    return time.monotonic() - started


def test_four_workers_are_faster_than_one_on_a_slow_api(tmp_path: Path) -> None:
    one = timed_scale_sync(tmp_path, 1)
    four = timed_scale_sync(tmp_path, 4)
    assert one / four >= 1.5, f"1 worker {one:.2f}s, 4 workers {four:.2f}s"


# -- kill -9 -------------------------------------------------------------------------------------

SCALE_ARGS = ["--users", "3000", "--groups", "300", "--grants", "30000", "--apps", "5", "--latency-ms", "3"]


def scale_command(path: Path) -> list[str]:
    code = "from pybaton.connectors.scale import ScaleConnector; from pybaton.connector import run; run(ScaleConnector)"
    return [sys.executable, "-c", code, "-f", str(path), "--log-level", "error", *SCALE_ARGS]


def run_and_kill(cmd: list[str], after: float) -> bool:
    """Start ``cmd``, SIGKILL it after ``after`` seconds; False if it had already finished."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        proc.wait(timeout=after)
        return False
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        return True


@pytest.mark.slow
def test_kill_9_at_random_points_then_resume_equals_uninterrupted_run(tmp_path: Path) -> None:
    reference = tmp_path / "reference.c1z"
    started = time.monotonic()
    subprocess.run(scale_command(reference), check=True, timeout=300)
    duration = time.monotonic() - started
    expected = snapshot(reference)
    rng = random.Random(int(os.environ.get("PYBATON_KILL_SEED", "7")))
    kills = 0
    for point in range(3):
        path = tmp_path / f"killed-{point}.c1z"
        kills += run_and_kill(scale_command(path), rng.uniform(0.3, 0.9) * duration)
        final = subprocess.run(scale_command(path), capture_output=True, text=True, timeout=300)
        assert final.returncode == 0, final.stderr
        assert snapshot(path) == expected
    assert kills >= 2, "the sync finished before it could be killed; make the scale data bigger"


def test_same_ids_in_two_runs_of_scale(tmp_path: Path) -> None:
    cls = scale_class()
    make: Callable[[], Connector[Any]] = lambda: cls(cls.config_class(users=100, groups=10, grants=200))  # noqa: E731
    first = snapshot(quiet_sync(make(), tmp_path / "a.c1z").path)
    second = snapshot(quiet_sync(make(), tmp_path / "b.c1z").path)
    assert first == second and first.ids["grants"]



class SizeRecordingUsers(UserSyncer):
    """Records the page size the engine asks for on each list call."""

    sizes: list[int]

    def list(self, parent: resource_pb2.ResourceId | None, page: PageToken) -> Page[resource_pb2.Resource]:
        self.sizes.append(page.size)
        return super().list(parent, page)


class PrefersLargePages(Toy):
    preferred_page_size = 40

    def syncers(self) -> Sequence[ResourceSyncer]:
        users = SizeRecordingUsers(self.config)
        users.sizes = self.sizes
        return [users, GroupSyncer(self.config)]

    def __init__(self, config: ToyConfig) -> None:
        super().__init__(config)
        self.sizes: list[int] = []


@pytest.mark.parametrize(("cls", "given", "asked"), [
    (PrefersLargePages, None, 40),   # no --page-size: the connector's preference
    (PrefersLargePages, 7, 7),       # an explicit --page-size always wins
])
def test_page_size_is_the_operators_else_the_connectors(tmp_path: Path, cls: type[PrefersLargePages],
                                                        given: int | None, asked: int) -> None:
    connector = cls(ToyConfig(users=100, groups=2))
    result = quiet_sync(connector, tmp_path / "out.c1z", page_size=given)
    assert set(connector.sizes) == {asked}
    assert len(connector.sizes) == -(-100 // asked)
    assert result.stats["resources"] == 102


def test_without_a_preference_the_default_page_is_batons_100() -> None:
    assert SyncOptions().page_size_for(None) == 100
    assert SyncOptions().page_size_for(5000) == 5000
    assert SyncOptions(page_size=100).page_size_for(5000) == 100
