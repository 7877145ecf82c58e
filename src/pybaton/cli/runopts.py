"""The effective options of a command run (``-f``, ``-o``, ``--sync-id``), without the CLI framework.

Kept apart from :mod:`pybaton.cli.options` (which declares them for Typer) so
that the read commands' fast path (:mod:`pybaton.cli.fast`) can use them
without importing Typer.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path

from pybaton.errors import UsageError

DEFAULT_FILE = "sync.c1z"

# The spellings of the options the root (and every read command) takes with a value -> parameter name.
# One table: the Typer-free fast path parses by it, and the app skips these values to find the command.
VALUE_OPTIONS = {"-f": "file", "--file": "file", "-o": "output", "--output-format": "output", "--output": "output",
                 "--sync-id": "sync_id"}


class OutputFormat(enum.StrEnum):
    """The ``-o`` values; ``csv`` only where the listing is a table."""

    CONSOLE = "console"
    JSON = "json"
    CSV = "csv"


def output_format(value: str | OutputFormat) -> OutputFormat:
    """``-o`` in any case and with blanks around it; ValueError naming the accepted values."""
    try:
        return OutputFormat(str(value).strip().lower())
    except ValueError:
        names = ", ".join(f.value for f in OutputFormat)
        raise ValueError(f"unknown output format {value!r} (use one of: {names})") from None


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


def merge(root: GlobalOptions, file: str | None, output: OutputFormat | None, sync_id: str | None) -> Settings:
    """A command's own ``-f/-o/--sync-id`` over the root's (the command's win)."""
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
