"""What the reconcile tests share: a workspace directory on disk, written from Python dicts.

A :class:`WorkspaceDir` holds ``pybaton.yaml`` and ``policy.yaml``; tests change
either and run ``pybaton`` against it in-process (the ``cli`` fixture) or as a
subprocess (for ``kill -9``). :func:`demo_pair` is the smallest real setup: the
demo company twice, once as the identity provider (``hr``) and once as an app.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from provision_helpers import Cli, Result


class WorkspaceDir:
    def __init__(self, root: Path, workspace: dict[str, Any], policy: dict[str, Any], cli: Cli | None = None) -> None:
        self.root = root
        self.path = root / "pybaton.yaml"
        self.policy_path = root / "policy.yaml"
        self.workspace = {"policies": ["policy.yaml"], **workspace}
        self.policy = policy
        self._cli = cli
        root.mkdir(parents=True, exist_ok=True)
        self.write()

    @property
    def data_dir(self) -> Path:
        return self.root / str(self.workspace.get("data_dir", "data"))

    def write(self) -> None:
        self.path.write_text(yaml.safe_dump(self.workspace, sort_keys=False))
        self.policy_path.write_text(yaml.safe_dump(self.policy, sort_keys=False))

    def run(self, command: str, *args: str | Path) -> Result:
        """``pybaton COMMAND -w pybaton.yaml ARGS`` in this process."""
        assert self._cli is not None
        if command == "workspace":
            return self._cli(command, *args, "-w", self.path)
        return self._cli(command, "-w", self.path, *args)

    def pybaton(self, *args: str | Path) -> Result:
        """Any ``pybaton`` command, as given (no ``-w``)."""
        assert self._cli is not None
        return self._cli(*args)

    def ok(self, command: str, *args: str | Path) -> Result:
        result = self.run(command, *args)
        assert result.code == 0, f"pybaton {command} {' '.join(map(str, args))} exited {result.code}\n" \
                                 f"{result.out}\n{result.err}"
        return result

    def plan(self) -> dict[str, Any]:
        doc: dict[str, Any] = json.loads(self.ok("plan", "-o", "json").out)
        return doc

    def reconcile(self, *args: str) -> str:
        """One cycle with provisioning on; its summary line."""
        out = self.ok("reconcile", "--once", "-p", "--verbose", *args).out
        return [line for line in out.splitlines() if " reconcile" in line][-1]

    def subprocess(self, *args: str | Path) -> subprocess.Popen[str]:
        argv = [sys.executable, "-c", "from pybaton.cli.main import main; main()", *map(str, args), "-w", str(self.path)]
        return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=self.root)


def demo_pair(root: Path, policy: dict[str, Any], cli: Cli | None = None, **workspace: Any) -> WorkspaceDir:
    """HR (the demo company as identity provider) and an app (a second demo database)."""
    base: dict[str, Any] = {
        "data_dir": "data",
        "identity": {"rules": ["email", "login"], "service_accounts": {"patterns": ["^svc-"]}},
        "brake": {"max_revocations": 50, "max_percent": 50},
        "systems": {
            "hr": {"connector": "demo", "identity_provider": True, "config": {"data_dir": "hr-db"}},
            "app": {"connector": "demo", "config": {"data_dir": "app-db"},
                    "account_profile": {"display_name": "{display_name}", "department": "{department}"}},
        },
    }
    base.update(workspace)
    return WorkspaceDir(root, base, policy, cli)


def demo_rows(data_dir: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(data_dir / "acme.sqlite")
    try:
        return list(conn.execute(sql, params))
    finally:
        conn.close()


def demo_dump(data_dir: Path) -> list[str]:
    conn = sqlite3.connect(data_dir / "acme.sqlite")
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def holds(data_dir: Path, resource_type: str, resource_id: str, slug: str, principal: str) -> bool:
    ptype, pid = principal.split(":", 1)
    return bool(demo_rows(data_dir, "select 1 from access where resource_type = ? and resource_id = ? and slug = ? "
                                    "and principal_type = ? and principal_id = ?",
                          (resource_type, resource_id, slug, ptype, pid)))


def audit(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
