"""The full ``pybaton`` command: the Typer app and its root options.

Commands live in one module per group (:mod:`pybaton.cli.read` for the
listings); each exposes ``register(app)`` and is listed in :data:`COMMANDS`,
which lets :func:`run_app` import only the group it needs. Failures are turned
into exit codes by :func:`pybaton.cli.main.run`, the single error boundary
(which first tries the read commands' fast path, :mod:`pybaton.cli.fast`).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import Annotated

import typer
from rich.markup import escape
from typer._click.exceptions import ClickException, NoArgsIsHelpError  # typer vendors click

from pybaton import __version__
from pybaton.cli.options import (
    DEFAULT_FILE,
    GlobalOptions,
    OutputFormat,
    RootFileOpt,
    RootOutputOpt,
    RootSyncIdOpt,
)
from pybaton.cli.render import error_line
from pybaton.cli.runopts import VALUE_OPTIONS
from pybaton.errors import UserError
from pybaton.extras import missing_extra

PROG = "pybaton"

app = typer.Typer(
    name=PROG,
    help="Work with .c1z files: list what a Baton-compatible sync found (like Go's `baton`).",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

# Command group module (under pybaton.cli) → the commands it registers. Only the
# module of the command being run is imported: the read commands must start in a
# fraction of a second, without loading connectors, CEL or database drivers.
# tests/test_cli_main.py checks this table against what each module registers.
COMMANDS: dict[str, tuple[str, ...]] = {
    "read": ("resource-types", "resources", "entitlements", "grants", "principals", "stats", "syncs"),
    "sync": ("sync", "connectors", "summary"),
    "provision": ("grant", "revoke", "create-account", "delete-resource", "rotate-credentials"),
    "analysis": ("access", "explain", "diff", "export", "expand"),
    "reconcile": ("plan", "apply", "reconcile", "identities", "workspace"),
    "sql": ("sql",),
    "http": ("http",),
    "build": ("build",),
    "doctor": ("doctor",),
    "warehouse": ("warehouse", "who-has", "changes"),
    "convert": ("convert",),
    "events": ("events",),
    "console": ("serve", "review", "console"),
    "fleet": ("fleet",),
}

# Root options that take a value (so the word after them is not the command).
_ROOT_VALUE_OPTIONS = frozenset(VALUE_OPTIONS)


def command_modules(args: Sequence[str]) -> list[ModuleType]:
    """The command group modules needed to run ``args``: one, or all (help, unknown command)."""
    name = _command_name(args)
    wanted = [mod for mod, commands in COMMANDS.items() if name in commands] or list(COMMANDS)
    return [_import_group(mod) for mod in wanted]


def _import_group(group: str) -> ModuleType:
    """A command group module; one whose extra is missing becomes commands that say which extra."""
    name = f"pybaton.cli.{group}"
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        errors = {command: missing_extra(exc, f"pybaton {command}") for command in COMMANDS[group]}
        if any(error is None for error in errors.values()):
            raise
        placeholder = ModuleType(name)
        placeholder.register = lambda app: _register_unavailable(app, errors)  # type: ignore[attr-defined]
        return placeholder


def _register_unavailable(app: typer.Typer, errors: Mapping[str, Exception | None]) -> None:
    for command, error in errors.items():
        def unavailable(ctx: typer.Context, error: Exception | None = error) -> None:
            raise error or UserError("unavailable")

        app.command(command, help=escape(f"(unavailable: {error})"), context_settings={
            "allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []})(unavailable)


def _command_name(args: Sequence[str]) -> str | None:
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg in _ROOT_VALUE_OPTIONS:
            skip = True
        elif not arg.startswith("-"):
            return arg
    return None


def version_line() -> str:
    """``pybaton 0.1.0 (Python 3.11.2, /usr/bin/python3.11)``: what a bug report needs first."""
    import platform

    where = "self-contained executable" if getattr(sys, "frozen", False) else sys.executable
    return f"{PROG} {__version__} (Python {platform.python_version()}, {where})"


def _version(value: bool) -> None:
    if value:
        typer.echo(version_line())
        raise typer.Exit()


VersionOpt = Annotated[bool, typer.Option("--version", "-v", callback=_version, is_eager=True,
                                          help="Print the version and the Python it runs on, and exit.")]


@app.callback()
def root(ctx: typer.Context, file: RootFileOpt = DEFAULT_FILE, output: RootOutputOpt = OutputFormat.CONSOLE,
         sync_id: RootSyncIdOpt = None, version: VersionOpt = False) -> None:
    """Keep the options given before the subcommand for the subcommand to merge with its own."""
    ctx.obj = GlobalOptions(file=file, output=output, sync_id=sync_id)


_registered: set[str] = set()


def _register(modules: Sequence[ModuleType]) -> None:
    for module in modules:
        if module.__name__ not in _registered:
            module.register(app)
            _registered.add(module.__name__)


def usage_error(exc: ClickException) -> int:
    """One line for a command-line mistake, pointing at the right ``--help``."""
    if isinstance(exc, NoArgsIsHelpError):
        typer.echo(exc.format_message())
        return 0
    ctx = getattr(exc, "ctx", None)
    hint = f" (see '{ctx.command_path} --help')" if ctx is not None and exc.exit_code == 2 else ""
    error_line(exc.format_message() + hint)
    return exc.exit_code


def run_app(args: Sequence[str]) -> int:
    """Run ``args`` through the Typer app; a command-line mistake is one line and its exit code.

    Every other failure propagates to :func:`pybaton.cli.main.run`.
    """
    try:
        _register(command_modules(args))
        command = typer.main.get_command(app)
        result = command.main(args=list(args), prog_name=PROG, standalone_mode=False)
    except ClickException as exc:
        return usage_error(exc)
    except typer.Abort:
        raise KeyboardInterrupt from None
    return result if isinstance(result, int) else 0
