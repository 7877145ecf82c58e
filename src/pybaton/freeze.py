"""Self-contained executables: a connector script (or ``pybaton`` itself) as one file, no Python needed.

A Baton connector ships as one binary (``./baton-okta --domain …``). PyInstaller
(the ``build`` extra) gives a pybaton connector the same shape: it follows the
script's imports, bundles the interpreter, pybaton and the libraries actually
imported into one file that unpacks itself to a temp directory when run. The
executable has exactly the script's command line (Baton's flags,
``capabilities``, ``config``, sync and the one-shot provisioning flags), because
it *is* the script, frozen.

The file appears at the output path only when the build succeeded (built in a
temp directory, then renamed), so a failed build never leaves a half-written
executable where a ``connectors.yaml`` points; its log is kept beside it instead.
"""

from __future__ import annotations

import importlib.util
import os
import pkgutil
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pybaton.errors import UsageError, UserError
from pybaton.extras import optional_import

# Development tools a connector's environment may hold that no executable needs. Some are pulled in
# by optional plugins of libraries we do use (pydantic.v1's hypothesis plugin), doubling the size.
# zstandard's cffi backend is a fallback the C backend makes unused (12 MB unpacked at every start).
EXCLUDED_MODULES = ("hypothesis", "pytest", "_pytest", "mypy", "setuptools", "pkg_resources", "pip",
                    "tkinter", "IPython", "grpc_tools", "zstandard._cffi")

# Modules of pybaton imported by name at run time, which an import walk cannot see.
RUNTIME_IMPORTS = ("pybaton.runtime.runner",)

@dataclass(frozen=True)
class Build:
    """What to freeze and where the executable goes."""

    script: Path
    output: Path
    hidden_imports: tuple[str, ...] = ()
    metadata_of: tuple[str, ...] = ()
    search_paths: tuple[Path, ...] = field(default_factory=tuple)

    @property
    def name(self) -> str:
        return self.output.name


def connector_build(script: Path, output: Path) -> Build:
    """A connector script's build; modules beside the script can be imported by it."""
    if not script.is_file():
        raise UserError(f"{script}: no such connector script")
    if script.suffix != ".py":
        raise UsageError(f"{script}: a connector script is a .py file")
    return Build(script.resolve(), output, RUNTIME_IMPORTS, (), (script.resolve().parent,))


def pybaton_modules(skip: Iterable[str] = ("pybaton.testing",)) -> tuple[str, ...]:
    """Every pybaton module but the test kit: the CLI imports command groups and connectors by name."""
    import pybaton

    skipped = tuple(skip)
    names = (m.name for m in pkgutil.walk_packages(pybaton.__path__, "pybaton."))
    return tuple(sorted(n for n in names if not n.startswith(skipped)))


def pybaton_build(output: Path) -> Build:
    """``pybaton`` itself (``make dist``): the console script, every command group and built-in connector."""
    entry = importlib.util.find_spec("pybaton.cli.__main__")
    assert entry is not None and entry.origin is not None
    return Build(Path(entry.origin), output, pybaton_modules(), ("pybaton",))


def pyinstaller_args(build: Build, work: Path) -> list[str]:
    """The PyInstaller command line for ``build``, every intermediate file under ``work``."""
    # --strip: debug symbols are most of libpython's size, and every start unpacks it.
    args = [sys.executable, "-m", "PyInstaller", "--onefile", "--strip", "--noconfirm", "--log-level", "WARN",
            "--name", build.name, "--distpath", str(work / "dist"), "--workpath", str(work / "build"),
            "--specpath", str(work)]
    for path in build.search_paths:
        args += ["--paths", str(path)]
    for module in build.hidden_imports:
        args += ["--hidden-import", module]
    for dist in build.metadata_of:
        args += ["--copy-metadata", dist]
    for module in EXCLUDED_MODULES:
        args += ["--exclude-module", module]
    return [*args, str(build.script)]


def _check_output(output: Path) -> None:
    if output.is_dir():
        raise UsageError(f"-o {output}: is a directory; give the executable's file name (e.g. baton-csv)")
    if not output.parent.is_dir():
        raise UserError(f"-o {output}: directory {output.parent} does not exist")


def build_log(output: Path) -> Path:
    """Where PyInstaller's whole output is kept when a build fails."""
    return output.with_name(f"{output.name}.build.log")


def _run_pyinstaller(args: Sequence[str], build: Build) -> None:
    """Run PyInstaller; on failure keep its output beside the output path and say so in one line."""
    try:
        result = subprocess.run(args, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise UserError(f"cannot run PyInstaller: {exc}") from None
    if result.returncode != 0:
        output = result.stdout + result.stderr
        log = build_log(build.output)
        log.write_text(output)
        last = next((ln.strip() for ln in reversed(output.splitlines()) if ln.strip()), "no output")
        raise UserError(f"building {build.script} failed: {last} (PyInstaller's output: {log})")


def require_freezer() -> None:
    """PyInstaller comes with the ``build`` extra; say so before looking at anything else."""
    with optional_import("pybaton build"):
        import PyInstaller  # noqa: F401


def freeze(build: Build) -> Path:
    """Build ``build`` and put the executable at its output path (atomically); return that path."""
    require_freezer()
    _check_output(build.output)
    with tempfile.TemporaryDirectory(prefix="pybaton-build-") as tmp:
        work = Path(tmp)
        _run_pyinstaller(pyinstaller_args(build, work), build)
        built = work / "dist" / build.name
        staged = build.output.with_name(f".{build.name}.partial")
        shutil.copy2(built, staged)
        os.chmod(staged, 0o755)
        os.replace(staged, build.output)
    return build.output
