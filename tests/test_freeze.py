"""``pybaton build``: a connector script frozen into one executable that runs with no Python at all.

Building takes about half a minute per executable, so these tests carry the
``build`` marker and share one xdist group (one worker builds, the other keeps
running the rest of the suite); ``make test`` runs them like any other test.
The start-time figure is measured by ``bench/bench_freeze.py``, not asserted here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from provision_helpers import Cli, DemoWorld, Result

from pybaton.c1z import C1ZFile, SyncReader
from pybaton.freeze import EXCLUDED_MODULES, connector_build, freeze, pyinstaller_args

pytestmark = [pytest.mark.build, pytest.mark.xdist_group("build")]

ROOT = Path(__file__).parent.parent
CSV_SCRIPT = ROOT / "examples" / "csv_connector.py"
PEOPLE = ROOT / "examples" / "data" / "people.csv"
DEMO_SCRIPT = """\
from pybaton.connector import run
from pybaton.connectors.demo import DemoConnector

run(DemoConnector)
"""
LISTINGS = ("resource-types", "resources", "entitlements", "grants")


def _pybaton(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pybaton.cli", *map(str, args)], capture_output=True,
                          text=True, timeout=300, cwd=cwd)


def _build(script: Path, output: Path) -> Path:
    """Through the command users run: ``pybaton build SCRIPT -o OUTPUT``."""
    proc = _pybaton("build", script, "-o", output)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"built {output}")
    return output


@pytest.fixture(scope="module")
def baton_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build(CSV_SCRIPT, tmp_path_factory.mktemp("csv-build") / "baton-csv")


@pytest.fixture(scope="module")
def baton_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("demo-build")
    script = work / "demo_connector.py"
    script.write_text(DEMO_SCRIPT)
    return _build(script, work / "baton-demo")


def _bare(exe: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``exe`` under ``env -i``: an empty environment, so no PATH and no Python to find."""
    return subprocess.run(["env", "-i", str(exe), *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def _listings(c1z: Path) -> dict[str, object]:
    out = {}
    for listing in LISTINGS:
        proc = _pybaton("-f", c1z, "-o", "json", listing)
        assert proc.returncode == 0, proc.stderr
        out[listing] = json.loads(proc.stdout)
    return out


def test_the_build_command_leaves_python_and_dev_tools_out() -> None:
    args = pyinstaller_args(connector_build(CSV_SCRIPT, Path("baton-csv")), Path("/tmp/work"))
    assert args[args.index("--name") + 1] == "baton-csv"
    assert "--onefile" in args and args[-1] == str(CSV_SCRIPT.resolve())
    assert {args[i + 1] for i, a in enumerate(args) if a == "--exclude-module"} == set(EXCLUDED_MODULES)


def test_csv_executable_syncs_without_python_like_the_script(baton_csv: Path, tmp_path: Path) -> None:
    shutil.copy(PEOPLE, tmp_path / "people.csv")
    frozen = _bare(baton_csv, "-f", "frozen.c1z", "--path", "people.csv", "--log-level", "warn", cwd=tmp_path)
    assert frozen.returncode == 0, frozen.stderr
    assert "16 resources, 6 entitlements, 14 grants" in frozen.stdout
    script = subprocess.run([sys.executable, str(CSV_SCRIPT), "-f", "script.c1z", "--path", "people.csv",
                             "--log-level", "warn"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert script.returncode == 0, script.stderr
    assert _listings(tmp_path / "frozen.c1z") == _listings(tmp_path / "script.c1z")


def test_nothing_but_the_executable_and_its_output_is_left_behind(baton_csv: Path, tmp_path: Path) -> None:
    shutil.copy(PEOPLE, tmp_path / "people.csv")
    assert _bare(baton_csv, "-f", "out.c1z", "--path", "people.csv", cwd=tmp_path).returncode == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.c1z", "people.csv"]


@pytest.mark.parametrize("command", ["capabilities", "config"])
def test_csv_executable_prints_the_scripts_json(baton_csv: Path, tmp_path: Path, command: str) -> None:
    args = [command, "--path", str(PEOPLE)] if command == "capabilities" else [command]
    frozen = _bare(baton_csv, *args, cwd=tmp_path)
    script = subprocess.run([sys.executable, str(CSV_SCRIPT), *args], capture_output=True, text=True, timeout=120)
    assert frozen.returncode == 0 == script.returncode, frozen.stderr + script.stderr
    assert json.loads(frozen.stdout) == json.loads(script.stdout)


def test_csv_executable_reports_bad_input_in_one_line(baton_csv: Path, tmp_path: Path) -> None:
    proc = _bare(baton_csv, "-f", "x.c1z", "--path", "missing.csv", cwd=tmp_path)
    assert proc.returncode != 0
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip() and not ln[:4].isdigit()]
    assert len(lines) == 1 and lines[0].startswith("error:") and "missing.csv" in lines[0]
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "x.c1z").exists()


def test_a_failed_build_leaves_no_executable(tmp_path: Path) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text("this is not python (\n")
    proc = _pybaton("build", broken, "-o", tmp_path / "baton-broken")
    assert proc.returncode == 1
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "SyntaxError" in errors[0] and "Traceback" not in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["baton-broken.build.log", "broken.py"]
    assert "was never closed" in (tmp_path / "baton-broken.build.log").read_text()


def test_build_refuses_what_it_cannot_build(tmp_path: Path) -> None:
    missing = _pybaton("build", tmp_path / "nope.py", "-o", tmp_path / "x")
    assert missing.returncode == 1 and "no such connector script" in missing.stderr
    both = _pybaton("build", CSV_SCRIPT, "--pybaton")
    assert both.returncode == 2 and "--pybaton" in both.stderr
    into_dir = _pybaton("build", CSV_SCRIPT, "-o", tmp_path)
    assert into_dir.returncode == 2 and "is a directory" in into_dir.stderr
    with pytest.raises(Exception, match="no such connector script"):
        freeze(connector_build(tmp_path / "nope.py", tmp_path / "x"))


# -- a built executable registered like a Go connector ---------------------------------------------

class FrozenWorld(DemoWorld):
    """A demo database served by the frozen demo connector, registered in ``connectors.yaml``."""

    def __init__(self, tmp_path: Path, cli: Cli, exe: Path) -> None:
        super().__init__(tmp_path, cli)
        self.exe = exe
        self.config = tmp_path / "connectors.yaml"
        self.config.write_text(yaml.safe_dump({"connectors": [
            {"name": "acme", "command": [str(exe)], "env": {"BATON_DATA_DIR": str(self.data_dir)},
             "kind": "pybaton"}]}))

    @property
    def flags(self) -> list[str]:
        return ["--connectors-config", str(self.config), "-f", str(self.c1z)]

    def run(self, command: str, *args: str, connector: str = "acme") -> Result:
        return self._cli(command, connector, *args, *self.flags)


def test_registered_executable_syncs_and_grants(baton_demo: Path, tmp_path: Path, cli: Cli) -> None:
    world = FrozenWorld(tmp_path, cli, baton_demo)
    world.sync()
    with C1ZFile.open(world.c1z) as c1z:
        reader = SyncReader.of(c1z)
        assert {r.id.resource for r in reader.resources("user")} >= {"alan.milner"}
    ent, principal = "app:salesforce:admin", "user:alan.milner"
    assert world.access_rows("app", "salesforce", "admin", principal) == 0
    result = cli("grant", "acme", "--entitlement", ent, "--principal", principal, "-p", *world.flags)
    assert result.code == 0, result.err
    assert f"grant {ent} to {principal}: granted" in result.out
    assert f"re-read app:salesforce: grant {ent}:{principal} is present" in result.out
    assert world.access_rows("app", "salesforce", "admin", principal) == 1
    again = cli("grant", "acme", "--entitlement", ent, "--principal", principal, "-p", *world.flags)
    assert again.code == 0 and f"grant {ent} to {principal}: already exists" in again.out
    world.sync()
    assert world.grant_rows(f"{ent}:{principal}") == 1


def test_workspace_syncs_a_built_executable(baton_demo: Path, tmp_path: Path) -> None:
    data = tmp_path / "demo-data"
    (tmp_path / "pybaton.yaml").write_text(yaml.safe_dump({"version": 1, "data_dir": "data", "systems": {
        "acme": {"command": [str(baton_demo)], "env": {"BATON_DATA_DIR": str(data)}, "kind": "pybaton",
                 "identity_provider": True}}}))
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
    proc = subprocess.run([sys.executable, "-m", "pybaton.cli", "sync", "--all", "-w", "pybaton.yaml"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr
    with C1ZFile.open(tmp_path / "data" / "acme.c1z") as c1z:
        assert any(True for _ in SyncReader.of(c1z).grants())


# -- pybaton itself (make dist) --------------------------------------------------------------------

def test_pybaton_itself_runs_without_python(tmp_path: Path) -> None:
    """``make dist``: every command group and built-in connector is in, found by name at run time."""
    exe = tmp_path / "pybaton"
    proc = _pybaton("build", "--pybaton", "-o", exe)
    assert proc.returncode == 0, proc.stderr
    version = _bare(exe, "--version", cwd=tmp_path)
    assert version.returncode == 0 and version.stdout.strip().endswith("self-contained executable)")
    synced = _bare(exe, "sync", "demo", "-f", "demo.c1z", "--data-dir", "demo-data", "--log-level", "warn",
                   cwd=tmp_path)
    assert synced.returncode == 0, synced.stderr
    frozen = _bare(exe, "-f", "demo.c1z", "-o", "json", "grants", cwd=tmp_path)
    assert frozen.returncode == 0, frozen.stderr
    assert json.loads(frozen.stdout) == json.loads(_pybaton("-f", "demo.c1z", "-o", "json", "grants",
                                                            cwd=tmp_path).stdout)
    listed = _bare(exe, "-o", "json", "connectors", cwd=tmp_path)
    assert {c["name"] for c in json.loads(listed.stdout) if not c["error"]} >= {"demo", "postgres", "ldap", "sql"}
