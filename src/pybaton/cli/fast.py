"""The read commands without the CLI framework: a cold ``pybaton grants -e ENT`` in a fraction of a second.

Importing Typer (with its vendored Click and Pydantic) and Rich costs more than
answering a read command from the read cache. :func:`plan` recognises the plain
spellings of the read commands, ``[ROOT OPTIONS] COMMAND [OPTIONS]`` with
``--name value``, ``--name=value`` or ``-x value`` and each option at most once,
and returns the call that runs the command's code (the same functions the
Typer commands call). Anything else (help, completion, ``-xVALUE``, a value that
starts with ``-``, an unknown option, an option given twice, an unusable
environment value) returns None and goes to the Typer app, which parses it and
reports any mistake as it always has.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence

from pybaton.cli.runopts import (
    DEFAULT_FILE,
    VALUE_OPTIONS,
    GlobalOptions,
    OutputFormat,
    Settings,
    merge,
    output_format,
)

# Option spellings -> parameter name. The root and every command take -f, -o and --sync-id.
_COMMON = VALUE_OPTIONS
_TYPE = {"-t": "resource_type", "--resource-type": "resource_type"}
_RESOURCE = {"-r": "resource_id", "--resource": "resource_id", "--resource-id": "resource_id"}
_ENTITLEMENT = {"-e": "entitlement_id", "--entitlement": "entitlement_id", "--entitlement-id": "entitlement_id"}
_PRINCIPAL = {"-p": "principal", "--principal": "principal"}

_COMMAND_OPTIONS: dict[str, dict[str, str]] = {
    "resource-types": {},
    "resources": _TYPE,
    "entitlements": {**_TYPE, **_RESOURCE},
    "grants": {**_ENTITLEMENT, **_TYPE, **_RESOURCE},
    "principals": {**_ENTITLEMENT, **_TYPE, **_RESOURCE},
    "stats": {},
    "syncs": {},
    "access": {**_TYPE, **_RESOURCE, **_PRINCIPAL},
}

# The root options' environment variables (Typer reads a non-empty one when the option is not given).
_ROOT_ENV = {"file": "BATON_FILE", "output": "BATON_OUTPUT_FORMAT", "sync_id": "BATON_SYNC_ID"}
# Environment that changes how Typer would treat the command: completion, or options read from it.
_DEFER_ENV = ("_PYBATON_COMPLETE", "PYBATON_WAREHOUSE")

Command = Callable[[], None]


class _Defer(Exception):
    """Not a plain spelling: let the Typer app parse it."""


def _options(tokens: Sequence[str], known: Mapping[str, str]) -> dict[str, str]:
    """``--name value`` / ``--name=value`` / ``-x value`` pairs, each option once, all of them known."""
    found: dict[str, str] = {}
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token.startswith("--") and "=" in token:
            name, value = token.split("=", 1)
            i += 1
        elif i + 1 < len(tokens):
            name, value = token, tokens[i + 1]
            i += 2
        else:
            raise _Defer
        param = known.get(name)
        if param is None or param in found or value.startswith("-"):
            raise _Defer
        found[param] = value
    return found


def _split(args: Sequence[str]) -> tuple[list[str], str, list[str]]:
    """Root options, the command word, and the command's own options."""
    i = 0
    while i < len(args) and args[i].startswith("-"):
        i += 1 if "=" in args[i] else 2
    if i >= len(args) or args[i] not in _COMMAND_OPTIONS:
        raise _Defer
    return list(args[:i]), args[i], list(args[i + 1:])


def _root(values: Mapping[str, str]) -> GlobalOptions:
    """The root options as the Typer callback would see them: given, else a non-empty environment value."""
    merged = dict(values)
    for param, var in _ROOT_ENV.items():
        if param not in merged and os.environ.get(var):
            merged[param] = os.environ[var]
    return GlobalOptions(file=merged.get("file", DEFAULT_FILE),
                         output=_output(merged.get("output")) or OutputFormat.CONSOLE,
                         sync_id=merged.get("sync_id"))


def _output(value: str | None) -> OutputFormat | None:
    if value is None:
        return None
    try:
        return output_format(value)
    except ValueError:
        raise _Defer from None  # Typer's message for a bad -o


def _settings(root: GlobalOptions, own: Mapping[str, str]) -> Callable[[], Settings]:
    output = _output(own.get("output"))
    return lambda: merge(root, own.get("file"), output, own.get("sync_id"))


def plan(args: Sequence[str]) -> Command | None:
    """The call that runs ``args``, or None when the Typer app must parse them."""
    if any(os.environ.get(var) for var in _DEFER_ENV):
        return None
    try:
        root_args, command, own_args = _split(args)
        root = _root(_options(root_args, _COMMON))
        own = _options(own_args, {**_COMMON, **_COMMAND_OPTIONS[command]})
        settings = _settings(root, own)
    except _Defer:
        return None
    return lambda: _run(command, settings(), own)


def _run(command: str, opts: Settings, own: Mapping[str, str]) -> None:
    """Run one read command (its module is imported only now, after parsing)."""
    entitlement, rtype, rid = own.get("entitlement_id"), own.get("resource_type"), own.get("resource_id")
    if command == "access":
        from pybaton.cli.access_listing import access

        access(opts, rtype, rid, own.get("principal"))
        return
    from pybaton.cli import reading

    if command == "grants":
        reading.grants(opts, entitlement, rtype, rid)
    elif command == "principals":
        reading.principals(opts, entitlement, rtype, rid)
    elif command == "entitlements":
        reading.entitlements(opts, rtype, rid)
    elif command == "resources":
        reading.resources(opts, rtype)
    elif command == "stats":
        reading.stats(opts)
    elif command == "syncs":
        reading.syncs(opts)
    else:
        reading.resource_types(opts)
