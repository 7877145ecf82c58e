"""Effective access, explanations and holder marks, from an expanded sync (ours and Go's)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from expand_worlds import World, expanded_file

from pybaton.c1z import C1ZFile, SyncReader
from pybaton.c1z import access as acc
from pybaton.cli.main import run

FIXTURES = Path(__file__).parent / "fixtures"
LDAP_ENG = "group:cn=engineering,ou=groups,dc=example,dc=org:member"
LDAP_PLATFORM = "group:cn=platform,ou=groups,dc=example,dc=org:member"
DAVE = ("user", "uid=dave,ou=users,dc=example,dc=org")


@pytest.fixture(scope="module")
def nested(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """a -> b -> c and d -> c (a diamond into c); x is in a and d, y in b, z in nothing; e <-> f is a cycle."""
    world = World(["a", "b", "c", "d", "e", "f"], [("user", "x"), ("user", "y"), ("user", "z")],
                  {("a", ("user", "x")), ("d", ("user", "x")), ("b", ("user", "y")), ("e", ("user", "y"))},
                  {("a", "b"): (False, None), ("b", "c"): (False, None), ("d", "c"): (False, None),
                   ("e", "f"): (False, None), ("f", "e"): (False, None)})
    return expanded_file(tmp_path_factory.mktemp("access") / "nested.c1z", world)


def reader_of(path: Path) -> tuple[C1ZFile, SyncReader]:
    c1z = C1ZFile.open(path)
    return c1z, SyncReader.of(c1z)


def test_effective_access_groups_by_resource_with_marks(nested: Path) -> None:
    c1z, reader = reader_of(nested)
    with c1z:
        access = acc.effective_access(reader, ("user", "x"))
    marks = {ent.id: (h.kind, h.via) for item in access for ent, h in item.entries}
    assert marks == {
        "group:a:member": ("direct", ()),
        "group:d:member": ("direct", ()),
        "group:b:member": ("inherited", ("group:a:member",)),
        "group:c:member": ("inherited", ("group:b:member", "group:d:member")),
    }
    assert sorted(item.resource.id.resource for item in access) == ["a", "b", "c", "d"]  # one entry per resource
    assert all(item.resource.display_name.startswith("Group ") for item in access)


def test_explain_lists_every_path(nested: Path) -> None:
    c1z, reader = reader_of(nested)
    with c1z:
        found = acc.explain(reader, "group:c:member", ("user", "x"))
        nothing = acc.explain(reader, "group:c:member", ("user", "z"))
        cyclic = acc.explain(reader, "group:f:member", ("user", "y"))
    assert found.paths == (("group:d:member", "group:c:member"),
                           ("group:a:member", "group:b:member", "group:c:member"))
    assert next(acc.iter_paths(found)) == "group:d:member (direct) -> group:c:member"
    assert not nothing.has_access and nothing.paths == ()
    assert cyclic.paths == (("group:e:member", "group:f:member"),)


def test_explain_limit_truncates(nested: Path) -> None:
    c1z, reader = reader_of(nested)
    with c1z:
        found = acc.explain(reader, "group:c:member", ("user", "x"), limit=1)
    assert len(found.paths) == 1 and found.truncated


def test_holders_of_an_entitlement_are_marked(nested: Path) -> None:
    c1z, reader = reader_of(nested)
    with c1z:
        marks = acc.principal_marks(reader, "group:b:member")
    assert marks == {("user", "y"): "direct", ("user", "x"): "inherited", ("group", "a"): "direct"}


def test_explain_on_go_expanded_file() -> None:
    c1z, reader = reader_of(FIXTURES / "ldap.c1z")
    with c1z:
        found = acc.explain(reader, LDAP_ENG, DAVE)
    assert found.paths == ((LDAP_PLATFORM, LDAP_ENG),)


# -- the commands -----------------------------------------------------------------------------------


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = run(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_access_json_is_gos_document(nested: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "access", "-f", str(nested), "-o", "json", "-t", "user", "-r", "x")
    assert code == 0
    doc = json.loads(out)
    assert doc["principal"]["id"] == {"resourceType": "user", "resource": "x"}
    got = {a["resource"]["id"]["resource"]: sorted(e["id"] for e in a["entitlements"]) for a in doc["access"]}
    assert got == {g: [f"group:{g}:member"] for g in "abcd"}
    assert {a["resourceType"]["id"] for a in doc["access"]} == {"group"}


def test_access_console_marks_inherited(nested: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "access", "-f", str(nested), "-p", "user:x")
    assert code == 0
    line = next(line for line in out.splitlines() if "group:c:member" in line)
    assert "inherited" in line and "group:b:member, group:d:member" in line


def test_access_of_unknown_principal_fails_clearly(nested: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "access", "-f", str(nested), "-p", "user:nobody")
    assert code == 1 and "user:nobody is not in sync" in err


def test_explain_command(nested: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "explain", "-f", str(nested), "-e", "group:c:member", "-p", "user:x")
    assert code == 0 and "group:a:member (direct) -> group:b:member -> group:c:member" in out
    code, out, _ = cli(capsys, "explain", "-f", str(nested), "-e", "group:c:member", "-p", "user:z")
    assert code == 0 and out.strip() == "no access: user:z does not hold group:c:member"
    code, out, _ = cli(capsys, "explain", "-f", str(nested), "-e", "group:c:member", "-p", "user:x", "-o", "json")
    doc = json.loads(out)
    assert doc["access"] == "inherited" and len(doc["paths"]) == 2 and doc["entitlement"]["id"] == "group:c:member"


def test_explain_without_principal_lists_holders(nested: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "explain", "-f", str(nested), "-e", "group:b:member", "-o", "json")
    assert code == 0
    doc = json.loads(out)
    assert {(p["principal"]["resource"], p["access"]) for p in doc["principals"]} == {
        ("y", "direct"), ("x", "inherited"), ("a", "direct")}


def test_explain_unknown_entitlement(nested: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "explain", "-f", str(nested), "-e", "group:nope:member", "-p", "user:x")
    assert code == 1 and "group:nope:member" in err


def test_principals_access_column(nested: Path) -> None:
    """The column ``principals -e`` can show beside Go's listing (whose JSON it leaves alone)."""
    from pybaton.cli import outputs
    from pybaton.cli.columns import principal_access_column

    c1z, reader = reader_of(nested)
    with c1z:
        listing = outputs.principals(reader, lambda _: None, entitlement_id="group:b:member")
        column = principal_access_column(reader, "group:b:member")
    assert {(r.resource.id.resource, column.get(r)) for r in listing.resources} == {
        ("y", "direct"), ("x", "inherited"), ("a", "direct")}
