"""What the provisioning tests share: a demo world on disk and a way to run ``pybaton`` in-process.

A :class:`DemoWorld` is one demo database plus one ``.c1z`` (and its audit log)
under a temp directory. Its checks read every place a secret could leak to or a
duplicate row could hide in: the demo's own SQLite file, the packed and the
decompressed ``.c1z``, the audit log.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pybaton.c1z import C1ZFile, SyncReader
from pybaton.cli.main import run
from pybaton.connectors.demo import DemoStore


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def error_lines(self) -> list[str]:
        """stderr without log records (which start with a timestamp)."""
        return [ln for ln in self.err.splitlines() if ln.strip() and not ln[:4].isdigit()]


Cli = Callable[..., Result]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Iterator[Cli]:
    """Run ``pybaton ARGS…`` in this process; restore logging afterwards (the runner installs a handler)."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level

    def invoke(*args: str | Path) -> Result:
        capsys.readouterr()
        code = run([str(a) for a in args])
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    yield invoke
    root.handlers[:] = handlers
    root.setLevel(level)


class DemoWorld:
    """A demo database and a ``.c1z`` of it, with the flags every command needs."""

    def __init__(self, tmp_path: Path, cli: Cli) -> None:
        self.dir = tmp_path
        self.data_dir = tmp_path / "demo-data"
        self.c1z = tmp_path / "acme.c1z"
        self.audit = tmp_path / "acme.c1z.audit.jsonl"
        self._cli = cli

    @property
    def flags(self) -> list[str]:
        return ["--data-dir", str(self.data_dir), "-f", str(self.c1z)]

    def run(self, command: str, *args: str, connector: str = "demo") -> Result:
        return self._cli(command, connector, *args, *self.flags)

    def sync(self) -> None:
        result = self.run("sync")
        assert result.code == 0, result.err

    # -- what the system holds -------------------------------------------------------------

    def db_rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        conn = sqlite3.connect(self.data_dir / "acme.sqlite")
        try:
            return list(conn.execute(sql, params))
        finally:
            conn.close()

    def db_dump(self) -> list[str]:
        """Every row of the demo database, to compare before and after a dry run."""
        conn = sqlite3.connect(self.data_dir / "acme.sqlite")
        try:
            return list(conn.iterdump())
        finally:
            conn.close()

    def access_rows(self, resource_type: str, resource_id: str, slug: str, principal: str) -> int:
        ptype, pid = principal.split(":", 1)
        return len(self.db_rows("select 1 from access where resource_type = ? and resource_id = ? and slug = ? "
                                "and principal_type = ? and principal_id = ?",
                                (resource_type, resource_id, slug, ptype, pid)))

    def store(self) -> DemoStore:
        return DemoStore.open(self.data_dir)

    # -- what the .c1z holds ---------------------------------------------------------------

    def grant_rows(self, grant_id: str) -> int:
        """Rows with this grant id in the latest full sync."""
        with C1ZFile.open(self.c1z) as c1z:
            reader = SyncReader.of(c1z)
            return int(c1z.conn.execute("select count(*) from v1_grants where sync_id = ? and external_id = ?",
                                        (reader.sync_id, grant_id)).fetchone()[0])

    def has_resource(self, resource_type: str, resource_id: str) -> bool:
        with C1ZFile.open(self.c1z) as c1z:
            return SyncReader.of(c1z).resource(resource_type, resource_id) is not None

    def c1z_bytes(self) -> bytes:
        """The packed file and the SQLite database inside it."""
        with C1ZFile.open(self.c1z) as c1z:
            return self.c1z.read_bytes() + c1z.db_path.read_bytes()

    def audit_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.audit.read_text().splitlines()]


@pytest.fixture
def world(tmp_path: Path, cli: Cli) -> DemoWorld:
    """A freshly seeded demo, synced once."""
    w = DemoWorld(tmp_path, cli)
    w.sync()
    return w
