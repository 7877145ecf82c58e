"""``pybaton build CONNECTOR.py -o baton-NAME``: a connector script as one self-contained executable.

See :mod:`pybaton.freeze`. ``pybaton build --pybaton -o dist/pybaton`` builds
the ``pybaton`` command itself (``make dist``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pybaton.errors import UsageError
from pybaton.freeze import connector_build, freeze, pybaton_build, require_freezer


def build_command(
    script: Annotated[Path | None, typer.Argument(help="The connector script (one that calls run(MyConnector))",
                                                  show_default=False)] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="The executable to write "
                                                "(default: baton-NAME, NAME the script's name less _connector)",
                                                show_default=False)] = None,
    itself: Annotated[bool, typer.Option("--pybaton", help="Build the pybaton command itself instead")] = False,
) -> None:
    """Build a connector script into one executable that runs without Python (PyInstaller one-file).

    The executable takes the script's command line: Baton's flags, `capabilities`, `config`, sync and the
    one-shot provisioning flags. Register it in connectors.yaml to use it with `pybaton sync` and `grant`.
    """
    if itself == (script is not None):
        raise UsageError("give a connector script, or --pybaton to build pybaton itself")
    require_freezer()
    if script is not None:
        build = connector_build(script, output or Path(f"baton-{script.stem.removesuffix('_connector')}"))
    else:
        build = pybaton_build(output or Path("dist") / "pybaton")
    typer.echo(f"building {build.output} from {build.script} (PyInstaller one-file; this takes a minute)",
               err=True)
    path = freeze(build)
    typer.echo(f"built {path} ({path.stat().st_size / 1e6:.1f} MB)")


def register(app: typer.Typer) -> None:
    app.command("build")(build_command)
