"""Helpers for the tests of the connectors to real systems (PostgreSQL, LDAP).

Both sync a connector into a ``.c1z`` and look at the result as plain sets,
compare it with what Go's connector found (the ``fixtures/*.json`` listings),
and check that a failing connection ends the command in one line without
leaving a ``.c1z`` behind.
"""

from __future__ import annotations

import io
import json
from contextlib import redirect_stderr
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pybaton.c1z import C1ZFile, SyncReader
from pybaton.c1z.expandable import expandable_grant
from pybaton.connector.base import Connector
from pybaton.pb.c1.connector.v2 import annotation_grant_pb2, entitlement_pb2, grant_pb2, resource_pb2
from pybaton.runtime.runner import execute
from pybaton.sync import SyncOptions, sync

FIXTURES = Path(__file__).parent / "fixtures"


@dataclass
class Synced:
    """Everything one sync stored, indexed the way the tests ask."""

    resources: dict[tuple[str, str], resource_pb2.Resource]
    entitlements: dict[str, entitlement_pb2.Entitlement]
    grants: dict[str, grant_pb2.Grant]
    stats: dict[str, Any]
    expansions: dict[str, annotation_grant_pb2.GrantExpandable | None]  # pending (unexpanded) GrantExpandable

    def ids(self, resource_type: str) -> set[str]:
        return {rid for rtype, rid in self.resources if rtype == resource_type}

    def holders(self, entitlement_id: str) -> set[tuple[str, str]]:
        return {(g.principal.id.resource_type, g.principal.id.resource) for g in self.grants.values()
                if g.entitlement.id == entitlement_id}

    def pairs(self) -> set[tuple[str, str]]:
        """``(entitlement id, principal id)`` of every grant (direct and expanded)."""
        return {(g.entitlement.id, g.principal.id.resource) for g in self.grants.values()}

    def expandable(self, grant_id: str) -> list[str]:
        """The entitlements a grant passes on to (sync with ``expand=False``: expansion consumes them)."""
        assert grant_id in self.grants, grant_id
        found = self.expansions.get(grant_id)
        return list(found.entitlement_ids) if found is not None else []


def sync_and_read(connector: Connector[Any], path: Path, **options: Any) -> Synced:
    """Sync ``connector`` (closing it afterwards) and read back the latest sync."""
    try:
        result = sync(connector, path, SyncOptions(**options))
    finally:
        connector.close()
    assert not result.integrity, [v.describe() for v in result.integrity]
    with C1ZFile.open(path) as c1z:
        reader = SyncReader.of(c1z)
        expansions = {row.grant_id: expandable_grant(row).expandable for row in reader.expansion_records()}
        return Synced({(r.id.resource_type, r.id.resource): r for r in reader.resources()},
                      {e.id: e for e in reader.entitlements()}, {g.id: g for g in reader.grants()},
                      result.stats, expansions)


def go_listing(name: str, command: str) -> list[dict[str, Any]]:
    """Rows of a Go ``baton -o json <command>`` listing kept next to the fixtures."""
    doc = json.loads((FIXTURES / f"{name}.{command}.json").read_text())
    key = {"resources": "resources", "grants": "grants", "entitlements": "entitlements"}[command]
    rows: list[dict[str, Any]] = doc[key]
    return rows


def run_command(connector_class: type[Connector[Any]], argv: list[str]) -> tuple[int, str]:
    """Run the connector's standard command in-process; its exit code and stderr."""
    err = io.StringIO()
    with redirect_stderr(err):
        code = execute(connector_class, argv, out=io.StringIO())
    return code, err.getvalue()


def assert_clean_failure(connector_class: type[Connector[Any]], argv: list[str], out: Path,
                         must_say: str, secret: str) -> str:
    """The command fails with exit 1 and one ``error:`` line naming ``must_say``, never ``secret``;
    no ``.c1z`` appears (the unfinished work stays in ``<file>.wip`` for a resume)."""
    code, err = run_command(connector_class, [*argv, "-f", str(out), "--log-level", "error"])
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 1, err
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert must_say in lines[0], lines[0]
    assert secret not in err
    assert not out.exists()
    return lines[0]
