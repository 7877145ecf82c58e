"""Our protobuf declarations read real Baton (Go) c1z files without loss.

For every v1 fixture written by Go Baton this parses each stored record with
pybaton.pb, checks that no field (nested, or inside an Any annotation) was left
unknown, and that ``json_format.MessageToDict`` gives exactly what the Go CLI
printed with ``baton -o json`` (which proves field names and enum names match).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import zstandard
from google.protobuf import descriptor_pool, json_format, message_factory
from google.protobuf.any_pb2 import Any as AnyPb
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.unknown_fields import UnknownFieldSet

from pybaton.pb.baton.v1 import outputs_pb2
from pybaton.pb.c1.connector.v2 import entitlement_pb2, grant_pb2, resource_pb2
from pybaton.pb.registry import ensure_registered

FIXTURES = Path(__file__).parent / "fixtures"
PB_DIR = Path(__file__).parents[1] / "src" / "pybaton" / "pb"
C1Z_V1_MAGIC = b"C1ZF\x00"
ANY_TYPE_URL_PREFIX = "type.googleapis.com/"


@dataclass(frozen=True)
class Table:
    """A v1 c1z table, the message stored in its data column and the CLI listing of it."""

    name: str
    message: type[Message]
    listing: str  # NAME.<listing>.json
    list_key: str  # top-level key in that JSON
    item_key: str  # key of the record inside each list item

    def key(self, msg: Any) -> str:
        if self.message is resource_pb2.Resource:
            return f"{msg.id.resource_type}/{msg.id.resource}"
        return str(msg.id)

    def json_key(self, obj: dict[str, Any]) -> str:
        if self.message is resource_pb2.Resource:
            return f"{obj['id']['resourceType']}/{obj['id']['resource']}"
        return str(obj["id"])


TABLES = [
    Table("v1_resource_types", resource_pb2.ResourceType, "resource-types", "resourceTypes", "resourceType"),
    Table("v1_resources", resource_pb2.Resource, "resources", "resources", "resource"),
    Table("v1_entitlements", entitlement_pb2.Entitlement, "entitlements", "entitlements", "entitlement"),
    Table("v1_grants", grant_pb2.Grant, "grants", "grants", "grant"),
]


# `baton -o json <command>` output files in fixtures/, by file-name suffix.
CLI_OUTPUTS: dict[str, type[Message]] = {
    "resource-types": outputs_pb2.ResourceTypeListOutput,
    "resources": outputs_pb2.ResourceListOutput,
    "principals": outputs_pb2.ResourceListOutput,
    "entitlements": outputs_pb2.EntitlementListOutput,
    "grants": outputs_pb2.GrantListOutput,
    "syncs": outputs_pb2.SyncListOutput,
    "diff": outputs_pb2.C1ZDiffOutput,
}


def cli_output_files() -> list[Path]:
    return sorted(p for p in FIXTURES.glob("*.json") if p.name.split(".")[-2] in CLI_OUTPUTS)


def v1_fixtures() -> list[Path]:
    """The fixtures in the v1 (zstd-compressed SQLite) format; others are skipped."""
    return sorted(p for p in FIXTURES.glob("*.c1z") if p.read_bytes()[:5] == C1Z_V1_MAGIC)


def open_c1z(path: Path, tmp_path: Path) -> sqlite3.Connection:
    raw = path.read_bytes()
    db = tmp_path / (path.stem + ".db")
    db.write_bytes(zstandard.ZstdDecompressor().decompressobj().decompress(raw[len(C1Z_V1_MAGIC) :]))
    return sqlite3.connect(db)


def sync_ids(conn: sqlite3.Connection) -> list[str]:
    """Sync ids, oldest first."""
    return [row[0] for row in conn.execute("SELECT sync_id FROM v1_sync_runs ORDER BY started_at, id")]


def read_table(conn: sqlite3.Connection, table: Table, sync_id: str) -> list[Any]:
    rows = conn.execute(f"SELECT data FROM {table.name} WHERE sync_id = ? ORDER BY id", (sync_id,))
    messages = []
    for (blob,) in rows:
        msg = table.message()
        msg.ParseFromString(blob)
        messages.append(msg)
    return messages


def unpack_any(any_msg: AnyPb) -> Message:
    """Decode an Any with the message type its URL names in the default pool (KeyError if unknown)."""
    descriptor = descriptor_pool.Default().FindMessageTypeByName(any_msg.TypeName())
    inner = message_factory.GetMessageClass(descriptor)()
    inner.ParseFromString(any_msg.value)
    return inner


def submessages(msg: Message) -> Iterator[tuple[str, Message]]:
    """Every set message-typed field value of msg (list items and map values too), with its name."""
    for field, value in msg.ListFields():
        if field.type != FieldDescriptor.TYPE_MESSAGE:
            continue
        if field.message_type.GetOptions().map_entry:
            if field.message_type.fields_by_name["value"].type == FieldDescriptor.TYPE_MESSAGE:
                for key, item in value.items():
                    yield f"{field.name}[{key!r}]", item
        elif field.is_repeated:
            for index, item in enumerate(value):
                yield f"{field.name}[{index}]", item
        else:
            yield field.name, value


def unknown_field_paths(msg: Message, path: str) -> Iterator[str]:
    """Paths of all messages in the tree (Any payloads included) that carry unknown fields."""
    if len(UnknownFieldSet(msg)):
        yield path
    if isinstance(msg, AnyPb):
        yield from unknown_field_paths(unpack_any(msg), f"{path}<{msg.TypeName()}>")
        return
    for name, child in submessages(msg):
        yield from unknown_field_paths(child, f"{path}.{name}")


def any_type_urls(msg: Message) -> Iterator[str]:
    """Type URLs of every Any in the tree (not looking inside the Any payloads)."""
    if isinstance(msg, AnyPb):
        yield msg.type_url
        return
    for _, child in submessages(msg):
        yield from any_type_urls(child)


def cli_listing(fixture: Path, table: Table, sync_index: int, sync_count: int) -> dict[str, Any] | None:
    """The Go CLI's JSON for one sync: NAME.<listing>.json is the latest, NAME.syncN.<listing>.json the N-th."""
    name = fixture.stem
    if sync_index == sync_count - 1:
        path = FIXTURES / f"{name}.{table.listing}.json"
    else:
        path = FIXTURES / f"{name}.sync{sync_index + 1}.{table.listing}.json"
    if not path.exists():
        return None
    items = json.loads(path.read_text())[table.list_key]
    return {table.json_key(item[table.item_key]): item[table.item_key] for item in items}


