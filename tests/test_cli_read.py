"""The ``pybaton`` read commands against the Go ``baton`` CLI's own listings of Go-written files.

Every ``tests/fixtures/NAME.<command>.json`` is ``baton -f NAME.c1z -o json
<command>`` (baton-sdk v0.25); ``pybaton`` must print the same JSON document.
Console and CSV output are checked against counts and ids read from the store,
so the tests follow the fixtures instead of hard-coded strings.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from pybaton import model
from pybaton.c1z import C1ZFile, SyncReader, SyncWriter, syncs
from pybaton.cli import outputs
from pybaton.cli.main import run
from pybaton.cli.render import to_json_dict
from pybaton.pb.c1.connector.v2 import resource_pb2

FIXTURES = Path(__file__).parent / "fixtures"
PEBBLE = FIXTURES / "demo-v0.25-pebble.c1z"
V1_FILES = sorted(p for p in FIXTURES.glob("*.c1z") if p.read_bytes()[:5] == b"C1ZF\x00")
V3_FILES = sorted(p for p in FIXTURES.glob("*.c1z") if p.read_bytes()[:5] == b"C1Z3\x00")
# The larger v3 fixture (10,500 resources, 26 MB of Go listings) is read from the shared fixtures.
SHARED_FIXTURES = next((p for p in (Path(__file__).resolve().parents[n] / "shared" / "fixtures" for n in (2, 3))
                        if p.exists()), Path(__file__).resolve().parents[2] / "shared" / "fixtures")
PERF_V3 = SHARED_FIXTURES / "ldap-perf-v3.c1z"
LISTED_FILES = V1_FILES + V3_FILES
LISTINGS = ("resources", "resource-types", "entitlements", "grants", "principals", "stats", "syncs")


# -- helpers -------------------------------------------------------------------------------------


class Result:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    def json(self) -> Any:
        return json.loads(self.out)

    def error_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Any:
    """Run ``pybaton`` in-process and return its exit code, stdout and stderr."""

    def invoke(*args: str | Path) -> Result:
        capsys.readouterr()
        code = run([str(a) for a in args])
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return invoke


def first_sync_id(path: Path) -> str:
    with C1ZFile.open(path) as c1z:
        return c1z.sync_runs()[0].sync_id


def go_listing_cases() -> Iterator[Any]:
    """(c1z, command, extra args, expected json file) for every Go listing next to a v1 or v3 fixture."""
    for c1z in LISTED_FILES:
        name = c1z.stem
        for command in LISTINGS:
            expected = c1z.parent / f"{name}.{command}.json"
            if expected.exists():
                yield pytest.param(c1z, command, (), expected, id=f"{name}-{command}")
            sync1 = FIXTURES / f"{name}.sync1.{command}.json"
            if sync1.exists():
                yield pytest.param(c1z, command, ("--sync-id", first_sync_id(c1z)), sync1,
                                   id=f"{name}-sync1-{command}")


CASES = list(go_listing_cases())


@functools.cache
def load(path: Path) -> Any:
    """A Go listing, parsed once per test session (the tests only read it)."""
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def stores() -> Iterator[dict[str, SyncReader]]:
    """One open reader (latest sync) per v1 fixture, for expectations computed from the store."""
    files = [C1ZFile.open(p) for p in V1_FILES]
    try:
        yield {f.path.stem: SyncReader.of(f) for f in files}
    finally:
        for f in files:
            f.close()


def go_missing_resources(stderr_file: Path) -> list[dict[str, str]]:
    """The ``unable to find resource {...}`` fields Go logged (its timestamps are ignored)."""
    found = []
    for line in stderr_file.read_text().splitlines():
        if "unable to find resource" in line:
            found.append(json.loads(line[line.index("{"):]))
    return found


# -- JSON equals Go's ----------------------------------------------------------------------------


def test_every_v1_fixture_has_go_listings() -> None:
    assert len(V1_FILES) == 6
    assert [p.name for p in V3_FILES] == ["demo-v0.25-pebble.c1z", "ldap-v3.c1z"]
    for c1z in LISTED_FILES:
        assert any(case.values[0] == c1z for case in CASES), c1z
    assert len(CASES) >= 54


@pytest.mark.parametrize(("c1z", "command", "extra", "expected"), CASES)
def test_json_listing_equals_go(cli: Any, c1z: Path, command: str, extra: tuple[str, ...],
                                expected: Path) -> None:
    result = cli("-f", c1z, "-o", "json", *extra, command)
    assert result.code == 0, result.err
    assert result.json() == load(expected)


@pytest.mark.skipif(not PERF_V3.exists(), reason=f"{PERF_V3} is not present (shared fixtures not mounted)")
@pytest.mark.parametrize("command", ["resource-types", "resources", "entitlements", "grants", "stats", "syncs"])
def test_large_v3_listing_equals_go(cli: Any, command: str, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The 10,000-user LDAP file Go wrote with its default (Pebble) engine: every listing equals Go's."""
    monkeypatch.setenv("PYBATON_CACHE_DIR", str(tmp_path / "cache"))  # the file is big enough to be cached
    result = cli("-f", PERF_V3, "-o", "json", command)
    assert result.code == 0, result.err
    assert result.json() == load(SHARED_FIXTURES / f"ldap-perf-v3.{command}.json")


