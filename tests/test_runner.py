"""The standard connector command: flags, env, .baton.yaml, errors, secrets, capabilities."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from connector_toys import Toy, ToyConfig
from pydantic import Field, SecretStr

from pybaton.connector import ConnectorMetadata
from pybaton.connector.logging import Redactor
from pybaton.errors import FatalError, UsageError
from pybaton.runtime.flags import RuntimeFlags, SyncFlags
from pybaton.runtime.runner import build_parser, execute, parse

TESTS = Path(__file__).parent
SECRET = "s3cr3t-Value-9f8e7d"


class StrictConfig(ToyConfig):
    api_key: SecretStr = Field(description="required API key")
    workers_hint: int = Field(2, description="an int the connector reads")


class Strict(Toy):
    metadata = ConnectorMetadata("strict", "Strict toy")
    config_class = StrictConfig


class Leaky(Toy):
    """Logs and fails with its secret in the text, as careless connectors do."""

    metadata = ConnectorMetadata("leaky", "Leaky toy")
    config_class = StrictConfig

    def validate(self) -> None:
        key = self.config.api_key.get_secret_value()  # type: ignore[attr-defined]
        logging.getLogger("leaky").info("connecting with key=%s and key %s", key, key)
        logging.getLogger("leaky").debug("headers: Authorization: Bearer abcdefghijkl123")
        raise FatalError(f"login failed for postgres://admin:{key}@db/x using {key}")


class Interrupted(Toy):
    metadata = ConnectorMetadata("interrupted", "Interrupted toy")

    def validate(self) -> None:
        raise KeyboardInterrupt


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for h in list(root.handlers):
        if h not in handlers:
            root.removeHandler(h)
    root.setLevel(level)


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(cls: Any, *argv: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    out = io.StringIO()
    code = execute(cls, list(argv), env=env or {}, out=out)
    return code, out.getvalue()


# -- precedence ----------------------------------------------------------------------------------

def write_yaml(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text))
    return path


@pytest.mark.parametrize(("flag", "env", "yaml", "expected"), [
    (None, None, None, 1),
    (None, None, "workers: 3", 3),
    (None, "5", "workers: 3", 5),
    ("7", "5", "workers: 3", 7),
])
def test_standard_flag_precedence(workdir: Path, flag: str | None, env: str | None, yaml: str | None,
                                  expected: int) -> None:
    if yaml:
        write_yaml(workdir / ".baton.yaml", yaml)
    argv = ["--workers", flag] if flag else []
    inv = parse(Toy, argv, env={"BATON_WORKERS": env} if env else {})
    assert inv.group(SyncFlags).workers == expected


@pytest.mark.parametrize(("flag", "env", "yaml", "expected"), [
    (None, None, None, "eu"),
    (None, None, "region: us", "us"),
    (None, "ap", "region: us", "ap"),
    ("sa", "ap", "region: us", "sa"),
])
def test_connector_field_precedence(workdir: Path, flag: str | None, env: str | None, yaml: str | None,
                                    expected: str) -> None:
    if yaml:
        write_yaml(workdir / ".baton.yaml", yaml)
    argv = ["--region", flag] if flag else []
    config = parse(Toy, argv, env={"BATON_REGION": env} if env else {}).connector_config()
    assert config.region == expected  # type: ignore[attr-defined]


def test_config_file_flag_and_env_point_elsewhere(workdir: Path) -> None:
    write_yaml(workdir / ".baton.yaml", "region: default-file\n")
    other = write_yaml(workdir / "other.yaml", "region: other-file\nlog-level: debug\nskip-grants: true\n")
    inv = parse(Toy, ["--config-file", str(other)], env={})
    assert inv.connector_config().region == "other-file"  # type: ignore[attr-defined]
    assert inv.runtime.log_level == "debug"
    assert inv.group(SyncFlags).skip_grants is True
    via_env = parse(Toy, [], env={"BATON_CONFIG_FILE": str(other)})
    assert via_env.connector_config().region == "other-file"  # type: ignore[attr-defined]


def test_page_size_is_none_unless_given(workdir: Path) -> None:
    """The engine must know whether the operator chose a page size (else the connector's preference applies)."""
    assert parse(Toy, [], env={}).group(SyncFlags).page_size is None
    assert parse(Toy, ["--page-size", "100"], env={}).group(SyncFlags).page_size == 100
    assert parse(Toy, [], env={"BATON_PAGE_SIZE": "250"}).group(SyncFlags).page_size == 250


def test_lists_repeatable_comma_env_and_yaml(workdir: Path) -> None:
    inv = parse(Toy, ["--sync-resources", "user:u1,user:u2", "--sync-resources", "group:g1",
                      "--tags", "a", "--tags", "b,c"], env={})
    assert inv.group(SyncFlags).sync_resources == ["user:u1", "user:u2", "group:g1"]
    assert inv.connector_config().tags == ["a", "b", "c"]  # type: ignore[attr-defined]
    assert parse(Toy, [], env={"BATON_SYNC_RESOURCE_TYPES": "user, group"}) \
        .group(SyncFlags).sync_resource_types == ["user", "group"]
    write_yaml(workdir / ".baton.yaml", "sync-resource-types: [user]\ntags: x,y\n")
    inv = parse(Toy, [], env={})
    assert inv.group(SyncFlags).sync_resource_types == ["user"]
    assert inv.connector_config().tags == ["x", "y"]  # type: ignore[attr-defined]


def test_bool_flags_override_env_both_ways(workdir: Path) -> None:
    assert parse(Toy, [], env={"BATON_SKIP_GRANTS": "true"}).group(SyncFlags).skip_grants is True
    assert parse(Toy, ["--no-skip-grants"], env={"BATON_SKIP_GRANTS": "true"}).group(SyncFlags).skip_grants is False
    assert parse(Toy, ["--skip-grants"], env={}).group(SyncFlags).skip_grants is True


def test_short_file_flag_and_defaults(workdir: Path) -> None:
    assert parse(Toy, [], env={}).runtime == RuntimeFlags()
    assert parse(Toy, ["-f", "x.c1z"], env={}).runtime.file == "x.c1z"


def test_every_standard_flag_is_on_the_command_line() -> None:
    help_text = build_parser(Toy).format_help()
    for flag in ("-f", "--file", "--log-level", "--log-format", "--sync-resources", "--sync-resource-types",
                 "--skip-entitlements-and-grants", "--skip-grants", "--workers", "--page-size", "--config-file",
                 "--users", "--api-token", "BATON_USERS"):
        assert flag in help_text


# -- errors --------------------------------------------------------------------------------------

def one_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    return lines[0]


def test_missing_required_field_is_one_line_naming_it(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = run(Strict)
    line = one_line(capsys.readouterr().err)
    assert code == 1
    assert line.startswith("error: config: api_key") and "BATON_API_KEY" in line


def test_invalid_value_names_field_and_source(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = run(Toy, env={"BATON_WORKERS": "many"})
    line = one_line(capsys.readouterr().err)
    assert code == 1 and "workers" in line and "BATON_WORKERS" in line and "Traceback" not in line
    code, _ = run(Toy, "--log-level", "loud")
    assert code == 1 and "log_level" in one_line(capsys.readouterr().err)
    code, _ = run(Toy, "--sync-resources", "nocolon")
    assert code == 1 and "TYPE:ID" in one_line(capsys.readouterr().err)


def test_bad_yaml_and_unknown_flag(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_yaml(workdir / ".baton.yaml", "region: [unclosed\n")
    code, _ = run(Toy)
    assert code == 1 and "not valid YAML" in one_line(capsys.readouterr().err)
    (workdir / ".baton.yaml").unlink()
    code, _ = run(Toy, "--no-such-flag")
    assert code == UsageError.exit_code
    assert one_line(capsys.readouterr().err) == "error: unrecognized arguments: --no-such-flag"


def test_bad_config_in_a_real_process_prints_no_traceback(tmp_path: Path) -> None:
    script = tmp_path / "strict.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(TESTS)!r})
        sys.path.insert(0, {str(tmp_path)!r})
        from test_runner import Strict
        from pybaton.connector import run
        run(Strict)
    """))
    proc = subprocess.run([sys.executable, str(script), "--workers", "0"], capture_output=True, text=True,
                          cwd=tmp_path, env={"PATH": "/usr/bin:/bin", "BATON_API_KEY": SECRET}, timeout=60)
    assert proc.returncode == 1
    line = one_line(proc.stderr)
    assert line.startswith("error: config: workers:") and "Traceback" not in proc.stderr


def test_connector_failure_is_one_line_and_debug_shows_traceback(workdir: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = run(Leaky, "--log-level", "error", env={"BATON_API_KEY": SECRET})
    err = capsys.readouterr().err
    assert code == 1
    assert one_line(err).startswith("error: leaky connector failed: login failed")
    code, _ = run(Leaky, "--log-level", "debug", env={"BATON_API_KEY": SECRET})
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" in err and SECRET not in err


def test_keyboard_interrupt_exits_130(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = run(Interrupted, "-f", str(workdir / "x.c1z"), "--log-level", "error")
    assert code == 130
    assert one_line(capsys.readouterr().err) == "interrupted; run again to resume"


# -- secrets -------------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["console", "json"])
def test_secrets_never_reach_logs_or_errors(workdir: Path, capsys: pytest.CaptureFixture[str], fmt: str) -> None:
    code, out = run(Leaky, "--log-level", "debug", "--log-format", fmt, env={"BATON_API_KEY": SECRET})
    err = capsys.readouterr().err
    assert code == 1
    assert "connecting with key=" in err and "<redacted>" in err
    assert SECRET not in err + out
    assert "abcdefghijkl123" not in err
    if fmt == "json":
        records = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
        assert any(r["logger"] == "leaky" for r in records)


def test_secret_flag_value_is_redacted_from_sync_logs(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = run(Toy, "--api-token", SECRET, "--log-level", "debug", "-f", str(workdir / "t.c1z"))
    err = capsys.readouterr().err
    assert code == 0
    assert "listing users with token <redacted>" in err and SECRET not in err


def test_config_command_shows_schema_without_secret_values(workdir: Path) -> None:
    code, out = run(Toy, "config", env={"BATON_API_TOKEN": SECRET})
    assert code == 0
    doc = json.loads(out)
    fields = {f["name"]: f for f in doc["fields"]}
    assert fields["api_token"]["secret"] is True and fields["api_token"]["default"] == "<redacted>"
    assert fields["users"] == {"name": "users", "flag": "--users", "env": "BATON_USERS", "type": "integer",
                               "required": False, "default": 10, "secret": False, "description": "how many users"}
    assert fields["tags"]["type"] == "list[string]" and fields["tags"]["default"] == []
    assert "default-token-Zq9" not in out and SECRET not in out
    standard = {f["name"]: f for f in doc["standard_flags"]}
    assert standard["log_level"]["choices"] == ["debug", "info", "warn", "error"]
    assert standard["file"]["default"] == "sync.c1z"


def test_config_command_needs_no_config(workdir: Path) -> None:
    code, out = run(Strict, "config")
    assert code == 0
    assert {f["name"]: f for f in json.loads(out)["fields"]}["api_key"]["required"] is True


def test_redactor_patterns() -> None:
    redact = Redactor(["hunter2"])
    text = redact("pw hunter2 url https://bob:pa55@host/db Authorization: Bearer tok.en-123456 "
                  "password=abc123 {\"client_secret\": \"xyz\"} token: QWERTY")
    for leaked in ("hunter2", "pa55", "tok.en-123456", "abc123", "xyz", "QWERTY"):
        assert leaked not in text
    assert "https://bob:<redacted>@host/db" in text


# -- capabilities and sync -----------------------------------------------------------------------

def test_capabilities_json(workdir: Path) -> None:
    code, out = run(Toy, "capabilities")
    assert code == 0
    doc = json.loads(out)
    by_type = {c["resourceType"]["id"]: c["capabilities"] for c in doc["resourceTypeCapabilities"]}
    assert by_type["user"] == ["CAPABILITY_SYNC", "CAPABILITY_ACCOUNT_PROVISIONING", "CAPABILITY_TARGETED_SYNC"]
    assert by_type["group"] == ["CAPABILITY_SYNC", "CAPABILITY_PROVISION"]
    assert set(doc["connectorCapabilities"]) == {"CAPABILITY_SYNC", "CAPABILITY_PROVISION",
                                                 "CAPABILITY_ACCOUNT_PROVISIONING", "CAPABILITY_TARGETED_SYNC"}
    assert doc["accountCreationSchema"]["fieldMap"]["login"]["required"] is True


def test_capabilities_needs_valid_config(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = run(Strict, "capabilities")
    assert code == 1 and "api_key" in one_line(capsys.readouterr().err)


def test_sync_prints_summary_and_honours_flags(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(Toy, "-f", "toy.c1z", "--users", "7", "--groups", "2", "--page-size", "3", "--workers", "2",
                    "--log-level", "warn")
    assert code == 0, capsys.readouterr().err
    assert (workdir / "toy.c1z").exists()
    assert "sync of toy finished" in out
    assert "user: 7 resources, 0 entitlements, 0 grants" in out
    assert "group: 2 resources, 2 entitlements, 7 grants" in out
    code, out = run(Toy, "-f", "toy.c1z", "--skip-grants", "--sync-resource-types", "user", "--log-level", "warn")
    assert code == 0 and "group:" not in out


def test_sync_into_missing_directory_is_a_user_error(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = run(Toy, "-f", "no/such/dir/x.c1z")
    assert code == 1 and "does not exist" in one_line(capsys.readouterr().err)


def test_help_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = run(Toy, "--help")
    assert code == 0 and "--sync-resources" in capsys.readouterr().out


# -- the pybaton CLI -----------------------------------------------------------------------------

def cli(*argv: str) -> int:
    from pybaton.cli.main import run as run_cli

    return run_cli(list(argv))


def test_pybaton_sync_accepts_the_runner_flags(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli("sync", "demo", "-f", "demo.c1z", "--data-dir", str(workdir / "data"), "--log-level", "warn",
               "--workers", "2", "--skip-grants")
    out = capsys.readouterr().out
    assert code == 0 and "sync of demo finished" in out and (workdir / "demo.c1z").exists()
    assert "0 grants" in out.splitlines()[1]
    code = cli("sync", "demo", "--help")
    help_text = capsys.readouterr().out
    assert code == 0
    assert help_text.startswith("usage: pybaton sync demo")
    assert all(flag in help_text for flag in ("--data-dir", "--sync-resources", "--skip-grants", "-f FILE"))


def test_pybaton_sync_uses_root_file_flag_and_env(workdir: Path, capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BATON_DATA_DIR", str(workdir / "data"))
    monkeypatch.setenv("BATON_LOG_LEVEL", "error")
    assert cli("-f", "root.c1z", "sync", "demo") == 0
    assert (workdir / "root.c1z").exists()
    assert cli("sync", "demo", "--workers", "0") == 1
    assert "workers" in one_line(capsys.readouterr().err)


def test_pybaton_sync_unknown_connector(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("sync", "nope", "-f", "x.c1z") == 1
    line = one_line(capsys.readouterr().err)
    assert "unknown connector 'nope'" in line and "demo" in line and "scale" in line


def test_pybaton_connectors_lists_builtins(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("connectors", "-o", "json") == 0
    names = {c["name"]: c for c in json.loads(capsys.readouterr().out)}
    assert {"demo", "scale"} <= names.keys()
    assert names["demo"]["origin"] == "built-in" and names["demo"]["display_name"]
    assert cli("connectors") == 0
    assert "scale" in capsys.readouterr().out


def test_pybaton_summary(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("sync", "demo", "-f", "demo.c1z", "--data-dir", str(workdir / "data"), "--log-level", "error") == 0
    capsys.readouterr()
    assert cli("-f", "demo.c1z", "summary", "-o", "json", "--users", "3") == 0
    doc = json.loads(capsys.readouterr().out)
    types = {t["id"]: t for t in doc["types"]}
    assert types["user"]["resources"] > 3 and types["group"]["grants"] > 0
    assert len(doc["users"]) == 3 and all(u["groups"] for u in doc["users"])
    assert cli("-f", "demo.c1z", "summary") == 0
    out = capsys.readouterr().out
    assert "resource type" in out and "users and their groups" in out
    assert cli("-f", "missing.c1z", "summary") == 1


def test_rich_progress_draws_phases() -> None:
    from rich.console import Console

    from pybaton.runtime.progress import RichProgress, progress_for
    from pybaton.sync.progress import LogProgress

    buffer = io.StringIO()
    progress = RichProgress(Console(file=buffer, force_terminal=True, width=100))
    progress.phase("resources")
    progress.advance(5)
    progress.phase("grants", total=3)
    progress.advance(3)
    progress.close()
    assert "resources" in buffer.getvalue() and "grants" in buffer.getvalue()
    assert isinstance(progress_for(io.StringIO()), LogProgress)
