"""The read commands' fast path (no Typer, Pydantic or Rich) and the listings read off stored grant bytes.

The fast path must answer exactly as the Typer app does: every case below runs
both and compares exit code, stdout and stderr. The stored-bytes listings
(:func:`pybaton.cli.outputs.stored_grants`) must give the rows of
:func:`~pybaton.cli.outputs.grant_parts`, on every Go-written fixture and on
grants that are not in the plain form.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pybaton import model
from pybaton.c1z import C1ZFile, SyncReader, SyncWriter, syncs
from pybaton.c1z.reader import split_fields
from pybaton.cli import columns, fast, outputs
from pybaton.cli.json_rows import RowEncoder
from pybaton.cli.main import run
from pybaton.pb.c1.connector.v2 import grant_pb2

FIXTURES = Path(__file__).parent / "fixtures"
LDAP = FIXTURES / "ldap.c1z"
ENT = "group:cn=engineering,ou=groups,dc=example,dc=org:member"
V1_FILES = sorted(p for p in FIXTURES.glob("*.c1z") if p.read_bytes()[:5] == b"C1ZF\x00")
HEAVY = ("typer", "click", "pydantic", "rich")


def _first_principal() -> str:
    with C1ZFile.open(LDAP) as c1z:
        grant = next(SyncReader.of(c1z).grants())
    return f"{grant.principal.id.resource_type}:{grant.principal.id.resource}"


PLAIN_CASES = [
    ["-f", str(LDAP), "grants", "-e", ENT],
    ["-f", str(LDAP), "-o", "json", "grants", "-e", ENT],
    ["grants", f"--file={LDAP}", "--output-format", "csv", "--entitlement", ENT],
    ["-f", str(LDAP), "principals", "-e", ENT],
    ["-f", str(LDAP), "principals", "-e", ENT, "-o", "CSV"],
    ["-f", str(LDAP), "grants", "-t", "group", "-r", "cn=engineering,ou=groups,dc=example,dc=org"],
    ["-f", str(LDAP), "stats"],
    ["-o", "json", "stats", "-f", str(LDAP)],
    ["-f", str(LDAP), "access", "-p", _first_principal()],
    ["-f", str(LDAP), "-o", "json", "access", "-p", _first_principal()],
    ["-f", str(LDAP), "resources", "-t", "user"],
    ["-f", str(LDAP), "entitlements"],
    ["-f", str(LDAP), "resource-types"],
    ["-f", str(LDAP), "-o", "csv", "syncs"],
    # mistakes: the same one-line errors and exit codes
    ["-f", str(LDAP), "grants", "-r", "x"],
    ["-f", str(LDAP), "grants", "-e", ENT, "-t", "group", "-r", "x"],
    ["-f", str(LDAP), "--sync-id", "nope", "grants"],
    ["-f", str(LDAP), "-o", "csv", "stats"],
    ["-f", str(LDAP), "access", "-p", "no-colon"],
    ["-f", str(LDAP), "access", "-p", "user:nobody"],
    ["-f", "/nonexistent/x.c1z", "grants"],
    ["-f", "", "grants"],
]


def _outcome(runner: Any, args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    capsys.readouterr()
    code = runner(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("args", PLAIN_CASES, ids=lambda a: " ".join(a).replace(str(FIXTURES), "F"))
def test_fast_path_answers_as_the_typer_app(args: list[str], capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    assert fast.plan(args) is not None, "a plain spelling takes the fast path"
    through_fast = _outcome(run, args, capsys)
    monkeypatch.setattr(fast, "plan", lambda _args: None)  # everything through the Typer app
    assert through_fast == _outcome(run, args, capsys)


def test_environment_options_reach_the_fast_path(monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("BATON_FILE", str(LDAP))
    monkeypatch.setenv("BATON_OUTPUT_FORMAT", "Json")
    args = ["grants", "-e", ENT]
    assert fast.plan(args) is not None
    code, out, _ = _outcome(run, args, capsys)
    assert code == 0 and out.startswith('{"grants": [')
    monkeypatch.setenv("BATON_OUTPUT_FORMAT", "yaml")  # Typer's own message for a bad value
    assert fast.plan(args) is None
    code, _, err = _outcome(run, args, capsys)
    assert code == 2 and "yaml" in err


@pytest.mark.parametrize("args", [
    [], ["--help"], ["-h"], ["-v"], ["--version"], ["grants", "--help"], ["grants", "-h"],
    ["grants", f"-e{ENT}"], ["grants", "-e", "a", "-e", "b"], ["grants", "--bogus", "x"], ["grants", "-e"],
    ["grants", "-e", "-x"], ["grants", "extra"], ["sync", "ldap"], ["diff"], ["-f"], ["-o", "xml", "grants"],
    ["access", "--person", "alice"], ["explain", "-e", ENT, "-p", "user:a"],
])
def test_other_spellings_go_to_the_typer_app(args: list[str]) -> None:
    assert fast.plan(args) is None


def test_environment_that_changes_typer_parsing_goes_to_the_typer_app(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYBATON_WAREHOUSE", "x.sqlite")  # read by `access` as an option
    assert fast.plan(["-f", str(LDAP), "access", "-p", "user:a"]) is None
    monkeypatch.delenv("PYBATON_WAREHOUSE")
    monkeypatch.setenv("_PYBATON_COMPLETE", "bash_complete")
    assert fast.plan(["grants"]) is None


@pytest.mark.parametrize("args", [
    ["grants", "-e", ENT], ["principals", "-e", ENT], ["stats"], ["-o", "json", "grants"], ["-o", "csv", "grants"],
    ["access", "-p", _first_principal()],
])
def test_read_commands_import_no_cli_framework(args: list[str]) -> None:
    """A cold read command is mostly imports: Typer, Click, Pydantic and Rich must not be among them
    (Rich comes in for an error line or a terminal only)."""
    code = (
        "import sys; from pybaton.cli.main import run; "
        f"rc = run(['-f', {str(LDAP)!r}, *{args!r}]); "
        f"heavy = sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}); "
        "print(rc, heavy, file=sys.stderr)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "PYBATON_C1Z_CACHE": "0"})
    assert proc.stderr.strip().splitlines()[-1] == "0 []", proc.stderr
    assert proc.stdout


# -- listings read off the stored bytes ----------------------------------------------------------


def _stored_rows_match(reader: SyncReader) -> int:
    """Compare stored_grants with grant_parts row by row (CSV cells and JSON text); the plain rows seen."""
    encoder, reference = RowEncoder(), RowEncoder()
    plain = 0
    stored = outputs.stored_grants(reader, lambda _m: None)
    parsed = outputs.grant_parts(reader, lambda _m: None)
    for row, parts in itertools.zip_longest(stored, parsed):
        assert row is not None and parts is not None
        plain += isinstance(row, outputs.PlainGrant)
        assert columns.grant_csv_cells(row) == columns.grant_csv_cells(parts)
        assert encoder.stored_grant(row) == reference.grant_output(parts)
    return plain


@pytest.mark.parametrize("c1z", V1_FILES, ids=lambda p: p.stem)
def test_stored_grants_are_the_parsed_rows(c1z: Path) -> None:
    with C1ZFile.open(c1z) as f:
        for run_ in f.sync_runs():
            if run_.ended_at:
                _stored_rows_match(SyncReader(f, run_))


def test_grants_not_in_the_plain_form_are_parsed(tmp_path: Path) -> None:
    user_rt, group_rt = model.resource_type("user", "User"), model.resource_type("group", "Group")
    alice, bob = model.resource(user_rt, "alice", "Alice"), model.resource(user_rt, "bob", "Bob")
    team = model.resource(group_rt, "team", "Team")
    member = model.assignment(team, "member", grantable_to=[user_rt])
    sourced = model.grant(member, bob)
    sourced.sources.sources[member.id].SetInParent()
    no_id = model.grant(member, alice)
    no_id.id = ""
    grants = [model.grant(member, alice), sourced, no_id, model.grant(member, model.resource(user_rt, "ghost", "G"))]
    path = tmp_path / "mixed.c1z"
    with C1ZFile.create(path) as c1z:
        run_ = syncs.start_run(c1z.conn)
        writer = SyncWriter(c1z, run_.sync_id)
        writer.put_resource_types([user_rt, group_rt])
        writer.put_resources([alice, bob, team])
        writer.put_entitlements([member])
        writer.put_grants(grants)
        syncs.end_run(c1z.conn, run_.sync_id)
        c1z.save()
    with C1ZFile.open(path) as c1z:
        reader = SyncReader.of(c1z)
        assert _stored_rows_match(reader) == 3  # the one with sources is parsed; a missing principal is plain


def test_split_fields_reads_plain_messages_only() -> None:
    ent = model.assignment(model.resource(model.resource_type("g", "G"), "x" * 200, "X"), "member")
    grant = model.grant(ent, model.resource(model.resource_type("u", "U"), "alice", "Alice"))
    data = grant.SerializeToString()
    fields = split_fields(data)
    assert fields == [(1, grant.entitlement.SerializeToString()), (2, grant.principal.SerializeToString()),
                      (3, grant.id.encode())]  # the entitlement is over 127 bytes: a two-byte length
    swapped = data[len(fields[0][1]) + 3:] + data[:len(fields[0][1]) + 3]
    assert split_fields(swapped) is None  # out of order
    assert split_fields(data + data[:len(fields[0][1]) + 3]) is None  # a field again
    assert split_fields(data[:-1]) is None  # truncated
    assert split_fields(b"\x08\x01") is None  # a varint field
    assert split_fields(grant_pb2.Grant(id="x").SerializeToString() + b"\xa2\x06\x00") is None  # a long tag
    assert split_fields(b"") == []


def test_every_fast_path_spelling_is_one_the_typer_command_declares() -> None:
    """The fast path keeps its own table of option spellings (importing Typer is what it avoids): a spelling
    the Typer command no longer takes must not be accepted here, or the two paths would disagree."""
    import typer.main

    from pybaton.cli.app import _register, app, command_modules

    _register(command_modules([]))  # no command word: every group
    root = typer.main.get_command(app)
    assert isinstance(root, typer.main.TyperGroup)
    root_spellings = {s for p in root.params for s in p.opts}
    for command, known in fast._COMMAND_OPTIONS.items():
        declared = {s for p in root.commands[command].params for s in p.opts}
        assert set(known) <= declared, command
        assert set(fast._COMMON) <= declared | root_spellings, command
