"""``pybaton convert IN OUT``: a v1 ``.c1z`` from a v3 (Pebble) one, for older tools and the warehouse."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pybaton.c1z.convert import convert_to_v1

InArg = Annotated[Path, typer.Argument(help="The .c1z to read (v3 Pebble or v1).", show_default=False)]
OutArg = Annotated[Path, typer.Argument(help="The v1 .c1z to write.", show_default=False)]
ForceOpt = Annotated[bool, typer.Option("--force", help="Replace OUT if it exists.")]


def convert_cmd(source: InArg, target: OutArg, force: ForceOpt = False) -> None:
    """Write a v1 (SQLite) .c1z holding every sync of IN; Go's `baton` and older tools read it."""
    runs = convert_to_v1(source, target, overwrite=force)
    typer.echo(f"wrote {target}: {len(runs)} sync run{'s' if len(runs) != 1 else ''} "
               f"({', '.join(r.sync_id for r in runs)})", err=True)


def register(app: typer.Typer) -> None:
    app.command("convert")(convert_cmd)
