"""``pybaton doctor [-w pybaton.yaml] [SYSTEM…]``: one line per workspace system, can it be reached.

See :mod:`pybaton.reconcile.doctor`. Exit 0 when every system answered, 1 otherwise.
"""

from __future__ import annotations

from typing import Annotated

import typer

from pybaton.cli.identities import WorkspaceOpt
from pybaton.reconcile.doctor import check_systems
from pybaton.reconcile.workspace import load_workspace


def doctor_command(
    systems: Annotated[list[str] | None, typer.Argument(help="Only these systems (default: all)",
                                                        show_default=False)] = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Check that each system of the workspace can be reached with its settings (one line each)."""
    ws = load_workspace(workspace)
    checks = check_systems(ws, systems or None)
    for check in checks:
        typer.echo(check.line())
    failed = [c.system for c in checks if not c.ok]
    if failed:
        typer.echo(f"{len(failed)} of {len(checks)} systems cannot be reached: {', '.join(failed)}", err=True)
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor_command)