@pytest.mark.parametrize("command", ["grants", "principals"])
@pytest.mark.parametrize("name", ["demo-v0.2.51", "demo-v0.25-sqlite", "demo-two-syncs"])
def test_missing_principal_warns_like_go(cli: Any, name: str, command: str) -> None:
    """Go logs one ``unable to find resource`` per missing resource and still lists the grant."""
    result = cli("-f", FIXTURES / f"{name}.c1z", "-o", "json", command)
    assert result.code == 0
    ours = [json.loads(line[line.index("{"):]) for line in result.error_lines()]
    assert all(line.startswith("warning: unable to find resource ") for line in result.error_lines())
    assert ours == go_missing_resources(FIXTURES / f"{name}.{command}.stderr.txt")
    key = "grants" if command == "grants" else "resources"
    placeholder = [row for row in result.json()[key]
                   if row.get("principal", row.get("resource"))["displayName"].startswith("MISSING RESOURCE")]
    assert len(placeholder) == 1


def test_go_principals_listing_is_of_all_grants(cli: Any) -> None:
    """The Go ``principals.json`` files were made without ``-e``: they hold the holders of every grant."""
    for expected in sorted(FIXTURES.glob("*.principals.json")):
        c1z = FIXTURES / (expected.name.removesuffix(".principals.json") + ".c1z")
        grants = load(c1z.with_suffix(".grants.json").with_name(f"{c1z.stem}.grants.json"))["grants"]
        holders = {(g["grant"]["principal"]["id"]["resourceType"], g["grant"]["principal"]["id"].get("resource", ""))
                   for g in grants}
        listed = {(r["resource"]["id"]["resourceType"], r["resource"]["id"].get("resource", ""))
                  for r in load(expected)["resources"]}
        assert listed == holders


def expected_principals(name: str, entitlement_id: str) -> dict[str, Any]:
    """Go's principals listing for one entitlement, derived from Go's own grants/resource listings."""
    grants = load(FIXTURES / f"{name}.grants.json")["grants"]
    types = {t["resourceType"]["id"]: t["resourceType"] for t in load(FIXTURES / f"{name}.resource-types.json")
             ["resourceTypes"]}
    resources = {(r["resource"]["id"]["resourceType"], r["resource"]["id"]["resource"]): r["resource"]
                 for r in load(FIXTURES / f"{name}.resources.json")["resources"]}
    rows, seen = [], set()
    for grant in grants:
        if grant["grant"]["entitlement"]["id"] != entitlement_id:
            continue
        principal = grant["principal"]
        key = (principal["id"]["resourceType"], principal["id"].get("resource", ""))
        if key in seen:
            continue
        seen.add(key)
        row = {"resource": principal, "resourceType": types[key[0]]}
        parent = principal.get("parentResourceId")
        if parent:
            row["parent"] = resources[(parent["resourceType"], parent["resource"])]
        rows.append(row)
    return {"resources": rows} if rows else {}


