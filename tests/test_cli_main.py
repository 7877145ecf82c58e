"""The `pybaton` entry point: lazy command groups and a fast path for the read commands."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.main import get_command

from pybaton.cli.main import COMMANDS, command_modules

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.mark.parametrize("module", sorted(COMMANDS))
def test_command_table_matches_what_each_module_registers(module: str) -> None:
    app = typer.Typer()

    @app.callback()
    def root() -> None:
        """Root."""

    importlib.import_module(f"pybaton.cli.{module}").register(app)
    assert sorted(get_command(app).commands) == sorted(COMMANDS[module])  # type: ignore[attr-defined]


def test_the_command_word_is_found_after_root_options() -> None:
    assert [m.__name__ for m in command_modules(["-f", "x.c1z", "-o", "json", "grants", "-e", "e"])] == \
        ["pybaton.cli.read"]
    assert [m.__name__ for m in command_modules(["--sync-id", "abc", "diff"])] == ["pybaton.cli.analysis"]
    assert len(command_modules(["--help"])) == len(COMMANDS)
    assert len(command_modules(["no-such-command"])) == len(COMMANDS)


def test_read_commands_load_no_connector_cel_or_driver() -> None:
    """Listing one entitlement's grants must not pay for connectors (a cold CLI start is the figure)."""
    code = (
        "import sys; from pybaton.cli.main import run; "
        f"rc = run(['-f', {str(FIXTURES / 'ldap.c1z')!r}, '-o', 'json', 'grants', '-e', "
        "'group:cn=engineering,ou=groups,dc=example,dc=org:member']); "
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('cel', 'psycopg', 'ldap3', 'httpx', 'pymysql') "
        "or m.startswith(('pybaton.connectors', 'pybaton.sync', 'pybaton.provision', 'pybaton.reconcile'))); "
        "print(rc, heavy, file=sys.stderr)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stderr.strip().splitlines()[-1] == "0 []", proc.stderr
    assert '"grants"' in proc.stdout


@pytest.mark.parametrize("command", ["sync", "grant", "revoke", "create-account", "delete-resource",
                                     "rotate-credentials"])
def test_connector_commands_answer_help_before_a_connector_is_named(command: str,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    from pybaton.cli.main import run
    from pybaton.connectors import BUILTIN

    assert run([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: pybaton {command} NAME")
    assert all(name in out for name in BUILTIN)
