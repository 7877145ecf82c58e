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

from typing import Annotated

import typer

from pybaton.cli.runopts import (
    DEFAULT_FILE,
    GlobalOptions,
    OutputFormat,
    Settings,
    merge,
    output_format,
    require_format,
)

__all__ = ["DEFAULT_FILE", "FileOpt", "GlobalOptions", "OutputFormat", "OutputOpt", "RootFileOpt", "RootOutputOpt",
           "RootSyncIdOpt", "Settings", "SyncIdOpt", "parse_output", "require_format", "settings"]


def parse_output(value: str | OutputFormat) -> OutputFormat:
    """Parse ``-o`` (any case) with a one-line error naming the accepted values."""
    try:
        return output_format(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


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
    return merge(ctx.find_object(GlobalOptions) or GlobalOptions(), file, output, sync_id)
