"""``export``: files parsed back and checked against the store."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import pytest
from expand_worlds import World, expanded_file

from pybaton.c1z import C1ZFile, SyncReader
from pybaton.c1z import export as exports
from pybaton.cli.main import run
from pybaton.model import annotations as ann
from pybaton.pb.c1.connector.v2 import annotation_trait_pb2

FIXTURES = Path(__file__).parent / "fixtures"
DEMO = FIXTURES / "demo-v0.25-sqlite.c1z"


def store_facts(path: Path) -> dict[str, object]:
    with C1ZFile.open(path) as c1z:
        reader = SyncReader.of(c1z)
        users = {(r.id.resource_type, r.id.resource) for r in reader.resources()
                 if ann.has(r.annotations, annotation_trait_pb2.UserTrait)}
        grants = list(reader.grants())
        return {
            "users": users,
            "entitlements": [e.id for e in reader.entitlements()],
            "grants": [g.id for g in grants],
            "user_grants": [g.id for g in grants if (g.principal.id.resource_type, g.principal.id.resource) in users],
            "resources": sum(1 for _ in reader.resources()),
            "resource_types": len(reader.resource_types()),
        }


def export_via_cli(capsys: pytest.CaptureFixture[str], path: Path, fmt: str, out: Path) -> None:
    code = run(["export", "-f", str(path), "--format", fmt, "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert f"to {out}" in captured.out


def test_csv_is_gos_layout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sync.csv"
    export_via_cli(capsys, DEMO, "csv", out)
    text = out.read_text()
    assert "\r\n" not in text
    rows = list(csv.reader(text.splitlines()))
    assert tuple(rows[0]) == exports.GO_CSV_HEADERS
    facts = store_facts(DEMO)
    kinds = Counter(r[0] for r in rows[1:])
    assert kinds == {"Identity": len(facts["users"]), "Entitlement": len(facts["entitlements"]),  # type: ignore[arg-type]
                     "Grant": len(facts["user_grants"])}  # type: ignore[arg-type]
    assert [r[7] for r in rows if r[0] == "Entitlement"] == facts["entitlements"]
    assert all(r[5] and r[4] for r in rows if r[0] == "Identity")  # email and status


def test_go_csv_quoting() -> None:
    assert exports.go_csv_line(["a", "b,c", 'say "hi"', " lead", "", "x\ny"]) == \
        'a,"b,c","say ""hi"""," lead",,"x\ny"\n'


def test_jsonl_has_every_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sync.jsonl"
    export_via_cli(capsys, DEMO, "jsonl", out)
    records = [json.loads(line) for line in out.read_text().splitlines()]
    facts = store_facts(DEMO)
    counts = Counter(r["table"] for r in records)
    assert counts == {"resource_type": facts["resource_types"], "resource": facts["resources"],
                      "entitlement": len(facts["entitlements"]), "grant": len(facts["grants"])}  # type: ignore[arg-type]
    assert [r["grant_id"] for r in records if r["table"] == "grant"] == facts["grants"]


def test_inherited_grants_are_marked(tmp_path: Path) -> None:
    world = World(["a", "b"], [("user", "x")], {("a", ("user", "x"))}, {("a", "b"): (False, None)})
    path = expanded_file(tmp_path / "w.c1z", world)
    out = tmp_path / "w.jsonl"
    with C1ZFile.open(path) as c1z:
        exports.export(SyncReader.of(c1z), "jsonl", out)
    grants = {r["grant_id"]: r for r in map(json.loads, out.read_text().splitlines()) if r["table"] == "grant"}
    derived = grants["group:b:member:user:x"]
    assert (derived["access"], derived["via"], derived["principal_email"]) == ("inherited", "group:a:member",
                                                                              "x@example.com")
    assert grants["group:a:member:user:x"]["access"] == "direct"


def test_xlsx_has_a_sheet_per_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    out = tmp_path / "sync.xlsx"
    export_via_cli(capsys, DEMO, "xlsx", out)
    book = openpyxl.load_workbook(out, read_only=True)
    assert book.sheetnames == ["Resource Types", "Resources", "Entitlements", "Grants"]
    grants = list(book["Grants"].iter_rows(values_only=True))
    assert grants[0][0] == "grant_id"
    facts = store_facts(DEMO)
    assert [row[0] for row in grants[1:]] == facts["grants"]
    assert [row[0] for row in book["Entitlements"].iter_rows(min_row=2, values_only=True)] == facts["entitlements"]


def test_failed_export_leaves_the_target_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "keep.jsonl"
    target.write_text("previous\n")

    def broken(reader: SyncReader) -> list[exports.Table]:
        def rows() -> object:
            yield ["x"]
            raise RuntimeError("disk on fire")
        return [exports.Table("T", "t", ("c",), rows)]  # type: ignore[arg-type]

    monkeypatch.setattr(exports, "tables", broken)
    with C1ZFile.open(DEMO) as c1z, pytest.raises(RuntimeError):
        exports.export(SyncReader.of(c1z), "jsonl", target)
    assert target.read_text() == "previous\n"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.jsonl"]
