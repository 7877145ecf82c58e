"""``diff`` against Go's own ``baton -o json diff`` of the two-sync fixture, plus the other ways to pick runs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from pybaton.c1z import C1ZFile, SyncWriter, syncs
from pybaton.c1z import diff as diffs
from pybaton.c1z.wire import varint_at
from pybaton.cli.main import run
from pybaton.cli.render import to_json_dict
from pybaton.model import builders as b

FIXTURES = Path(__file__).parent / "fixtures"
TWO = FIXTURES / "demo-two-syncs.c1z"


def as_sets(doc: dict[str, Any]) -> dict[str, dict[str, set[str]]]:
    """Go builds the lists from map iteration: compare them as sets of canonical JSON."""
    return {kind: {bucket: {json.dumps(x, sort_keys=True) for x in items} for bucket, items in doc.get(kind, {}).items()}
            for kind in ("resources", "entitlements", "grants")}


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = run(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_diff_json_equals_gos(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "diff", "-f", str(TWO), "-o", "json")
    assert code == 0
    ours = json.loads(out)
    go = json.loads((FIXTURES / "demo-two-syncs.diff.json").read_text())
    assert as_sets(ours) == as_sets(go)
    assert set(ours) == {"resources", "entitlements", "grants"} and ours["entitlements"] == {}


def test_exit_code_and_console_summary(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "diff", "-f", str(TWO), "--exit-code")
    assert code == 1
    assert "Grace" in out and "Carol" in out
    grants_line = next(line for line in out.splitlines() if line.startswith("grants"))
    assert grants_line.split() == ["grants", "4", "6", "0"]


def test_same_sync_has_no_differences(capsys: pytest.CaptureFixture[str]) -> None:
    with C1ZFile.open(TWO) as c1z:
        latest = c1z.resolve_sync().sync_id
    code, out, _ = cli(capsys, "diff", "-f", str(TWO), "--from", latest, "--to", latest, "--exit-code")
    assert code == 0 and "no differences" in out


def test_reversed_runs_swap_created_and_deleted() -> None:
    with C1ZFile.open(TWO) as c1z:
        old, new = diffs.default_sides(c1z)
        forward = diffs.diff(old, new)
        backward = diffs.diff(new, old)
    ids = lambda items: {g.id for g in items}  # noqa: E731
    assert ids(forward.grants.created) == ids(backward.grants.deleted)
    assert ids(forward.grants.deleted) == ids(backward.grants.created)
    assert {r.id.resource for r in backward.resources.modified} == {r.id.resource for r in forward.resources.modified}


def test_two_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--from-file: the older sync comes from another file (here, the same data split over two files)."""
    with C1ZFile.open(TWO) as c1z:
        old, new = diffs.default_sides(c1z)
        expected = to_json_dict(diffs.diff(old, new).to_message())
    first = tmp_path / "first.c1z"
    shutil.copy(TWO, first)
    with C1ZFile.open(first, writable=True) as c1z:
        syncs.delete_run(c1z.conn, new.run.sync_id)
        c1z.save()
    code, out, _ = cli(capsys, "diff", "-f", str(TWO), "--from-file", str(first), "-o", "json")
    assert code == 0 and as_sets(json.loads(out)) == as_sets(expected)


def test_single_sync_explains_that_a_second_sync_is_needed(capsys: pytest.CaptureFixture[str]) -> None:
    """Right after a first sync (``make demo``), the README's ``diff --exit-code`` explains instead of failing."""
    path = FIXTURES / "ldap.c1z"
    with C1ZFile.open(path) as c1z:
        only = c1z.resolve_sync().sync_id
    code, out, err = cli(capsys, "diff", "-f", str(path), "--exit-code")
    assert code == 0 and err == ""
    assert out.startswith(f"{path} holds one full sync so far ({only}): diff compares two. Sync into {path} again")


@pytest.mark.parametrize("output", ["json", "csv"])
def test_single_sync_is_an_error_for_scripts(capsys: pytest.CaptureFixture[str], output: str) -> None:
    """A script must not read the explanation as an empty diff."""
    code, out, err = cli(capsys, "diff", "-f", str(FIXTURES / "ldap.c1z"), "-o", output)
    assert code == 1 and out == "" and "holds one full sync so far" in err


def test_reserialized_message_is_not_modified(tmp_path: Path) -> None:
    """Same content, different bytes (map order, Any payloads): not a modification, as in Go."""
    path = tmp_path / "two.c1z"
    user = b.resource("user", "u1", "U1", traits=[b.user_trait(emails=["u1@x"], profile={"a": "1", "b": "2", "c": 3})])
    with C1ZFile.create(path) as c1z:
        for _ in range(2):
            run_ = syncs.start_run(c1z.conn)
            writer = SyncWriter(c1z, run_.sync_id)
            writer.put_resources([user])
            syncs.end_run(c1z.conn, run_.sync_id)
        old, new = diffs.default_sides(c1z)
        blob = c1z.conn.execute("select data from v1_resources where sync_id = ?", (new.run.sync_id,)).fetchone()[0]
        reordered = _reorder_fields(bytes(blob))
        assert reordered != bytes(blob)
        c1z.conn.execute("update v1_resources set data = ? where sync_id = ?", (reordered, new.run.sync_id))
        result = diffs.diff(old, new)
    assert not result.changed


def _reorder_fields(blob: bytes) -> bytes:
    """The same message with its top-level fields written last-to-first (still a valid encoding of it)."""
    fields: list[bytes] = []
    i = 0
    while i < len(blob):
        start = i
        key = blob[i]
        i += 1
        assert key & 7 == 2, "only length-delimited fields in this test"
        length, i = varint_at(blob, i)
        i += length
        fields.append(blob[start:i])
    return b"".join(reversed(fields))
