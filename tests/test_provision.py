"""Provisioning on the demo connector through ``pybaton grant|revoke|…``: DESIGN §5, end to end.

Every test starts from a freshly seeded demo synced into a ``.c1z``, writes
through the CLI, and checks the effect where it lands: a re-sync, the demo's
own database, the audit log — and, for secrets, everywhere they must not be.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest
from provision_helpers import Cli, DemoWorld

from pybaton import model
from pybaton.c1z import C1ZFile, SyncReader
from pybaton.model import annotations as ann
from pybaton.pb.c1.connector.v2 import annotation_grant_pb2
from pybaton.provision.plan import derived_from

ENT = "app:github:admin"
PRINCIPAL = "user:hedy.goldberg"
GRANT = f"{ENT}:{PRINCIPAL}"


def _password(out: str) -> str:
    found = re.findall(r"^\s*(?:\| )?\s*password: (\S+)$", out, re.M)
    assert len(found) == 1, out
    return str(found[0])


# -- grant and revoke ------------------------------------------------------------------------------

def test_grant_twice_then_revoke_twice_is_idempotent_and_says_so(world: DemoWorld) -> None:
    assert world.grant_rows(GRANT) == 0

    first = world.run("grant", "-p", "--entitlement", ENT, "--principal", PRINCIPAL)
    assert first.code == 0, first.err
    assert f"grant {ENT} to {PRINCIPAL}: granted" in first.out
    assert f"re-read app:github: grant {GRANT} is present" in first.out
    world.sync()
    assert world.grant_rows(GRANT) == 1

    again = world.run("grant", "-p", "--entitlement", ENT, "--principal", PRINCIPAL)
    assert again.code == 0, again.err
    assert f"grant {ENT} to {PRINCIPAL}: already exists" in again.out
    world.sync()
    assert world.grant_rows(GRANT) == 1
    assert world.access_rows("app", "github", "admin", PRINCIPAL) == 1

    revoked = world.run("revoke", "-p", "--grant", GRANT)
    assert revoked.code == 0, revoked.err
    assert f"revoke {GRANT}: revoked" in revoked.out
    world.sync()
    assert world.grant_rows(GRANT) == 0
    assert world.access_rows("app", "github", "admin", PRINCIPAL) == 0

    twice = world.run("revoke", "-p", "--grant", GRANT)  # gone from the latest sync, too
    assert twice.code == 0, twice.err
    assert f"revoke {GRANT}: already revoked" in twice.out

    results = [(line["operation"], line["result"]) for line in world.audit_lines()]
    assert results == [("grant", "granted"), ("grant", "already_exists"), ("revoke", "revoked"),
                       ("revoke", "already_revoked")]


def test_audit_lines_have_who_what_when_and_result(world: DemoWorld) -> None:
    world.run("grant", "-p", "--entitlement", ENT, "--principal", PRINCIPAL)
    (line,) = world.audit_lines()
    assert set(line) == {"time", "operator", "connector", "operation", "target", "dry_run", "result", "error"}
    assert line["connector"] == "demo" and line["operator"]
    assert line["target"] == {"entitlement": ENT, "principal": PRINCIPAL}
    assert (line["dry_run"], line["result"], line["error"]) == (False, "granted", None)
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", line["time"])


def test_audit_log_path_is_configurable(world: DemoWorld) -> None:
    elsewhere = world.dir / "logs" / "writes.jsonl"
    elsewhere.parent.mkdir()
    assert world.run("grant", "-p", "--entitlement", ENT, "--principal", PRINCIPAL,
                     "--audit-log", str(elsewhere)).code == 0
    assert not world.audit.exists()
    assert len(elsewhere.read_text().splitlines()) == 1


def test_provisioning_can_be_enabled_by_environment(world: DemoWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BATON_PROVISIONING", "1")
    result = world.run("grant", "--entitlement", ENT, "--principal", PRINCIPAL)
    assert result.code == 0, result.err
    assert world.access_rows("app", "github", "admin", PRINCIPAL) == 1


# -- dry run ---------------------------------------------------------------------------------------

DRY_RUNS = {
    "grant": ["--entitlement", ENT, "--principal", PRINCIPAL],
    "revoke": ["--grant", "group:security:member:user:annie.kare"],
    "create-account": ["--login", "new.hire", "--email", "new.hire@acme.example"],
    "delete-resource": ["--resource", "user:alan.milner"],
    "rotate-credentials": ["--resource", "user:alan.milner"],
}


@pytest.mark.parametrize("command", DRY_RUNS)
def test_dry_run_prints_the_plan_and_changes_nothing(world: DemoWorld, command: str) -> None:
    db_before = world.db_dump()
    c1z_before = hashlib.sha256(world.c1z.read_bytes()).hexdigest()
    with C1ZFile.open(world.c1z) as c1z:
        grants_before = SyncReader.of(c1z).stats()["grants"]

    result = world.run(command, "-p", "--dry-run", *DRY_RUNS[command])
    assert result.code == 0, result.err
    assert result.out.startswith("dry run: would ")
    assert "nothing was changed" in result.out

    assert world.db_dump() == db_before
    assert hashlib.sha256(world.c1z.read_bytes()).hexdigest() == c1z_before
    world.sync()
    with C1ZFile.open(world.c1z) as c1z:
        assert SyncReader.of(c1z).stats()["grants"] == grants_before
    (line,) = world.audit_lines()
    assert (line["dry_run"], line["result"]) == (True, "planned")


def test_dry_run_works_without_provisioning_enabled_and_says_how_to_apply(world: DemoWorld) -> None:
    result = world.run("grant", "--dry-run", "--entitlement", ENT, "--principal", PRINCIPAL)
    assert result.code == 0, result.err
    assert "to apply it" in result.out and "-p/--provisioning" in result.out
    assert world.access_rows("app", "github", "admin", PRINCIPAL) == 0


# -- accounts and credentials ----------------------------------------------------------------------

def test_create_account_shows_the_password_once_and_nowhere_else(world: DemoWorld) -> None:
    result = world.run("create-account", "-p", "--login", "new.hire", "--email", "new.hire@acme.example",
                       "--profile", '{"department": "sales", "title": "Account Executive"}',
                       "--log-level", "debug")
    assert result.code == 0, result.err
    password = _password(result.out)
    assert result.out.count(password) == 1
    assert "create-account user:new.hire: created" in result.out
    assert "re-read user:new.hire: user:new.hire is present" in result.out
    assert world.store().check_password("new.hire", password)

    world.sync()
    assert world.has_resource("user", "new.hire")
    assert password not in result.err
    assert password not in world.audit.read_text()
    assert password.encode() not in world.c1z_bytes()
    assert password.encode() not in (world.data_dir / "acme.sqlite").read_bytes()
    (line,) = world.audit_lines()
    assert line["target"] == {"login": "new.hire", "email": "new.hire@acme.example",
                              "profile_fields": "department,title"}
    assert line["result"] == "created"


def test_create_account_again_says_it_exists(world: DemoWorld) -> None:
    assert world.run("create-account", "-p", "--login", "new.hire").code == 0
    again = world.run("create-account", "-p", "--login", "new.hire")
    assert again.code == 0, again.err
    assert "create-account user:new.hire: already exists" in again.out
    assert "password:" not in again.out


def test_create_account_without_a_credential(world: DemoWorld) -> None:
    result = world.run("create-account", "-p", "--login", "sso.user", "--credential-kind", "none")
    assert result.code == 0, result.err
    assert "password:" not in result.out
    assert world.db_rows("select 1 from credentials where resource_id = 'sso.user'") == []


def test_password_constraints_are_honoured(world: DemoWorld) -> None:
    result = world.run("create-account", "-p", "--login", "strict.user", "--credential-length", "32",
                       "--credential-require", "digit,symbol,upper")
    password = _password(result.out)
    assert len(password) == 32
    assert re.search(r"\d", password) and re.search(r"[A-Z]", password) and re.search(r"[-_.!@#%+=]", password)


def test_rotate_credentials_replaces_the_password(world: DemoWorld) -> None:
    created = world.run("create-account", "-p", "--login", "new.hire")
    old = _password(created.out)
    result = world.run("rotate-credentials", "-p", "--resource", "user:new.hire")
    assert result.code == 0, result.err
    new = _password(result.out)
    assert "rotate-credentials user:new.hire: rotated" in result.out
    store = world.store()
    assert store.check_password("new.hire", new)
    assert not store.check_password("new.hire", old)
    for secret in (old, new):
        assert secret not in world.audit.read_text() and secret not in result.err
        assert secret.encode() not in world.c1z_bytes()


def test_delete_resource_then_again(world: DemoWorld) -> None:
    assert world.has_resource("user", "alan.milner")
    result = world.run("delete-resource", "-p", "--resource", "user:alan.milner")
    assert result.code == 0, result.err
    assert "delete-resource user:alan.milner: deleted" in result.out
    assert "re-read user:alan.milner: user:alan.milner is gone" in result.out
    world.sync()
    assert not world.has_resource("user", "alan.milner")
    again = world.run("delete-resource", "-p", "--resource", "user:alan.milner")
    assert again.code == 0, again.err
    assert "delete-resource user:alan.milner: already deleted" in again.out


def test_credentials_encrypted_to_an_age_recipient_round_trip(world: DemoWorld) -> None:
    pyrage = pytest.importorskip("pyrage")
    identity = pyrage.x25519.Identity.generate()
    sealed = world.dir / "new.hire.age"
    result = world.run("create-account", "-p", "--login", "new.hire",
                       "--credential-recipient", str(identity.to_public()), "--credential-file", str(sealed))
    assert result.code == 0, result.err
    assert "password:" not in result.out
    assert sealed.stat().st_mode & 0o777 == 0o600
    doc = json.loads(pyrage.decrypt(sealed.read_bytes(), [identity]))
    assert doc["resource"] == "user:new.hire"
    (cred,) = doc["credentials"]
    assert world.store().check_password("new.hire", cred["value"])
    assert cred["value"] not in world.audit.read_text()


def test_a_bad_recipient_is_refused_before_anything_is_created(world: DemoWorld) -> None:
    result = world.run("create-account", "-p", "--login", "new.hire", "--credential-recipient", "age1nope")
    assert result.code != 0
    assert result.error_lines == [result.error_lines[0]] and "not an age public key" in result.error_lines[0]
    assert world.db_rows("select 1 from users where id = 'new.hire'") == []
    assert world.audit_lines()[-1]["result"] == "refused"


# -- refusals --------------------------------------------------------------------------------------

def _derived_grant(world: DemoWorld) -> tuple[str, list[str]]:
    """A grant the expansion derived (its sources), from the latest sync."""
    with C1ZFile.open(world.c1z) as c1z:
        for grant in SyncReader.of(c1z).grants():
            sources = derived_from(grant)
            if sources:
                return grant.id, sources
    raise AssertionError("the demo sync holds no derived grant")


def test_revoking_a_derived_grant_is_refused_naming_the_group(world: DemoWorld) -> None:
    grant_id, sources = _derived_grant(world)
    group_type, group_id, _ = sources[0].split(":")
    with C1ZFile.open(world.c1z) as c1z:
        group = SyncReader.of(c1z).resource(group_type, group_id)
    assert group is not None
    result = world.run("revoke", "-p", "--grant", grant_id)
    assert result.code != 0
    (line,) = result.error_lines
    assert "derived from" in line and sources[0] in line and group.display_name in line
    assert world.audit_lines()[-1]["result"] == "refused"


BAD_INPUT = {
    "provisioning disabled": (["grant", "demo", "--entitlement", ENT, "--principal", PRINCIPAL],
                              "provisioning is not enabled"),
    "unknown connector": (["grant", "nosuch", "-p", "--entitlement", ENT, "--principal", PRINCIPAL],
                          "unknown connector 'nosuch'"),
    "unknown entitlement": (["grant", "demo", "-p", "--entitlement", "app:github:owner", "--principal", PRINCIPAL],
                            "unknown entitlement 'app:github:owner'"),
    "malformed principal": (["grant", "demo", "-p", "--entitlement", ENT, "--principal", "hedy.goldberg"],
                            "principal 'hedy.goldberg' is not of the form TYPE:ID"),
    "principal type not grantable": (["grant", "demo", "-p", "--entitlement", ENT, "--principal", "role:admin"],
                                     "can be granted to user, group only, not to role"),
    "unknown grant": (["revoke", "demo", "-p", "--grant", "nothing:here"], "unknown grant 'nothing:here'"),
    "two actions at once": (["grant", "demo", "-p", "--entitlement", ENT, "--principal", PRINCIPAL,
                             "--revoke-grant", GRANT], "cannot be used together"),
    "bad profile": (["create-account", "demo", "-p", "--login", "x", "--profile", "[1]"], "must be a JSON object"),
}


@pytest.mark.parametrize("case", BAD_INPUT)
def test_bad_input_is_one_line_non_zero_and_audited(world: DemoWorld, cli: Cli, case: str) -> None:
    argv, message = BAD_INPUT[case]
    db_before = world.db_dump()
    result = cli(*argv, *world.flags)
    assert result.code != 0
    assert len(result.error_lines) == 1, result.err
    assert result.error_lines[0].startswith("error: ") and message in result.error_lines[0]
    assert "Traceback" not in result.err
    (line,) = world.audit_lines()
    assert line["result"] == "refused" and message in line["error"]
    assert line["operation"] in {"grant", "revoke", "create-account", "grant+revoke"}
    assert world.db_dump() == db_before


def test_the_target_file_must_hold_a_sync(tmp_path: Path, cli: Cli) -> None:
    world = DemoWorld(tmp_path, cli)
    result = world.run("grant", "-p", "--entitlement", ENT, "--principal", PRINCIPAL)
    assert result.code != 0
    assert "no such file; sync it first (pybaton sync demo" in result.error_lines[0]
    assert world.audit_lines()[0]["result"] == "refused"


# -- Baton's one-shot flags on the connector command itself ----------------------------------------

def test_one_shot_flags_on_sync_command_grant_with_separate_principal_type(world: DemoWorld) -> None:
    result = world.run("sync", "-p", "--grant-entitlement", ENT, "--grant-principal", "hedy.goldberg",
                       "--grant-principal-type", "user")
    assert result.code == 0, result.err
    assert f"grant {ENT} to {PRINCIPAL}: granted" in result.out
    result = world.run("sync", "-p", "--delete-resource", "alan.milner", "--delete-resource-type", "user")
    assert "delete-resource user:alan.milner: deleted" in result.out


def test_a_write_the_system_refuses_is_audited_as_failed(world: DemoWorld) -> None:
    result = world.run("grant", "-p", "--entitlement", "group:sre:member", "--principal", "group:engineering")
    assert result.code != 0
    assert len(result.error_lines) == 1 and "cycle" in result.error_lines[0]
    (line,) = world.audit_lines()
    assert line["result"] == "failed" and "cycle" in line["error"]


def test_derived_and_immutable_grants_are_recognised() -> None:
    group = model.resource("group", "eng", "Engineering")
    direct = model.grant(model.entitlement(group, "member"), model.resource_id("user", "ada"))
    assert derived_from(direct) is None
    derived = model.grant(model.entitlement(group, "member"), model.resource_id("user", "bob"))
    derived.sources.sources["group:platform:member"].is_direct = True
    ann.put(derived.annotations, annotation_grant_pb2.GrantImmutable())
    assert derived_from(derived) == ["group:platform:member"]
    both = model.grant(model.entitlement(group, "member"), model.resource_id("user", "cy"))
    both.sources.sources["group:eng:member"].is_direct = True
    both.sources.sources["group:platform:member"].is_direct = True
    assert derived_from(both) is None
    everyone = model.grant(model.entitlement(group, "member"), model.resource_id("user", "dee"),
                           annotations=[annotation_grant_pb2.GrantImmutable(source_id="directory sync")])
    assert derived_from(everyone) == ["directory sync"]
