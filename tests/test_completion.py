"""Shell completion (Typer's): the scripts for bash, zsh and fish, and the answers the shells ask for.

A shell's completion script runs ``pybaton`` with ``_PYBATON_COMPLETE=complete_<shell>`` and the words
typed so far; these tests speak that protocol directly, as the shells do.
``_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION`` lets a test name the shell instead of Typer detecting
the one it runs in.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PYBATON = [sys.executable, "-m", "pybaton.cli"]


def _run(*args: str, **environ: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("_PYBATON", "_TYPER"))} | environ
    return subprocess.run([*PYBATON, *args], capture_output=True, text=True, timeout=120, env=env)


def _complete(shell: str, words: str) -> list[str]:
    """What pybaton answers a shell completing ``words`` (the last word is the one being completed)."""
    env = {"_PYBATON_COMPLETE": f"complete_{shell}", "_TYPER_COMPLETE_ARGS": words}
    if shell == "bash":
        env |= {"COMP_WORDS": words, "COMP_CWORD": str(len(words.split(" ")) - 1)}
    if shell == "fish":
        env["_TYPER_COMPLETE_FISH_ACTION"] = "get-args"
    proc = _run(**env)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_show_completion_prints_the_shells_script(shell: str) -> None:
    proc = _run("--show-completion", shell, _TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION="1")
    assert proc.returncode == 0, proc.stderr
    assert f"complete_{shell}" in proc.stdout and "pybaton" in proc.stdout


def test_bash_completes_commands_and_their_options() -> None:
    assert sorted(_complete("bash", "pybaton gra")) == ["grant", "grants"]
    assert "--entitlement" in _complete("bash", "pybaton grants --")


def test_zsh_and_fish_complete_commands_with_their_help() -> None:
    zsh = "\n".join(_complete("zsh", "pybaton gra"))
    assert '"grants":"List grants' in zsh and '"grant":"Grant an entitlement' in zsh
    fish = _complete("fish", "pybaton gra")
    assert sorted(line.split("\t")[0] for line in fish) == ["grant", "grants"]


def test_install_completion_writes_the_script_where_the_shell_reads_it(tmp_path: Path) -> None:
    proc = _run("--install-completion", "bash", HOME=str(tmp_path), _TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION="1")
    assert proc.returncode == 0, proc.stderr
    script = tmp_path / ".bash_completions" / "pybaton.sh"
    assert "complete_bash" in script.read_text()
    assert str(script.relative_to(tmp_path)) in (tmp_path / ".bashrc").read_text()