def principal_cases() -> Iterator[Any]:
    for c1z in LISTED_FILES:
        grants_file = FIXTURES / f"{c1z.stem}.grants.json"
        ids = dict.fromkeys(g["grant"]["entitlement"]["id"] for g in load(grants_file)["grants"])
        yield pytest.param(c1z, list(ids), id=c1z.stem)


@pytest.mark.parametrize(("c1z", "entitlement_ids"), list(principal_cases()))
def test_principals_of_each_entitlement_match_go_grants(cli: Any, c1z: Path, entitlement_ids: list[str]) -> None:
    assert entitlement_ids
    for entitlement_id in entitlement_ids:
        result = cli("-f", c1z, "-o", "json", "principals", "-e", entitlement_id)
        assert result.code == 0, result.err
        assert result.json() == expected_principals(c1z.stem, entitlement_id), entitlement_id


# -- filters, checked against Go's unfiltered listings ---------------------------------------------


@pytest.mark.parametrize("c1z", LISTED_FILES, ids=lambda p: p.stem)
def test_filters_select_the_go_rows(cli: Any, c1z: Path) -> None:
    name = c1z.stem
    go_grants = load(FIXTURES / f"{name}.grants.json")["grants"]
    go_resources = load(FIXTURES / f"{name}.resources.json")["resources"]
    go_entitlements = load(FIXTURES / f"{name}.entitlements.json")["entitlements"]

    def listed(*args: str) -> list[Any]:
        result = cli("-f", c1z, "-o", "json", *args)
        assert result.code == 0, result.err
        return next(iter(result.json().values()), [])

    for rtype in {r["resource"]["id"]["resourceType"] for r in go_resources}:
        assert listed("resources", "-t", rtype) == [r for r in go_resources
                                                    if r["resource"]["id"]["resourceType"] == rtype]
    first_grant = go_grants[0]["grant"]
    ent_res = first_grant["entitlement"]["resource"]["id"]
    assert listed("grants", "-e", first_grant["entitlement"]["id"]) == [
        g for g in go_grants if g["grant"]["entitlement"]["id"] == first_grant["entitlement"]["id"]]
    assert listed("grants", "-t", ent_res["resourceType"]) == [
        g for g in go_grants if g["grant"]["entitlement"]["resource"]["id"]["resourceType"] == ent_res["resourceType"]]
    assert listed("grants", "-t", ent_res["resourceType"], "-r", ent_res["resource"]) == [
        g for g in go_grants if g["grant"]["entitlement"]["resource"]["id"] == ent_res]
    assert listed("entitlements", "-t", ent_res["resourceType"], "-r", ent_res["resource"]) == [
        e for e in go_entitlements if e["entitlement"]["resource"]["id"] == ent_res]


def test_grants_of_unknown_entitlement_is_empty(cli: Any) -> None:
    result = cli("-f", V1_FILES[0], "-o", "json", "grants", "-e", "no:such:entitlement")
    assert (result.code, result.json(), result.err) == (0, {}, "")


# -- a real process ------------------------------------------------------------------------------


def _console_script() -> Path | None:
    candidate = Path(sys.executable).parent / "pybaton"
    return candidate if candidate.exists() else None


