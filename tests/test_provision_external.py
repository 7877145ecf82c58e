"""Connectors run as external executables (``connectors.yaml``): sync by import, provision by Baton's flags.

The external command is our own demo connector in a subprocess, registered
twice: as a pybaton command, and disguised as a Go one (it accepts and checks
``--storage-engine sqlite`` the way a Go ``baton-*`` binary does). A Go
connector's default output, a v3 (Pebble) file, is imported without that flag.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from provision_helpers import Cli, DemoWorld, Result

from pybaton.c1z import C1ZFile, SyncReader, container
from pybaton.c1z.merge import import_run
from pybaton.connector.external import ExternalEntry, capabilities, load_registry
from pybaton.errors import ConfigError
from pybaton.provision.requests import Op, Outcome, parse_result, result_line

RUN_DEMO = "import sys; from pybaton.connector import run; from pybaton.connectors.demo import DemoConnector; "
PYBATON_CMD = [sys.executable, "-c", RUN_DEMO + "run(DemoConnector, sys.argv[1:])"]
# Like a Go connector: insists on --storage-engine sqlite (and strips it before our runner sees it).
GO_LIKE_CMD = [sys.executable, "-c", RUN_DEMO + (
    "a = sys.argv[1:]; i = a.index('--storage-engine'); assert a[i + 1] == 'sqlite'; del a[i:i + 2]; "
    "run(DemoConnector, a)")]

ENT = "app:salesforce:admin"
PRINCIPAL = "user:alan.milner"
GRANT = f"{ENT}:{PRINCIPAL}"

pytestmark = pytest.mark.slow


class ExternalWorld(DemoWorld):
    """A demo database served by a connector subprocess named ``acme`` in ``connectors.yaml``."""

    def __init__(self, tmp_path: Path, cli: Cli, name: str = "acme") -> None:
        super().__init__(tmp_path, cli)
        self.name = name
        self.config = tmp_path / "connectors.yaml"
        env = {"BATON_DATA_DIR": str(self.data_dir)}
        self.config.write_text(yaml.safe_dump({"connectors": [
            {"name": "acme", "command": PYBATON_CMD, "env": env, "kind": "pybaton"},
            {"name": "acme-go", "command": GO_LIKE_CMD, "env": env, "storage_engine": "sqlite"},
        ]}))

    @property
    def flags(self) -> list[str]:
        return ["--connectors-config", str(self.config), "-f", str(self.c1z)]

    def run(self, command: str, *args: str, connector: str = "") -> Result:
        return self._cli(command, connector or self.name, *args, *self.flags)


def _password(out: str) -> str:
    found = re.findall(r"^\s*(?:\| )?\s*password: (\S+)$", out, re.M)
    assert len(found) == 1, out
    return str(found[0])


@pytest.fixture
def ext(tmp_path: Path, cli: Cli) -> ExternalWorld:
    w = ExternalWorld(tmp_path, cli)
    w.sync()
    return w


def _own_sync(tmp_path: Path) -> Path:
    """A sync of the demo connector run as an external command, into its own file."""
    own = tmp_path / "own.c1z"
    env = {**os.environ, "BATON_DATA_DIR": str(tmp_path / "data")}
    subprocess.run([*PYBATON_CMD, "-f", str(own)], env=env, check=True, capture_output=True)
    return own


def test_an_import_that_drops_runs_leaves_none_of_their_rows_in_the_file(tmp_path: Path) -> None:
    own = _own_sync(tmp_path)
    target = tmp_path / "target.c1z"
    dropped = import_run(own, target)
    kept = import_run(own, target, keep_full_runs=1)
    with C1ZFile.open(target) as dst:
        assert [r.sync_id for r in dst.sync_runs()] == [kept.sync_id]
    db = tmp_path / "unpacked.sqlite"
    container.unpack(target, db)
    raw = db.read_bytes()
    assert kept.sync_id.encode() in raw
    assert dropped.sync_id.encode() not in raw  # every row of the dropped run carried its id


def test_sync_imports_the_commands_run_with_its_blobs_untouched(tmp_path: Path) -> None:
    own = _own_sync(tmp_path)
    target = tmp_path / "target.c1z"
    first = import_run(own, target)
    second = import_run(own, target)
    assert first.sync_id != second.sync_id
    with C1ZFile.open(own) as src, C1ZFile.open(target) as dst:
        original = src.resolve_sync()
        for table in ("v1_resource_types", "v1_resources", "v1_entitlements", "v1_grants"):
            before = sorted(src.conn.execute(f"select external_id, data from {table} where sync_id = ?",
                                             (original.sync_id,)))
            for run in (first, second):
                after = sorted(dst.conn.execute(f"select external_id, data from {table} where sync_id = ?",
                                                (run.sync_id,)))
                assert after == before, table
        assert dst.resolve_sync().stats == original.stats


def test_external_connector_grant_revoke_dry_run_and_re_sync(ext: ExternalWorld) -> None:
    first = ext.run("grant", "-p", "--entitlement", ENT, "--principal", PRINCIPAL)
    assert first.code == 0, first.err
    assert f"grant {ENT} to {PRINCIPAL}: granted" in first.out
    assert f"re-read app:salesforce: grant {GRANT} is present" in first.out
    again = ext.run("grant", "-p", "--entitlement", ENT, "--principal", PRINCIPAL)
    assert f"grant {ENT} to {PRINCIPAL}: already exists" in again.out
    ext.sync()
    assert ext.grant_rows(GRANT) == 1
    assert ext.access_rows("app", "salesforce", "admin", PRINCIPAL) == 1

    db_before, c1z_before = ext.db_dump(), hashlib.sha256(ext.c1z.read_bytes()).hexdigest()
    dry = ext.run("revoke", "-p", "--dry-run", "--grant", GRANT)
    assert dry.code == 0 and dry.out.startswith("dry run: would revoke")
    assert ext.db_dump() == db_before
    assert hashlib.sha256(ext.c1z.read_bytes()).hexdigest() == c1z_before

    assert f"revoke {GRANT}: revoked" in ext.run("revoke", "-p", "--grant", GRANT).out
    assert f"revoke {GRANT}: already revoked" in ext.run("revoke", "-p", "--grant", GRANT).out
    ext.sync()
    assert ext.grant_rows(GRANT) == 0
    results = [(line["connector"], line["result"]) for line in ext.audit_lines()]
    assert results == [("acme", "granted"), ("acme", "already_exists"), ("acme", "planned"),
                       ("acme", "revoked"), ("acme", "already_revoked")]


def test_external_connector_accounts_credentials_and_deletion(ext: ExternalWorld) -> None:
    created = ext.run("create-account", "-p", "--login", "new.hire", "--email", "new.hire@acme.example")
    assert created.code == 0, created.err
    assert "create-account user:new.hire: created" in created.out
    old = _password(created.out)
    assert "note: sync acme to see the result" in created.out
    ext.sync()
    rotated = ext.run("rotate-credentials", "-p", "--resource", "user:new.hire")
    assert rotated.code == 0, rotated.err
    new = _password(rotated.out)
    store = ext.store()
    assert store.check_password("new.hire", new) and not store.check_password("new.hire", old)
    ext.sync()
    assert ext.has_resource("user", "new.hire")
    for secret in (old, new):
        assert secret not in ext.audit.read_text()
        assert secret not in created.err + rotated.err
        assert secret.encode() not in ext.c1z_bytes()

    deleted = ext.run("delete-resource", "-p", "--resource", "user:new.hire")
    assert "delete-resource user:new.hire: deleted" in deleted.out
    assert "re-read user:new.hire: user:new.hire is gone" in deleted.out
    ext.sync()
    assert not ext.has_resource("user", "new.hire")


def test_go_like_connector_gets_storage_engine_and_one_shot_flags(tmp_path: Path, cli: Cli) -> None:
    go = ExternalWorld(tmp_path, cli, name="acme-go")
    go.sync()
    assert go.has_resource("user", "alan.milner")
    result = go.run("grant", "-p", "--entitlement", ENT, "--principal", PRINCIPAL)
    assert result.code == 0, result.err
    assert go.access_rows("app", "salesforce", "admin", PRINCIPAL) == 1
    created = go.run("create-account", "-p", "--login", "go.user")
    assert "Go (baton-sdk) connector" in created.out  # no pybaton credential flags were passed


def test_go_connector_default_v3_output_is_imported(tmp_path: Path, cli: Cli) -> None:
    """No ``storage_engine``: a Go connector writes its default v3 (Pebble) file, which is read directly.

    The command writes the file Go's baton-ldap wrote by default (tests/fixtures/ldap-v3.c1z) to ``-f``.
    """
    fixture = Path(__file__).parent / "fixtures" / "ldap-v3.c1z"
    writes_v3 = [sys.executable, "-c",
                 f"import shutil, sys; a = sys.argv[1:]; shutil.copyfile({str(fixture)!r}, a[a.index('-f') + 1])"]
    config = tmp_path / "connectors.yaml"
    config.write_text(yaml.safe_dump({"connectors": [{"name": "ldap-go", "command": writes_v3}]}))
    target = tmp_path / "ldap.c1z"
    result = cli("sync", "ldap-go", "--connectors-config", str(config), "-f", str(target))
    assert result.code == 0, result.err
    assert target.read_bytes()[:5] == b"C1ZF\x00"
    with C1ZFile.open(target) as ours, C1ZFile.open(fixture) as go:
        mine, theirs = SyncReader.of(ours), SyncReader.of(go)
        assert [g.id for g in mine.grants()] == [g.id for g in theirs.grants()]
        assert mine.stats() == theirs.stats()
        assert mine.sync_id != theirs.sync_id  # imported as a new run


def test_external_refusals_are_one_line_and_audited(ext: ExternalWorld) -> None:
    disabled = ext.run("grant", "--entitlement", ENT, "--principal", PRINCIPAL)
    unknown = ext.run("grant", "-p", "--entitlement", "app:jira:owner", "--principal", PRINCIPAL)
    nosuch = ext.run("grant", "-p", "--entitlement", ENT, "--principal", PRINCIPAL, connector="nosuch")
    for result, text in ((disabled, "provisioning is not enabled"), (unknown, "unknown entitlement"),
                         (nosuch, "unknown connector 'nosuch'")):
        assert result.code != 0
        assert len(result.error_lines) == 1 and text in result.error_lines[0], result.err
    assert "defines acme, acme-go" in nosuch.error_lines[0]
    assert [line["result"] for line in ext.audit_lines()] == ["refused"] * 3
    assert ext.access_rows("app", "salesforce", "admin", PRINCIPAL) == 0


def test_a_failing_command_is_one_line(tmp_path: Path, cli: Cli) -> None:
    config = tmp_path / "connectors.yaml"
    config.write_text(yaml.safe_dump({"connectors": [{"name": "broken", "command": [str(tmp_path / "nope")]}]}))
    result = cli("sync", "broken", "--connectors-config", str(config), "-f", str(tmp_path / "x.c1z"))
    assert result.code != 0
    assert len(result.error_lines) == 1 and "cannot run" in result.error_lines[0]


# -- Baton's one-shot flags on the standalone command ----------------------------------------------

def test_standalone_command_takes_batons_one_shot_flags(ext: ExternalWorld) -> None:
    env = {**os.environ, "BATON_DATA_DIR": str(ext.data_dir)}

    def command(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*PYBATON_CMD, "-f", str(ext.c1z), *args], env=env, capture_output=True, text=True)

    refused = command("--grant-entitlement", ENT, "--grant-principal", "alan.milner",
                      "--grant-principal-type", "user")
    assert refused.returncode != 0 and "provisioning is not enabled" in refused.stderr
    granted = command("-p", "--grant-entitlement", ENT, "--grant-principal", "alan.milner",
                      "--grant-principal-type", "user")
    assert granted.returncode == 0, granted.stderr
    assert f"grant {ENT} to {PRINCIPAL}: granted" in granted.stdout
    both = command("-p", "--revoke-grant", GRANT, "--delete-resource", "alan.milner",
                   "--delete-resource-type", "user")
    assert both.returncode == 2 and "cannot be used together" in both.stderr
    assert command("-p", "--revoke-grant", GRANT).returncode == 0
    assert ext.access_rows("app", "salesforce", "admin", PRINCIPAL) == 0
    assert [line["result"] for line in ext.audit_lines()] == ["refused", "granted", "refused", "revoked"]


# -- pieces ----------------------------------------------------------------------------------------

def test_result_lines_read_back_for_every_outcome() -> None:
    """What a pybaton command prints is what the parent reads back (a Go command prints nothing: None)."""
    known = 0
    for op in Op:
        for outcome in Outcome:
            parsed = parse_result(op, f"noise\n{result_line(op, 'x:y', outcome)}\n")
            assert parsed in (outcome, None)
            known += parsed is outcome
    assert known == 11
    assert parse_result(Op.GRANT, "grant a to b: already exists") is Outcome.ALREADY
    assert parse_result(Op.REVOKE, "nothing printed") is None


def test_registry_errors_are_one_line(tmp_path: Path) -> None:
    config = tmp_path / "connectors.yaml"
    assert load_registry(config) == {}
    config.write_text("connectors:\n  - name: x\n")
    with pytest.raises(ConfigError, match=r"connectors\[0\]\.command"):
        load_registry(config)
    config.write_text("connectors:\n  - {name: x, command: [a]}\n  - {name: x, command: [b]}\n")
    with pytest.raises(ConfigError, match="defined twice"):
        load_registry(config)


def test_capabilities_of_a_command(tmp_path: Path) -> None:
    entry = ExternalEntry(name="acme", command=PYBATON_CMD, env={"BATON_DATA_DIR": str(tmp_path)})
    caps = capabilities(entry)
    assert caps is not None
    assert {"grant", "get"} <= caps["group"]
    assert {"create_account", "delete_resource", "rotate_credentials", "get"} <= caps["user"]
    assert capabilities(ExternalEntry(name="x", command=[str(tmp_path / "nope")])) is None
