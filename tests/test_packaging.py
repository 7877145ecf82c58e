"""pybaton as users install it: extras named when missing, the version line, the wheel in a fresh venv.

The missing-extra checks run ``pybaton`` in a subprocess with the optional
module made unimportable (``sys.modules[name] = None``, what Python does for an
absent package), one per extra. The wheel tests build the real wheel and sdist
with ``python -m build`` and install them into new virtual environments (plain
venv, pipx, uv tool); they carry the ``build`` marker and run under ``make test``, in an xdist group of
their own (so they run beside, not after, the executables of test_freeze.py).
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest

import pybaton
from pybaton.extras import OPTIONAL_MODULES, missing_extra, optional_import

ROOT = Path(__file__).parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
FIXTURES = Path(__file__).parent / "fixtures"
NOT_EXTRAS = {"all", "dev"}


def _requirement_name(requirement: str) -> str:
    for stop in "[<>=;! ":
        requirement = requirement.split(stop)[0]
    return requirement.lower()


def test_every_extra_is_known_and_every_known_module_is_an_extra() -> None:
    extras = PYPROJECT["project"]["optional-dependencies"]
    declared = {name: {_requirement_name(r) for r in reqs} for name, reqs in extras.items()}
    for module, (extra, distribution) in OPTIONAL_MODULES.items():
        assert distribution in declared[extra], f"{module}: {distribution} is not in the {extra} extra"
    assert {extra for extra, _ in OPTIONAL_MODULES.values()} == set(extras) - NOT_EXTRAS
    (everything,) = extras["all"]  # "all" is every runtime extra (building executables is a developer's)
    assert set(everything.removeprefix("pybaton[").removesuffix("]").split(",")) == \
        set(extras) - NOT_EXTRAS - {"build"}


def test_the_license_is_a_plain_spdx_string_with_a_backend_that_reads_it() -> None:
    assert PYPROJECT["project"]["license"] == "Apache-2.0"
    setuptools = next(r for r in PYPROJECT["build-system"]["requires"] if r.startswith("setuptools"))
    assert setuptools == "setuptools>=77"  # the first setuptools reading PEP 639 license expressions


def test_missing_extra_names_it_through_chained_errors() -> None:
    try:
        try:
            raise ModuleNotFoundError("No module named 'psycopg.rows'", name="psycopg.rows")
        except ImportError as inner:
            raise RuntimeError("while loading") from inner
    except RuntimeError as exc:
        error = missing_extra(exc, "the postgres connector")
    assert error is not None and error.extra == "postgres"
    assert str(error) == ("the postgres connector needs psycopg, which is not installed: install "
                          "pybaton[postgres] (pip install 'pybaton[postgres]')")
    assert missing_extra(ModuleNotFoundError("x", name="not_an_extra")) is None
    with pytest.raises(ModuleNotFoundError), optional_import("x"):
        raise ModuleNotFoundError("No module named 'not_an_extra'", name="not_an_extra")


def _without(module: str, *args: str | Path, cwd: Path | None = None,
             **environ: str) -> subprocess.CompletedProcess[str]:
    """``pybaton ARGS`` as if ``module`` were not installed."""
    code = (f"import sys; sys.modules[{module!r}] = None; from pybaton.cli.main import run; "
            f"sys.exit(run(sys.argv[1:]))")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BATON_", "PYBATON_"))} | environ
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True,
                          timeout=120, cwd=cwd, env=env)


def _assert_one_line(proc: subprocess.CompletedProcess[str], extra: str, purpose: str) -> None:
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip() and not ln[:4].isdigit()]
    assert proc.returncode == 1, proc.stderr
    assert lines == [lines[0]] and lines[0].startswith(f"error: {purpose} needs "), proc.stderr
    assert f"install pybaton[{extra}]" in lines[0]
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(("module", "args", "purpose"), [
    ("psycopg", ("sync", "postgres", "--dsn", "postgres://127.0.0.1:1/x"), "the postgres connector"),
    ("ldap3", ("sync", "ldap", "--url", "ldap://127.0.0.1:1"), "the ldap connector"),
    ("cel", ("sync", "sql", "--config", "x.yml"), "the sql connector"),
    ("PyInstaller", ("build", "x.py"), "pybaton build"),
    ("starlette", ("serve",), "pybaton serve"),
    ("argon2", ("review", "status"), "pybaton review"),
    ("celery", ("fleet", "status", "-w", "x.yaml"), "pybaton fleet"),
])
def test_a_command_whose_extra_is_missing_names_the_extra(module: str, args: tuple[str, ...], purpose: str) -> None:
    _assert_one_line(_without(module, *args), OPTIONAL_MODULES[module][0], purpose)


def test_help_and_version_work_without_an_extra_and_show_what_needs_it() -> None:
    assert _without("cel", "--version").returncode == 0
    helped = _without("cel", "--help")
    assert helped.returncode == 0, helped.stderr
    assert "(unavailable: pybaton plan needs cel" in helped.stdout and "install pybaton[cel]" in helped.stdout
    _assert_one_line(_without("cel", "plan", "-w", "x.yaml"), "cel", "pybaton plan")


def test_a_driver_missing_at_connect_time_names_its_extra(tmp_path: Path) -> None:
    config = tmp_path / "app.yml"
    config.write_text((ROOT / "examples" / "sql" / "inhouse-mariadb.yml").read_text())
    proc = _without("pymysql", "sync", "sql", "--config", config, "-f", tmp_path / "x.c1z", cwd=tmp_path,
                    HELPDESK_HOST="127.0.0.1", HELPDESK_PORT="1", HELPDESK_USER="u", HELPDESK_PASSWORD="p")
    _assert_one_line(proc, "mysql", "the sql connector")
    assert not (tmp_path / "x.c1z").exists()


def test_export_xlsx_without_openpyxl_names_the_extra(tmp_path: Path) -> None:
    proc = _without("openpyxl", "export", "--format", "xlsx", "--out", tmp_path / "x.xlsx",
                    "-f", FIXTURES / "demo-two-syncs.c1z")
    _assert_one_line(proc, "xlsx", "export --format xlsx")
    assert not (tmp_path / "x.xlsx").exists()


def test_encrypting_credentials_without_pyrage_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from pybaton.errors import MissingExtraError
    from pybaton.provision.credentials import parse_recipient

    monkeypatch.setitem(sys.modules, "pyrage", None)
    with pytest.raises(MissingExtraError, match=r"encrypting credentials needs pyrage.*pybaton\[crypto\]"):
        parse_recipient("age1qqqq")


def test_version_names_pybaton_and_the_python_running_it() -> None:
    proc = subprocess.run([sys.executable, "-m", "pybaton.cli", "--version"], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"pybaton {pybaton.__version__} (Python {platform.python_version()}, " \
                                  f"{sys.executable})"


# -- the built wheel, installed --------------------------------------------------------------------

def _source_copy(dest: Path) -> Path:
    """The project's files (tracked, or new and not ignored) copied to ``dest``: the build then never
    sees what tests running beside it write under the work tree (egg-info, build folders, caches)."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("dist")
    source = _source_copy(tmp_path_factory.mktemp("source"))
    proc = subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(source)], capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "SetuptoolsDeprecationWarning" not in proc.stdout + proc.stderr  # e.g. the old license table
    return {"wheel": next(out.glob("*.whl")), "sdist": next(out.glob("*.tar.gz"))}


