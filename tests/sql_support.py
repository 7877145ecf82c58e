"""Helpers shared by the SQL meta-connector tests: paths, syncing, reading the result."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.json_format import MessageToDict

from pybaton.c1z import C1ZFile, SyncReader
from pybaton.connectors.sql import SqlConnector, SqlConnectorConfig
from pybaton.pb.registry import ensure_registered
from pybaton.sync import SyncOptions, SyncResult, sync

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples" / "sql"
CONFORMANCE = REPO / ".." / "shared" / "conformance" / "baton-sql"
FIXTURES = REPO / "tests" / "fixtures"


def conformance_file(name: str) -> Path:
    """A file of the shared conformance inputs, or a skip saying they are not beside this checkout."""
    path = CONFORMANCE / name
    if not path.exists():
        pytest.skip(f"conformance input {path} is absent (shared/ is not next to this checkout)")
    return path


def connector(config: Path, **extra: Any) -> SqlConnector:
    return SqlConnector(SqlConnectorConfig.model_validate({"config": str(config), **extra}))


def run_sync(config: Path, out: Path, monkeypatch: pytest.MonkeyPatch, env: Mapping[str, str]) -> SyncResult:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    conn = connector(config)
    try:
        return sync(conn, out, SyncOptions())
    finally:
        conn.close()


def reader(path: Path) -> SyncReader:
    ensure_registered()
    return SyncReader.of(C1ZFile.open(path))


def as_dict(message: Any) -> dict[str, Any]:
    ensure_registered()
    return dict(json.loads(json.dumps(MessageToDict(message))))


def trait(resource: Any) -> dict[str, Any]:
    """The resource's single trait annotation as a dict (without @type)."""
    for annotation in as_dict(resource).get("annotations", []):
        if annotation["@type"].endswith("Trait"):
            return {k: v for k, v in annotation.items() if k != "@type"}
    return {}
