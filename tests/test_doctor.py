"""``pybaton doctor``: one line per workspace system, against real servers and ones nobody answers on."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from provision_helpers import Cli, Result

from pybaton.testing.servers import PostgresServer, SlapdServer, free_port

pytestmark = pytest.mark.servers

RUN_DEMO = ("import sys; from pybaton.connector import run; from pybaton.connectors.demo import DemoConnector; "
            "run(DemoConnector, sys.argv[1:])")


def _doctor(cli: Cli, root: Path, systems: dict[str, Any], *args: str) -> Result:
    first = next(iter(systems))
    systems[first] = {**systems[first], "identity_provider": True}
    (root / "pybaton.yaml").write_text(yaml.safe_dump({"version": 1, "systems": systems}, sort_keys=False))
    return cli("doctor", "-w", root / "pybaton.yaml", *args)


def _lines(result: Result) -> dict[str, str]:
    return {line.split()[1].rstrip(":"): line for line in result.out.splitlines()}


def test_every_reachable_system_is_one_ok_line(cli: Cli, tmp_path: Path, postgres_server: PostgresServer,
                                               slapd_server: SlapdServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOC_PG_DSN", postgres_server.dsn())
    monkeypatch.setenv("DOC_LDAP_PASSWORD", slapd_server.bind_password)
    result = _doctor(cli, tmp_path, {
        "hr": {"connector": "demo", "config": {"data_dir": str(tmp_path / "hr")}},
        "pg": {"connector": "postgres", "config": {"dsn_env": "DOC_PG_DSN", "databases": ["postgres"]}},
        "ldap": {"connector": "ldap", "config": {"url": slapd_server.url, "base_dn": "dc=example,dc=org",
                                                 "bind_dn": slapd_server.bind_dn,
                                                 "password_env": "DOC_LDAP_PASSWORD"}},
        "acme": {"command": [sys.executable, "-c", RUN_DEMO], "kind": "pybaton",
                 "env": {"BATON_DATA_DIR": str(tmp_path / "acme")}},
    })
    assert result.code == 0, result.out + result.err
    lines = _lines(result)
    assert list(lines) == ["hr", "pg", "ldap", "acme"]
    assert all(line.startswith("ok    ") for line in lines.values())
    assert "postgres connector reached the system" in lines["pg"]
    assert "ldap connector reached the system" in lines["ldap"]
    assert "answers capabilities" in lines["acme"]


def test_unreachable_and_misconfigured_systems_fail_their_own_line(
        cli: Cli, tmp_path: Path, postgres_server: PostgresServer, slapd_server: SlapdServer,
        monkeypatch: pytest.MonkeyPatch) -> None:
    dead = free_port()
    monkeypatch.setenv("DOC_PG_DSN", postgres_server.dsn())
    monkeypatch.setenv("DOC_DEAD_DSN", f"postgresql://nobody:secret-pw@127.0.0.1:{dead}/postgres")
    monkeypatch.setenv("DOC_LDAP_PASSWORD", "not-the-password")
    result = _doctor(cli, tmp_path, {
        "pg": {"connector": "postgres", "config": {"dsn_env": "DOC_PG_DSN", "databases": ["postgres"]}},
        "down": {"connector": "postgres", "config": {"dsn_env": "DOC_DEAD_DSN"}},
        "ldap": {"connector": "ldap", "config": {"url": slapd_server.url, "base_dn": "dc=example,dc=org",
                                                 "bind_dn": slapd_server.bind_dn,
                                                 "password_env": "DOC_LDAP_PASSWORD"}},
        "gone": {"command": [str(tmp_path / "baton-missing")]},
    })
    assert result.code == 1
    lines = _lines(result)
    assert lines["pg"].startswith("ok    ")
    assert lines["down"].startswith("FAIL  down: ") and "unreachable" in lines["down"]
    assert lines["ldap"].startswith("FAIL  ldap: ")
    assert lines["gone"].startswith("FAIL  gone: ") and "baton-missing" in lines["gone"]
    assert "secret-pw" not in result.out + result.err and "not-the-password" not in result.out + result.err
    assert result.err.strip() == "3 of 4 systems cannot be reached: down, ldap, gone"


def test_doctor_checks_only_the_systems_named(cli: Cli, tmp_path: Path) -> None:
    result = _doctor(cli, tmp_path, {
        "hr": {"connector": "demo", "config": {"data_dir": str(tmp_path / "hr")}},
        "gone": {"command": [str(tmp_path / "baton-missing")]},
    }, "hr")
    assert result.code == 0 and list(_lines(result)) == ["hr"]
    unknown = cli("doctor", "-w", tmp_path / "pybaton.yaml", "nope")
    assert unknown.code == 1 and "nope" in unknown.err