def _venv(path: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True, timeout=300)
    return path / "bin"


def _pip_install(bindir: Path, *requirements: str) -> None:
    proc = subprocess.run([str(bindir / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                           *requirements], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]


def _in(bindir: Path, *args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")
           and not k.startswith(("BATON_", "PYBATON_"))}
    env["PATH"] = f"{bindir}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run([str(bindir / "pybaton"), *map(str, args)], capture_output=True, text=True,
                          timeout=300, cwd=cwd, env=env)


@pytest.mark.build
@pytest.mark.xdist_group("wheel")
def test_wheel_and_sdist_hold_every_file_the_package_loads(dists: dict[str, Path]) -> None:
    src = ROOT / "src" / "pybaton"
    wanted = {f"pybaton/{p.relative_to(src)}" for p in src.rglob("*")
              if p.is_file() and "__pycache__" not in p.parts}
    wheel = set(zipfile.ZipFile(dists["wheel"]).namelist())
    assert wanted <= wheel
    assert "pybaton/py.typed" in wheel and any(n.endswith(".pyi") for n in wheel)
    assert not any(n.startswith("tests/") for n in wheel)
    metadata = next(zipfile.ZipFile(dists["wheel"]).read(n) for n in wheel if n.endswith("/METADATA")).decode()
    assert "License-Expression: Apache-2.0" in metadata
    with tarfile.open(dists["sdist"]) as sdist:
        names = {n.split("/", 1)[1] for n in sdist.getnames() if "/" in n}
    assert {f"src/{w}" for w in wanted} <= names and "pyproject.toml" in names


