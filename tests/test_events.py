"""``pybaton events``: the demo connector's event feed (Baton's ListEvents) from its change log."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from google.protobuf import json_format

from pybaton.connector import EventFeed
from pybaton.connectors.demo import DemoConfig, DemoConnector
from pybaton.pb.c1.connector.v2 import event_feed_pb2


def demo(data_dir: Path) -> DemoConnector:
    return DemoConnector(DemoConfig(data_dir=data_dir))  # type: ignore[call-arg]


def change(data_dir: Path, *statements: str) -> None:
    db = sqlite3.connect(data_dir / "acme.sqlite")
    with db:
        for sql in statements:
            db.execute(sql)
    db.close()


GRANT = ("insert into access (resource_type, resource_id, slug, principal_type, principal_id) "
         "values ('group', 'engineering', 'member', 'user', 'alan.milner')")
REVOKE = "delete from access where resource_type = 'group' and resource_id = 'engineering' and principal_id = 'alan.milner'"
RENAME = "update groups set display_name = 'Eng' where id = 'engineering'"


def test_feed_pages_grant_revoke_and_change_events(tmp_path: Path) -> None:
    connector = demo(tmp_path / "acme")
    try:
        assert isinstance(connector, EventFeed)
        head = connector.syncers()[0].current_cursor()  # type: ignore[attr-defined]
        change(tmp_path / "acme", GRANT, REVOKE, RENAME)
        page = connector.list_events(head, page_size=2)
        assert page.has_more and len(page.events) == 2
        rest = connector.list_events(page.cursor, page_size=10)
        assert not rest.has_more
        events = [*page.events, *rest.events]
        kinds = [e.WhichOneof("event") for e in events]
        assert kinds == ["grant_event", "revoke_event", "resource_change_event"]
        assert events[0].grant_event.grant.id == "group:engineering:member:user:alan.milner"
        assert events[1].revoke_event.entitlement.id == "group:engineering:member"
        assert events[-1].resource_change_event.resource_id.resource == "engineering"
        assert [int(e.id) for e in events] == sorted(int(e.id) for e in events)
        assert connector.list_events(rest.cursor).events == []
    finally:
        connector.close()


def _pybaton(*args: str) -> list[str]:
    return [str(Path(sys.executable).parent / "pybaton"), *args]


def test_cli_lists_json_lines_and_the_cursor(tmp_path: Path, cli: Any) -> None:
    data = tmp_path / "acme"
    demo(data).close()
    first = cli("events", "demo", "--data-dir", data, "--log-level", "warn", "--limit", "1")
    assert first.code == 0 and len(first.out.splitlines()) == 1
    cursor = first.err.strip().splitlines()[-1].removeprefix("cursor: ")
    everything = cli("events", "demo", "--data-dir", data, "--log-level", "warn")
    head = everything.err.strip().splitlines()[-1].removeprefix("cursor: ")
    change(data, GRANT, REVOKE)
    result = cli("events", "demo", "--data-dir", data, "--log-level", "warn", "--cursor", head, "-o", "json")
    assert result.code == 0, result.err
    parsed = [json_format.ParseDict(json.loads(line), event_feed_pb2.Event()) for line in result.out.splitlines()]
    assert [e.WhichOneof("event") for e in parsed] == ["grant_event", "revoke_event"]
    assert parsed[1].revoke_event.principal.id.resource == "alan.milner"
    assert int(cursor) < int(head)


def test_follow_prints_new_events_as_they_happen(tmp_path: Path) -> None:
    data = tmp_path / "acme"
    connector = demo(data)
    head = connector.syncers()[0].current_cursor()  # type: ignore[attr-defined]
    connector.close()
    env = {**os.environ, "BATON_LOG_LEVEL": "warn"}
    proc = subprocess.Popen(_pybaton("events", "demo", "--data-dir", str(data), "--cursor", head, "--follow",
                                     "--interval", "0.2", "--limit", "2"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        time.sleep(1.0)
        assert proc.poll() is None  # waiting for events
        change(data, RENAME)
        change(data, GRANT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    lines = out.splitlines()
    assert "change  group:engineering" in lines[0] and "grant   group:engineering:member -> user:alan.milner" in lines[1]


def test_connector_without_feed_is_one_line(tmp_path: Path, cli: Any) -> None:
    result = cli("events", "scale", "--users", "5", "--groups", "2", "--grants", "3")
    assert result.code == 1
    assert result.err.strip() == "error: pybaton events: the scale connector has no event feed"
