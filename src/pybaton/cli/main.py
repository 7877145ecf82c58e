"""The ``pybaton`` entry point: the fast path for the read commands, else the Typer app; and the error boundary.

A read command given in its plain form (``pybaton -f F grants -e ENT``) runs
through :mod:`pybaton.cli.fast` without importing Typer, Click, Pydantic or
Rich, which are most of a cold start; everything else (help, completion, other
commands, unusual spellings of the options) goes to the Typer app in
:mod:`pybaton.cli.app`, which runs the same command code.

:func:`run` is the single place where failures become exit codes: a
:class:`~pybaton.errors.UserError` is one red ``error: ...`` line on stderr with
its ``exit_code``, a usage error exits 2, Ctrl-C exits 130, and no traceback is
ever shown (set ``PYBATON_TRACEBACK=1`` to see one for a bug).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from pybaton.cli import fast
from pybaton.cli.render import error_line
from pybaton.errors import UserError
from pybaton.extras import missing_extra

if TYPE_CHECKING:
    from pybaton.cli.app import COMMANDS, PROG, app, command_modules, version_line

__all__ = ["COMMANDS", "PROG", "app", "command_modules", "main", "run", "version_line"]


def __getattr__(name: str) -> Any:
    """The Typer app's names (``app``, ``COMMANDS``...), imported only when asked for."""
    if name in ("COMMANDS", "PROG", "app", "command_modules", "version_line"):
        from pybaton.cli import app as full

        return getattr(full, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _unexpected(exc: Exception) -> int:
    """A bug, not a user mistake: still one line, with the traceback only on request."""
    if os.environ.get("PYBATON_TRACEBACK"):
        import traceback

        traceback.print_exception(exc, file=sys.stderr)
    error_line(f"unexpected {type(exc).__name__}: {exc} (set PYBATON_TRACEBACK=1 for details)")
    return 1


def _quiet_stdout() -> None:
    """After a closed pipe (``pybaton grants | head``), keep the interpreter from failing at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _dispatch(args: Sequence[str]) -> int:
    command = fast.plan(args)
    if command is not None:
        command()
        return 0
    from pybaton.cli.app import run_app

    return run_app(args)


def run(argv: Sequence[str] | None = None) -> int:
    """Run the CLI on ``argv`` (default: ``sys.argv[1:]``) and return the exit code."""
    args = list(argv) if argv is not None else sys.argv[1:]
    try:
        return _dispatch(args)
    except UserError as exc:
        error_line(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        _quiet_stdout()
        return 1
    except Exception as exc:
        missing = missing_extra(exc)
        if missing is not None:
            error_line(str(missing))
            return missing.exit_code
        return _unexpected(exc)


def main() -> NoReturn:
    """Console-script entry point."""
    sys.exit(run())


if __name__ == "__main__":
    main()