def test_subprocess_module_json_equals_go() -> None:
    c1z = FIXTURES / "ldap.c1z"
    proc = subprocess.run([sys.executable, "-m", "pybaton.cli.main", "grants", "-f", str(c1z), "-o", "json"],
                          capture_output=True, text=True, check=False, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == load(FIXTURES / "ldap.grants.json")


@pytest.mark.skipif(_console_script() is None, reason="the pybaton console script is not installed")
def test_subprocess_console_script_and_error() -> None:
    script = str(_console_script())
    ok = subprocess.run([script, "-o", "json", "-f", str(FIXTURES / "postgres.c1z"), "stats"],
                        capture_output=True, text=True, check=False, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout) == load(FIXTURES / "postgres.stats.json")
    truncated = Path(tempfile.mkdtemp()) / "truncated-v3.c1z"
    truncated.write_bytes(PEBBLE.read_bytes()[:-100])
    bad = subprocess.run([script, "-f", str(truncated), "resources"], capture_output=True, text=True,
                         check=False, timeout=120)
    assert bad.returncode == 1
    assert bad.stdout == ""
    assert len(bad.stderr.splitlines()) == 1 and "v3" in bad.stderr and "Traceback" not in bad.stderr


def test_subprocess_closed_pipe_is_quiet() -> None:
    """Closing the pipe early (``| head``) ends quietly, without a traceback."""
    script = [sys.executable, "-m", "pybaton.cli.main", "-f", str(FIXTURES / "postgres.c1z"), "-o", "csv", "grants"]
    proc = subprocess.Popen(script, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.wait(timeout=120)
    assert "Traceback" not in err


# -- flag positions and the environment ----------------------------------------------------------


def test_persistent_flags_before_or_after_the_subcommand(cli: Any) -> None:
    c1z = FIXTURES / "demo-two-syncs.c1z"
    sync1 = first_sync_id(c1z)
    expected = load(FIXTURES / "demo-two-syncs.sync1.grants.json")
    variants = [
        ("-f", c1z, "-o", "json", "--sync-id", sync1, "grants"),
        ("grants", "-f", c1z, "-o", "json", "--sync-id", sync1),
        ("-f", c1z, "grants", "-o", "json", "--sync-id", sync1),
        ("--sync-id", sync1, "-o", "json", "grants", "--file", c1z),
        ("--output-format=json", "grants", f"--file={c1z}", f"--sync-id={sync1}"),
        # the value after the subcommand wins over the one before it
        ("-f", FIXTURES / "nope.c1z", "-o", "console", "grants", "-f", c1z, "-o", "json", "--sync-id", sync1),
    ]
    for args in variants:
        result = cli(*args)
        assert result.code == 0, (args, result.err)
        assert result.json() == expected, args


def test_flags_from_the_environment(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BATON_FILE", str(FIXTURES / "ldap.c1z"))
    monkeypatch.setenv("BATON_OUTPUT_FORMAT", "json")
    assert cli("resources").json() == load(FIXTURES / "ldap.resources.json")
    # explicit flags beat the environment
    assert cli("-f", FIXTURES / "postgres.c1z", "resource-types").json() == load(
        FIXTURES / "postgres.resource-types.json")


def test_default_file_is_sync_c1z(cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BATON_FILE", raising=False)
    monkeypatch.chdir(tmp_path)
    shutil.copy(FIXTURES / "ldap.c1z", tmp_path / "sync.c1z")
    assert cli("-o", "json", "syncs").json() == load(FIXTURES / "ldap.syncs.json")


# -- console -------------------------------------------------------------------------------------


def _count_line(out: str, noun: str) -> int:
    match = re.search(rf"^(\d+) {noun.removesuffix('s')}s?$", out, re.MULTILINE)
    assert match, out[-300:]
    return int(match.group(1))


@pytest.mark.parametrize("c1z", V1_FILES, ids=lambda p: p.stem)
def test_console_lists_every_object_with_its_count(cli: Any, c1z: Path, stores: dict[str, SyncReader]) -> None:
    reader = stores[c1z.stem]
    resource_types = reader.resource_types()
    resources = list(reader.resources())
    entitlements = list(reader.entitlements())
    grants = list(reader.grants())

    out = cli("-f", c1z, "resource-types").out
    assert _count_line(out, "resource types") == len(resource_types)
    assert all(rt.id in out and rt.display_name in out for rt in resource_types)

    out = cli("-f", c1z, "resources").out
    assert _count_line(out, "resources") == len(resources)
    assert all(r.id.resource in out for r in resources)

    out = cli("-f", c1z, "entitlements").out
    assert _count_line(out, "entitlements") == len(entitlements)
    assert all(e.id in out for e in entitlements)

    out = cli("-f", c1z, "grants").out
    assert _count_line(out, "grants") == len(grants)
    assert all(f"{g.principal.id.resource_type}:{g.principal.id.resource}" in out for g in grants)

    holders = list(reader.principals())
    out = cli("-f", c1z, "principals").out
    assert _count_line(out, "principals") == len(holders)


def test_console_is_unfolded_and_unpadded_in_a_pipe(cli: Any, stores: dict[str, SyncReader]) -> None:
    """Long ids stay whole on one line, and lines carry no trailing blanks."""
    out = cli("-f", FIXTURES / "postgres.c1z", "grants").out
    longest = max((g.entitlement.id for g in stores["postgres"].grants()), key=len)
    assert longest in out
    assert all(line == line.rstrip() for line in out.splitlines())


def test_console_stats_shows_the_counts(cli: Any, stores: dict[str, SyncReader]) -> None:
    reader = stores["postgres"]
    out = cli("-f", FIXTURES / "postgres.c1z", "stats").out
    assert reader.sync_id in out
    counts = {label: int(n) for label, n in re.findall(r"^(Resource Types|Resources|Entitlements|Grants)\s+(\d+)$",
                                                        out, re.MULTILINE)}
    assert counts == {"Resource Types": len(reader.resource_types()), "Resources": len(list(reader.resources())),
                      "Entitlements": len(list(reader.entitlements())), "Grants": len(list(reader.grants()))}
    tables = re.findall(r"^(column|large-object|table)\s+(\d+)\s+(\d+)\s+(\d+)$", out, re.MULTILINE)
    assert ("column", "0", "0", "0") in tables
    table_resources = sum(1 for _ in reader.resources("table"))
    assert ("table", str(table_resources), str(sum(1 for _ in reader.entitlements("table"))),
            str(sum(1 for _ in reader.grants(resource_type="table")))) in tables


def test_console_syncs_like_go(cli: Any) -> None:
    """Go's console ``syncs`` shows ids, RFC 3339 times to the second, type and token (syncs.txt)."""
    out = cli("-f", FIXTURES / "demo-two-syncs.c1z", "syncs").out
    go_rows = [re.split(r"\s*\|\s*", line.strip()) for line in
               (FIXTURES / "demo-two-syncs.syncs.txt").read_text().splitlines()[1:] if line.strip()]
    assert len(go_rows) == 2 == _count_line(out, "syncs")
    for sync_id, started, ended, sync_type, _parent, token in go_rows:
        line = next(line for line in out.splitlines() if line.startswith(sync_id))
        assert line.split() == [sync_id, started, ended, sync_type, token]


def write_c1z(path: Path, *, types: Sequence[resource_pb2.ResourceType], resources: Sequence[resource_pb2.Resource],
              entitlements: Sequence[Any] = (), grants: Sequence[Any] = ()) -> Path:
    """A one-sync file written by our own writer, for cases the Go fixtures do not hold."""
    with C1ZFile.create(path) as c1z:
        sync = syncs.start_run(c1z.conn)
        writer = SyncWriter(c1z, sync.sync_id)
        writer.put_resource_types(types)
        writer.put_resources(resources)
        writer.put_entitlements(entitlements)
        writer.put_grants(grants)
        syncs.end_run(c1z.conn, sync.sync_id)
        c1z.save()
    return path


def test_console_keeps_markup_like_text_literal(cli: Any, tmp_path: Path) -> None:
    """A display name such as ``[bold]x[/bold]`` is data, not Rich markup."""
    path = write_c1z(tmp_path / "markup.c1z", types=[model.resource_type("user", "User")],
                     resources=[model.resource("user", "u1", "[bold]Eve[/bold]")])
    out = cli("-f", path, "resources").out
    assert "[bold]Eve[/bold]" in out


def test_missing_parent_and_type_become_go_placeholders(cli: Any, tmp_path: Path) -> None:
    """Dangling references list with Go's ``MISSING ...`` placeholders and one warning each."""
    orphan_a = model.resource("team", "t1", "Team 1", parent=model.resource_id("org", "gone"))
    orphan_b = model.resource("team", "t2", "Team 2", parent=model.resource_id("org", "gone"))
    path = write_c1z(tmp_path / "dangling.c1z", types=[model.resource_type("user", "User")],
                     resources=[orphan_a, orphan_b])
    result = cli("-f", path, "-o", "json", "resources")
    assert result.code == 0
    rows = result.json()["resources"]
    assert [r["resourceType"] for r in rows] == [{"id": "team", "displayName": "MISSING RESOURCE TYPE (team)"}] * 2
    assert [r["parent"] for r in rows] == [
        {"id": {"resourceType": "org", "resource": "gone"}, "displayName": "MISSING RESOURCE (org:gone)"}] * 2
    assert result.error_lines() == [
        'warning: unable to find resource type {"resource_type_id": "team"}',
        'warning: unable to find resource {"resource_type_id": "org", "resource_id": "gone"}',
    ]


def test_unknown_any_in_a_file_does_not_break_the_listing(cli: Any, tmp_path: Path) -> None:
    user = model.resource("user", "u1", "Eve")
    user.annotations.add(type_url="type.googleapis.com/vendor.v9.Unknown", value=b"\x08\x01")
    path = write_c1z(tmp_path / "any.c1z", types=[model.resource_type("user", "User")], resources=[user])
    result = cli("-f", path, "-o", "json", "resources")
    assert result.code == 0, result.err
    assert "annotations" not in result.json()["resources"][0]["resource"]


# -- CSV -----------------------------------------------------------------------------------------


def _csv(out: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(out)))


@pytest.mark.parametrize("c1z", V1_FILES, ids=lambda p: p.stem)
def test_csv_rows_are_the_store_rows(cli: Any, c1z: Path, stores: dict[str, SyncReader]) -> None:
    reader = stores[c1z.stem]
    rows = _csv(cli("-f", c1z, "-o", "csv", "resource-types").out)
    assert [r["id"] for r in rows] == [rt.id for rt in reader.resource_types()]

    rows = _csv(cli("-f", c1z, "-o", "csv", "resources").out)
    assert [(r["resource_type"], r["resource_id"], r["display_name"]) for r in rows] == [
        (x.id.resource_type, x.id.resource, x.display_name) for x in reader.resources()]

    rows = _csv(cli("-f", c1z, "-o", "csv", "entitlements").out)
    assert [r["entitlement_id"] for r in rows] == [e.id for e in reader.entitlements()]

    rows = _csv(cli("-f", c1z, "-o", "csv", "grants").out)
    assert [(r["grant_id"], r["principal_type"], r["principal_id"]) for r in rows] == [
        (g.id, g.principal.id.resource_type, g.principal.id.resource) for g in reader.grants()]

    rows = _csv(cli("-f", c1z, "-o", "csv", "principals").out)
    assert [(r["resource_type"], r["resource_id"]) for r in rows] == list(reader.principals())

    rows = _csv(cli("-f", c1z, "-o", "csv", "syncs").out)
    assert [r["id"] for r in rows] == [run.sync_id for run in reader.c1z.sync_runs()]


def test_csv_syncs_keep_nanoseconds(cli: Any) -> None:
    rows = _csv(cli("-f", FIXTURES / "demo-two-syncs.c1z", "-o", "csv", "syncs").out)
    go = load(FIXTURES / "demo-two-syncs.syncs.json")["syncs"]
    assert [(r["started_at"], r["ended_at"], r["sync_token"]) for r in rows] == [
        (s["startedAt"], s["endedAt"], s["syncToken"]) for s in go]


# -- errors --------------------------------------------------------------------------------------


def _assert_one_error(result: Result, code: int, *needles: str) -> None:
    assert result.code == code, result.err
    assert result.out == ""
    lines = result.error_lines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.err
    for needle in needles:
        assert needle in lines[0]


@pytest.fixture
def damaged(tmp_path: Path) -> dict[str, Path]:
    data = (FIXTURES / "ldap.c1z").read_bytes()
    files = {
        "truncated": data[: len(data) // 2],
        "garbage-after-magic": data[:5] + os.urandom(4096),
        "empty": b"",
        "only-magic": data[:5],
        "text": b"hello, not a c1z\n",
    }
    out = {}
    for name, blob in files.items():
        path = tmp_path / f"{name}.c1z"
        path.write_bytes(blob)
        out[name] = path
    return out


def test_error_missing_file(cli: Any, tmp_path: Path) -> None:
    _assert_one_error(cli("-f", tmp_path / "nope.c1z", "resources"), 1, "nope.c1z", "no such file")


def test_error_directory(cli: Any, tmp_path: Path) -> None:
    _assert_one_error(cli("-f", tmp_path, "grants"), 1, "directory")


@pytest.mark.parametrize("kind", ["truncated", "garbage-after-magic", "empty", "only-magic", "text"])
def test_error_damaged_file(cli: Any, damaged: dict[str, Path], kind: str) -> None:
    _assert_one_error(cli("-f", damaged[kind], "-o", "json", "grants"), 1, damaged[kind].name)


def test_error_unreadable_file(cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "locked.c1z"
    shutil.copy(FIXTURES / "ldap.c1z", path)
    path.chmod(0)
    if os.geteuid() == 0:  # root reads anything: make the open fail as it would for anyone else
        real_open = Path.open

        def denied(self: Path, *args: Any, **kwargs: Any) -> Any:
            if self == path:
                raise PermissionError(13, "Permission denied", str(self))
            return real_open(self, *args, **kwargs)

        monkeypatch.setattr(Path, "open", denied)
    _assert_one_error(cli("-f", path, "resources"), 1, "permission denied")


def test_error_damaged_v3_file(cli: Any, tmp_path: Path) -> None:
    damaged = tmp_path / "damaged.c1z"
    data = bytearray(PEBBLE.read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged.write_bytes(bytes(data))
    for command in ("resources", "stats", "syncs"):
        _assert_one_error(cli("-f", damaged, command), 1, "v3", "damaged.c1z")


def test_error_unknown_sync_id(cli: Any) -> None:
    _assert_one_error(cli("-f", FIXTURES / "ldap.c1z", "--sync-id", "NOPE", "grants"), 1, "NOPE", "ldap.c1z")
    _assert_one_error(cli("-f", FIXTURES / "ldap.c1z", "stats", "--sync-id", "NOPE"), 1, "NOPE")


@pytest.mark.parametrize("args", [
    ("-o", "xml", "-f", "FILE", "grants"),
    ("-f", "FILE", "grants", "-o", "xml"),
])
def test_error_unknown_output_format(cli: Any, args: tuple[str, ...]) -> None:
    args = tuple(str(FIXTURES / "ldap.c1z") if a == "FILE" else a for a in args)
    _assert_one_error(cli(*args), 2, "xml", "console, json, csv")


@pytest.mark.parametrize(("args", "needle"), [
    (("grants", "-r", "x"), "--resource-type"),
    (("entitlements", "-r", "x"), "--resource-type"),
    (("grants", "-t", "group", "-r", "x", "-e", "y"), "together"),
    (("principals", "-t", "group"), "together"),
    (("stats", "-o", "csv"), "csv"),
    (("bogus",), "bogus"),
    (("grants", "--nope"), "--nope"),
])
def test_usage_errors_exit_2(cli: Any, args: tuple[str, ...], needle: str) -> None:
    _assert_one_error(cli("-f", FIXTURES / "ldap.c1z", *args), 2, needle)


def test_interrupt_exits_130_and_bugs_are_one_line(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*_a: Any, **_k: Any) -> Any:
        raise KeyboardInterrupt

    def buggy(*_a: Any, **_k: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(outputs, "grant_rows", interrupted)
    result = cli("-f", FIXTURES / "ldap.c1z", "grants")
    assert result.code == 130 and result.out == "" and "Traceback" not in result.err
    monkeypatch.setattr(outputs, "grant_rows", buggy)
    monkeypatch.delenv("PYBATON_TRACEBACK", raising=False)
    _assert_one_error(cli("-f", FIXTURES / "ldap.c1z", "grants"), 1, "RuntimeError", "boom")


def test_help_and_version(cli: Any) -> None:
    result = cli()
    assert result.code == 0 and "resources" in result.out and "grants" in result.out
    result = cli("--version")
    assert result.code == 0 and result.out.startswith("pybaton ")


# -- JSON rendering details ----------------------------------------------------------------------


def test_unknown_any_annotations_are_dropped_like_go() -> None:
    """Go's CLI drops ``Any`` payloads it cannot resolve instead of failing the listing."""
    from google.protobuf import any_pb2, struct_pb2

    res = resource_pb2.Resource(display_name="x")
    res.id.resource_type, res.id.resource = "user", "u1"
    res.annotations.add(type_url="type.googleapis.com/vendor.v9.Unknown", value=b"\x08\x01")
    known = res.annotations.add()
    trait = resource_pb2.ResourceType(id="t")
    trait.annotations.add(type_url="type.googleapis.com/vendor.v9.AlsoUnknown")
    known.Pack(trait)
    value = any_pb2.Any()
    value.Pack(struct_pb2.Struct(fields={"n": struct_pb2.Value(number_value=3.0)}))
    res.annotations.append(value)
    out = to_json_dict(res)
    assert [a["@type"] for a in out["annotations"]] == [
        "type.googleapis.com/c1.connector.v2.ResourceType", "type.googleapis.com/google.protobuf.Struct"]
    assert "annotations" not in out["annotations"][0]
    assert out["annotations"][1]["value"] == {"n": 3}
    assert json.dumps(out["annotations"][1]["value"]) == '{"n": 3}'


def test_stats_json_leaves_out_zero_counts() -> None:
    stats = {"resource_types": 1, "resources": 0, "entitlements": 0, "grants": 0,
             "resources_by_resource_type": {"user": 0}, "grants_by_resource_type": {}}
    assert outputs.stats_json(stats) == {"resourceTypes": "1", "resourcesByResourceType": {"user": "0"}}


def test_stats_of_the_first_sync(cli: Any) -> None:
    c1z = FIXTURES / "demo-two-syncs.c1z"
    result = cli("-f", c1z, "-o", "json", "stats", "--sync-id", first_sync_id(c1z))
    stats = result.json()["stats"]
    assert stats["resources"] == str(len(load(FIXTURES / "demo-two-syncs.sync1.resources.json")["resources"]))
    assert stats["grants"] == str(len(load(FIXTURES / "demo-two-syncs.sync1.grants.json")["grants"]))
    assert result.json()["id"] == first_sync_id(c1z)


def test_principals_console_and_csv_mark_direct_and_inherited_holders(cli: Any) -> None:
    """Derived grants (GrantImmutable with sources elsewhere) read "inherited"; the JSON stays Go's."""
    import csv
    import io

    from pybaton.model import annotations as ann
    from pybaton.pb.c1.connector.v2 import annotation_grant_pb2

    path = FIXTURES / "ldap.c1z"
    ent = "group:cn=engineering,ou=groups,dc=example,dc=org:member"
    with C1ZFile.open(path) as c1z:
        expected = {}
        for g in SyncReader.of(c1z).grants(entitlement_id=ent):
            derived = ann.has(g.annotations, annotation_grant_pb2.GrantImmutable) and ent not in g.sources.sources
            expected[g.principal.id.resource] = "inherited" if derived else "direct"
    assert set(expected.values()) == {"direct", "inherited"}
    result = cli("-f", path, "-o", "csv", "principals", "-e", ent)
    assert result.code == 0, result.err
    rows = list(csv.DictReader(io.StringIO(result.out)))
    assert {r["resource_id"]: r["access"] for r in rows} == expected
    as_json = cli("-f", path, "-o", "json", "principals", "-e", ent).json()
    assert all("access" not in p for p in as_json["resources"])
