"""Expansion inside the sync engine: same result as expanding afterwards, and resume after ``kill -9``."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from pybaton.c1z import C1ZFile
from pybaton.sync.engine import sync
from pybaton.sync.expand import expand_file
from pybaton.sync.options import SyncOptions


def scale(**config: Any) -> Any:
    mod = pytest.importorskip("pybaton.connectors.scale")
    return mod.ScaleConnector(mod.ScaleConfig(**config))


def latest_grants(path: Path) -> dict[str, bytes]:
    with C1ZFile.open(path) as c1z:
        run = c1z.resolve_sync()
        return dict(c1z.conn.execute("select external_id, data from v1_grants where sync_id = ?", (run.sync_id,)))


def test_engine_expansion_equals_expanding_afterwards(tmp_path: Path) -> None:
    config = {"users": 300, "groups": 40, "depth": 4, "grants": 1500, "apps": 3}
    sync(scale(**config), tmp_path / "engine.c1z", SyncOptions())
    sync(scale(**config), tmp_path / "later.c1z", SyncOptions(expand=False))
    stats = expand_file(tmp_path / "later.c1z")
    assert stats.derived > 0
    assert latest_grants(tmp_path / "engine.c1z") == latest_grants(tmp_path / "later.c1z")


_CHILD = textwrap.dedent("""
    import logging, sys
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    import pybaton.sync.expand as expand
    expand.COMMIT_SECONDS = 0.2
    from pybaton.connectors.scale import ScaleConfig, ScaleConnector
    from pybaton.sync.engine import sync
    from pybaton.sync.options import SyncOptions
    config = ScaleConfig(users=20000, groups=2000, depth=5, grants=200000, apps=5)
    sync(ScaleConnector(config), sys.argv[1], SyncOptions())
""")


@pytest.mark.slow
def test_kill_during_expansion_resumes_to_the_same_file(tmp_path: Path) -> None:
    pytest.importorskip("pybaton.connectors.scale")
    clean, killed = tmp_path / "clean.c1z", tmp_path / "killed.c1z"
    subprocess.run([sys.executable, "-c", _CHILD, str(clean)], check=True, capture_output=True)
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(killed)], stderr=subprocess.PIPE, text=True)
    assert child.stderr is not None
    for line in child.stderr:
        if "sync phase: grant expansion" in line:
            break
    time.sleep(1.0)
    child.kill()  # SIGKILL: no cleanup, no flush
    child.wait()
    assert not killed.exists() and (tmp_path / "killed.c1z.wip").exists()
    subprocess.run([sys.executable, "-c", _CHILD, str(killed)], check=True, capture_output=True)
    assert latest_grants(killed) == latest_grants(clean)
