"""Options every file-reading command shares: ``-f``, ``-o`` and ``--sync-id``.

Go's ``baton`` declares them as persistent flags, so they work before *and*
after the subcommand (``baton -f x.c1z grants`` and ``baton grants -f x.c1z``).
Click only knows options at the level they are declared, so pybaton declares
them twice: on the root callback (which also reads ``BATON_FILE``,
``BATON_OUTPUT_FORMAT`` and ``BATON_SYNC_ID``) and on each command through the
``FileOpt`` / ``OutputOpt`` / ``SyncIdOpt`` aliases. :func:`settings` merges
them: a value given after the subcommand wins over one given before it, which
wins over the environment and the defaults.

A new command module only has to add the three parameters and call
:func:`settings`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from pybaton.errors import UsageError

DEFAULT_FILE = "sync.c1z"


class OutputFormat(enum.StrEnum):
    """The ``-o`` values; ``csv`` only where the listing is a table."""

    CONSOLE = "console"
    JSON = "json"
    CSV = "csv"


@dataclass(frozen=True)
class GlobalOptions:
    """What the root callback parsed (flags before the subcommand, or the environment)."""

    file: str = DEFAULT_FILE
    output: OutputFormat = OutputFormat.CONSOLE
    sync_id: str | None = None


@dataclass(frozen=True)
class Settings:
    """The effective options of one command run."""

    file: Path
    output: OutputFormat
    sync_id: str | None


def parse_output(value: str | OutputFormat) -> OutputFormat:
    """Parse ``-o`` (any case) with a one-line error naming the accepted values."""
    try:
        return OutputFormat(str(value).strip().lower())
    except ValueError:
        names = ", ".join(f.value for f in OutputFormat)
        raise typer.BadParameter(f"unknown output format {value!r} (use one of: {names})") from None


_FILE_HELP = "The path to the c1z file to work with."
_OUTPUT_HELP = "The format to output results in: console, json or csv."
_SYNC_HELP = "The sync to read (default: the latest finished sync)."

FileOpt = Annotated[str | None, typer.Option("--file", "-f", help=_FILE_HELP, show_default=False)]
OutputOpt = Annotated[OutputFormat | None, typer.Option(
    "--output-format", "--output", "-o", help=_OUTPUT_HELP, show_default=False, parser=parse_output,
    metavar="FORMAT")]
SyncIdOpt = Annotated[str | None, typer.Option("--sync-id", help=_SYNC_HELP, show_default=False)]

RootFileOpt = Annotated[str, typer.Option("--file", "-f", envvar="BATON_FILE", help=_FILE_HELP)]
RootOutputOpt = Annotated[OutputFormat, typer.Option(
    "--output-format", "--output", "-o", envvar="BATON_OUTPUT_FORMAT", help=_OUTPUT_HELP, parser=parse_output,
    metavar="FORMAT")]
RootSyncIdOpt = Annotated[str | None, typer.Option("--sync-id", envvar="BATON_SYNC_ID", help=_SYNC_HELP)]


def settings(ctx: typer.Context, file: str | None, output: OutputFormat | None,
             sync_id: str | None) -> Settings:
    """Merge a command's own ``-f/-o/--sync-id`` with the root's (the command's win)."""
    root = ctx.find_object(GlobalOptions) or GlobalOptions()
    if not (file if file is not None else root.file):
        raise UsageError("--file must not be empty")
    return Settings(
        file=Path(file if file is not None else root.file),
        output=output if output is not None else root.output,
        sync_id=(sync_id if sync_id is not None else root.sync_id) or None,
    )


def require_format(opts: Settings, allowed: tuple[OutputFormat, ...], command: str) -> None:
    """Refuse an output format a command cannot produce, before any file is opened."""
    if opts.output not in allowed:
        names = ", ".join(f.value for f in allowed)
        raise UsageError(f"{command}: -o {opts.output.value} is not available here (use {names})")
