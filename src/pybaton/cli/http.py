"""``pybaton http validate|convert``: check a baton-http file without calling the API; rewrite an old one.

This is baton-http's ``--validate-config-only``. Offline means: YAML syntax,
keys (unknown ones warn with their line, or fail with ``--strict``), types and
required fields, references between resource types and cycles, and every
``cel:``/``tmpl:`` value compiled with the names its place provides.
``${NAME}`` references to unset environment variables are warnings here (the
file may be checked where the secrets are not).

``convert`` rewrites a file of pybaton's old layout in the documented format
(:mod:`pybaton.connectors.http.convert`), printing what it had to drop.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
import yaml

from pybaton.c1z.export import atomic_path
from pybaton.connectors.http import config as cfg
from pybaton.connectors.http.compiled import Compiled, compile_config
from pybaton.connectors.http.convert import convert, is_old_layout
from pybaton.errors import UserError
from pybaton.yamldoc import load_file

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

OutOpt = Annotated[Path | None, typer.Option("--out", "-o", help="Where to write (default: standard output)",
                                             dir_okay=False, show_default=False)]


def convert_cmd(config: ConfigOpt, out: OutOpt = None) -> None:
    """Rewrite a config of pybaton's old layout in baton-http's documented format; print what was dropped."""
    data = load_file(config).data
    if not is_old_layout(data) or not isinstance(data, dict):
        raise UserError(f"{config}: not in pybaton's old layout (nothing to convert; `pybaton http validate` "
                        "checks it)")
    result = convert(data)
    header = f"# Converted from {config.name} by `pybaton http convert` (comments are not carried over).\n"
    text = header + yaml.safe_dump(result.config, sort_keys=False, allow_unicode=True, width=120)
    cfg.loads(text, source=str(out or "<converted>"))  # what is written must load
    for note in result.notes:
        typer.echo(f"note: {note}", err=True)
    if out is None:
        typer.echo(text, nl=False)
        return
    with atomic_path(out) as tmp:
        tmp.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {out} ({len(result.notes)} notes)", err=True)


http_app.command("convert")(convert_cmd)


def register(app: typer.Typer) -> None:
    """Add ``pybaton http …`` to the ``pybaton`` app."""
    app.add_typer(http_app, name="http")


__all__ = ["convert_cmd", "http_app", "register", "validate_cmd"]
