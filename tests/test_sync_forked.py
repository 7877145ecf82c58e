"""Grant scans in a forked child (pybaton.sync.forked): same file as in-process, errors and a dead child."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from pybaton.c1z import C1ZFile
from pybaton.connector import Connector, Page, PageToken
from pybaton.connectors.scale import ScaleConnector
from pybaton.connectors.scale.connector import GroupSyncer, ScaleConfig, ScaleSyncer
from pybaton.errors import FatalError, UserError
from pybaton.pb.c1.connector.v2 import grant_pb2, resource_pb2
from pybaton.sync import SyncOptions, forked, sync

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")

CONFIG = {"users": 400, "groups": 40, "depth": 3, "grants": 3000, "apps": 3}


def rows(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every stored row of the latest run, all columns but the run's id and timestamps, in row-id order."""
    tables = ("v1_resource_types", "v1_resources", "v1_entitlements", "v1_grants")
    with C1ZFile.open(path) as c1z:
        sync_id = c1z.resolve_sync(sync_type=None).sync_id
        out = {}
        for table in tables:
            cur = c1z.conn.execute(f"select * from {table} where sync_id = ? order by id", (sync_id,))
            keep = [i for i, d in enumerate(cur.description) if d[0] not in ("sync_id", "discovered_at")]
            out[table] = [tuple(row[i] for i in keep) for row in cur]
    return out


def scale_sync(path: Path, monkeypatch: pytest.MonkeyPatch, fork: bool, connector: ScaleConnector | None = None,
               **options: Any) -> None:
    monkeypatch.setenv("PYBATON_FORK_SCAN", "1" if fork else "0")
    options.setdefault("page_size", 7)
    sync(connector or ScaleConnector(ScaleConfig(**CONFIG)), path, SyncOptions(**options))


def test_the_forked_scan_stores_exactly_what_the_in_process_scan_stores(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    scale_sync(tmp_path / "in.c1z", monkeypatch, fork=False)
    scale_sync(tmp_path / "forked.c1z", monkeypatch, fork=True)
    expected = rows(tmp_path / "in.c1z")
    assert len(expected["v1_grants"]) > CONFIG["grants"]  # expansion ran on top of the direct grants
    assert rows(tmp_path / "forked.c1z") == expected


def test_the_switch_and_the_connectors_declaration_decide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYBATON_FORK_SCAN", "0")
    assert not forked.available()
    monkeypatch.setenv("PYBATON_FORK_SCAN", "1")
    assert forked.available()
    monkeypatch.setattr(multiprocessing.current_process(), "daemon", True)  # a pool's worker may not fork
    assert not forked.available()
    monkeypatch.undo()
    assert ScaleConnector.fork_safe and not Connector.fork_safe  # declared by scale; off by default


class FailingGroups(GroupSyncer):
    """Group ``g5``'s grants call ``fail`` on their second page; other groups list normally."""

    fail: Callable[[], None]

    def grants(self, resource: resource_pb2.Resource, page: PageToken) -> Page[grant_pb2.Grant]:
        if resource.id.resource == "g5" and page.token:
            self.fail()
        return super().grants(resource, page)


class Failing(ScaleConnector):
    def __init__(self, config: ScaleConfig, fail: Callable[[], None]) -> None:
        super().__init__(config)
        groups = FailingGroups(config.to_model(), 0)
        groups.fail = fail
        self._failing: list[ScaleSyncer] = [s if s.resource_type.id != "group" else groups
                                             for s in super().syncers()]

    def syncers(self) -> Sequence[ScaleSyncer]:
        return self._failing


def refuse() -> None:
    raise UserError("the system said no")


def die() -> None:
    """The child process ends abruptly (a crash, an OOM kill)."""
    os._exit(3)


# A refusal is sent after the pages before it (kept, as in-process); a dying child loses what it had not sent
# yet (how much it had sent depends on timing).
@pytest.mark.parametrize(("fail", "raised", "message", "kept"), [
    (refuse, UserError, "the system said no", True),
    (die, FatalError, "child process died", False),
])
def test_a_failure_in_the_child_reaches_the_caller_and_the_run_resumes_to_the_same_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fail: Callable[[], None], raised: type[Exception],
        message: str, kept: bool) -> None:
    scale_sync(tmp_path / "ref.c1z", monkeypatch, fork=False)
    path = tmp_path / "cut.c1z"
    config = ScaleConfig(**CONFIG)
    with pytest.raises(raised, match=message):
        scale_sync(path, monkeypatch, fork=True, connector=Failing(config, fail), checkpoint_seconds=0)
    assert not path.exists() and (tmp_path / "cut.c1z.wip").is_dir()
    with contextlib.closing(sqlite3.connect(tmp_path / "cut.c1z.wip" / "db.sqlite")) as conn:
        assert conn.execute("select count(*) from v1_grants").fetchone()[0] > 0 or not kept
    scale_sync(path, monkeypatch, fork=True)
    assert rows(path) == rows(tmp_path / "ref.c1z")  # row ids too: no page was stored twice