@pytest.mark.build
@pytest.mark.xdist_group("wheel")
def test_wheel_without_extras_names_the_missing_one_and_with_extras_syncs_the_demo(
        dists: dict[str, Path], tmp_path: Path) -> None:
    bindir = _venv(tmp_path / "venv")
    _pip_install(bindir, str(dists["wheel"]))
    version = _in(bindir, "--version", cwd=tmp_path)
    assert version.returncode == 0 and version.stdout.startswith(f"pybaton {pybaton.__version__} (Python ")
    missing = _in(bindir, "sync", "postgres", "--dsn", "postgres://127.0.0.1:1/x", cwd=tmp_path)
    _assert_one_line(missing, "postgres", "the postgres connector")

    _pip_install(bindir, f"pybaton[all] @ {dists['wheel'].as_uri()}")
    synced = _in(bindir, "sync", "demo", "-f", "demo.c1z", "--data-dir", "demo-data", "--log-level", "warn",
                 cwd=tmp_path)
    assert synced.returncode == 0, synced.stderr
    assert "sync of demo finished" in synced.stdout
    listed = _in(bindir, "-f", "demo.c1z", "resource-types", cwd=tmp_path)
    assert listed.returncode == 0 and "user" in listed.stdout
    no_extra = _in(bindir, "sync", "postgres", "--dsn", "postgres://127.0.0.1:1/x", cwd=tmp_path)
    assert "install pybaton" not in no_extra.stderr  # the extra is there now: the error is about the server


@pytest.mark.build
@pytest.mark.xdist_group("wheel")
@pytest.mark.parametrize("installer", ["pipx", "uv"])
def test_the_wheel_installs_as_a_tool(dists: dict[str, Path], tmp_path: Path, installer: str) -> None:
    bindir = tmp_path / "bin"
    env = {**os.environ, "PIPX_HOME": str(tmp_path / "pipx"), "PIPX_BIN_DIR": str(bindir),
           "UV_TOOL_DIR": str(tmp_path / "uv-tools"), "UV_TOOL_BIN_DIR": str(bindir),
           "UV_PYTHON": sys.executable, "UV_PYTHON_DOWNLOADS": "never"}
    tools = Path(sys.executable).parent
    command = ([str(tools / "pipx"), "install", "--python", sys.executable, str(dists["wheel"])]
               if installer == "pipx" else [str(tools / "uv"), "tool", "install", str(dists["wheel"])])
    proc = subprocess.run(command, capture_output=True, text=True, timeout=900, env=env)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    version = subprocess.run([str(bindir / "pybaton"), "--version"], capture_output=True, text=True, timeout=60)
    assert version.returncode == 0 and version.stdout.startswith(f"pybaton {pybaton.__version__} ")