@pytest.fixture(scope="module", autouse=True)
def _registered() -> None:
    ensure_registered()


@pytest.fixture(params=v1_fixtures(), ids=lambda p: p.stem)
def c1z(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Path, sqlite3.Connection]]:
    conn = open_c1z(request.param, tmp_path)
    yield request.param, conn
    conn.close()


def test_there_are_v1_fixtures() -> None:
    assert len(v1_fixtures()) >= 5


@pytest.mark.parametrize("table", TABLES, ids=lambda t: t.name)
def test_records_have_no_unknown_fields(c1z: tuple[Path, sqlite3.Connection], table: Table) -> None:
    _, conn = c1z
    for sync_id in sync_ids(conn):
        for msg in read_table(conn, table, sync_id):
            path = f"{table.message.DESCRIPTOR.name}({table.key(msg)})"
            assert list(unknown_field_paths(msg, path)) == []


@pytest.mark.parametrize("table", TABLES, ids=lambda t: t.name)
def test_annotation_types_are_declared(c1z: tuple[Path, sqlite3.Connection], table: Table) -> None:
    _, conn = c1z
    pool = descriptor_pool.Default()
    urls = {
        url
        for sync_id in sync_ids(conn)
        for msg in read_table(conn, table, sync_id)
        for url in any_type_urls(msg)
    }
    for url in sorted(urls):
        assert url.startswith(ANY_TYPE_URL_PREFIX), url
        descriptor = pool.FindMessageTypeByName(url.removeprefix(ANY_TYPE_URL_PREFIX))
        assert descriptor.file.name.startswith(("c1/", "baton/")), url


@pytest.mark.parametrize("table", TABLES, ids=lambda t: t.name)
def test_json_matches_go_cli(c1z: tuple[Path, sqlite3.Connection], table: Table) -> None:
    fixture, conn = c1z
    syncs = sync_ids(conn)
    compared = 0
    for index, sync_id in enumerate(syncs):
        expected = cli_listing(fixture, table, index, len(syncs))
        if expected is None:
            continue
        actual = {table.key(msg): json_format.MessageToDict(msg) for msg in read_table(conn, table, sync_id)}
        assert actual.keys() == expected.keys()
        for key, value in actual.items():
            assert value == expected[key], key
        compared += 1
    if compared == 0:
        pytest.skip(f"no {table.listing} listing next to {fixture.name}")


@pytest.mark.parametrize("path", cli_output_files(), ids=lambda p: p.name)
def test_cli_json_round_trips_through_baton_v1_outputs(path: Path) -> None:
    """Every Go CLI JSON output parses strictly into baton.v1 and prints back identically."""
    expected = json.loads(path.read_text())
    msg = json_format.ParseDict(expected, CLI_OUTPUTS[path.name.split(".")[-2]]())
    assert json_format.MessageToDict(msg) == expected


def test_registry_imports_every_generated_module() -> None:
    """ensure_registered() alone (fresh interpreter) loads every generated *_pb2 module."""
    generated = sorted(
        "pybaton.pb." + ".".join(p.relative_to(PB_DIR).with_suffix("").parts)
        for p in PB_DIR.rglob("*_pb2.py")
    )
    assert len(generated) >= 40
    script = (
        "import sys\n"
        "from pybaton.pb.registry import ensure_registered\n"
        "ensure_registered()\n"
        "print('\\n'.join(sorted(m for m in sys.modules if m.startswith('pybaton.pb.') and m.endswith('_pb2'))))\n"
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(PB_DIR.parents[1]), os.environ.get("PYTHONPATH")])),
    }
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, check=True, capture_output=True, text=True
    ).stdout
    assert out.split() == generated
