"""``pybaton http validate --config api.yml``: check a baton-http file without calling the API.

This is baton-http's ``--validate-config-only``. Offline means: YAML syntax,
keys (unknown ones warn with their line, or fail with ``--strict``), types and
required fields, references between resource types and cycles, and every
``cel:``/``tmpl:`` value compiled with the names its place provides.
``${NAME}`` references to unset environment variables are warnings here (the
file may be checked where the secrets are not).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pybaton.connectors.http import config as cfg
from pybaton.connectors.http.compiled import Compiled, compile_config

http_app = typer.Typer(name="http", help="Work with baton-http YAML files (the http meta-connector).",
                       no_args_is_help=True)

ConfigOpt = Annotated[Path, typer.Option("--config", "--config-path", "-c", help="The baton-http YAML file",
                                         exists=False, dir_okay=False)]
StrictOpt = Annotated[bool, typer.Option("--strict", help="Treat unknown keys as errors")]
CommandActionsOpt = Annotated[bool, typer.Option("--enable-command-actions",
                                                 help="Allow command actions (shell commands); off by default")]


def describe(compiled: Compiled) -> list[str]:
    """One line per resource type: what it lists and what it can provision."""
    lines = []
    for spec in compiled.types:
        parts = []
        if spec.listing is not None:
            parts.append(f"list ({spec.listing.endpoint.paging.strategy} pages)")
        if spec.statics:
            parts.append(f"{len(spec.statics)} static resources")
        if spec.static_entitlements or spec.entitlements:
            parts.append("entitlements")
        if spec.grants:
            parts.append(f"{len(spec.grants)} grant requests")
        if spec.provisioners:
            parts.append("provisioning")
        under = f" under {spec.parent}" if spec.parent else ""
        lines.append(f"  {spec.type_id}{under}: {', '.join(parts) or 'nothing'}")
    return lines


def validate_cmd(config: ConfigOpt, strict: StrictOpt = False, enable_command_actions: CommandActionsOpt = False
                 ) -> None:
    """Check a config offline (baton-http's --validate-config-only); print what it describes, or every
    problem with its line."""
    loaded = cfg.read(config, strict=strict)
    for issue in loaded.issues:
        typer.echo(f"warning: {issue}", err=True)
    compiled = compile_config(loaded, check_env=False, enable_command_actions=enable_command_actions)
    for warning in compiled.warnings:
        typer.echo(f"warning: {warning}", err=True)
    typer.echo(f"{config}: valid baton-http config for {compiled.config.app_name!r}, "
               f"{len(compiled.types)} resource types")
    typer.echo("\n".join(describe(compiled)))


http_app.command("validate")(validate_cmd)


def register(app: typer.Typer) -> None:
    """Add ``pybaton http …`` to the ``pybaton`` app."""
    app.add_typer(http_app, name="http")


__all__ = ["http_app", "register", "validate_cmd"]
