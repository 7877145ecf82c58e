"""The standard command every connector gets: Baton's flags, ``capabilities``, ``config`` and sync.

Flags are data, not code: each group of standard flags is a pydantic model
(:data:`FLAG_GROUPS`), and so is the connector's config. One builder turns all
of them into ``argparse`` options, one resolver reads every value by the same
precedence (flag > ``BATON_*`` env > ``.baton.yaml`` > default) and validates it
with a one-line error naming the field. ``pybaton sync <name>`` reuses
:func:`execute`, so the standalone command and the CLI accept exactly the same flags.

Adding provisioning (``-p``, ``--grant-entitlement`` …) means adding one model to
:data:`FLAG_GROUPS` and one :class:`Operation` to :data:`OPERATIONS`; nothing
else here changes.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NoReturn, TextIO

from pydantic import Field, field_validator

from pybaton.connector.base import Connector
from pybaton.connector.config import (
    ConnectorConfig,
    FieldSpec,
    env_name,
    field_specs,
    load_config,
    read_config_file,
    secret_values,
)
from pybaton.connector.describe import capabilities_document, choices_of, config_document
from pybaton.connector.logging import Redactor, configure
from pybaton.connector.progress import progress_for
from pybaton.errors import ConnectorError, UsageError, UserError
from pybaton.model.ids import split_resource_ref
from pybaton.provision import oneshot as provisioning
from pybaton.sync import SyncOptions, SyncResult, sync
from pybaton.sync import external as external_sync

log = logging.getLogger("pybaton.runner")

ConnectorClass = type[Connector[Any]]

EXIT_INTERRUPTED = 130


# -- the flag table --------------------------------------------------------------------------------

class RuntimeFlags(ConnectorConfig):
    """Where the sync goes and how the run logs."""

    file: str = Field("sync.c1z", description="the .c1z file to write", json_schema_extra={"short": "-f"})
    log_level: Literal["debug", "info", "warn", "error"] = Field("info", description="log level")
    log_format: Literal["console", "json"] = Field("console", description="log format on stderr")


class SyncFlags(ConnectorConfig):
    """What to sync and how hard to push the system."""

    sync_resources: list[str] = Field(default_factory=list,
                                      description="sync only these resources, TYPE:ID (repeatable or comma list)")
    sync_resource_types: list[str] = Field(default_factory=list,
                                           description="sync only these resource types (repeatable or comma list)")
    skip_entitlements_and_grants: bool = Field(False, description="sync resources only")
    skip_grants: bool = Field(False, description="sync resources and entitlements, not grants")
    workers: int = Field(1, ge=1, le=64, description="connector calls in parallel for entitlements and grants")
    page_size: int = Field(100, ge=1, le=10_000, description="items asked for per connector call")
    incremental: bool = Field(False, description="ask only for changes since the last full sync "
                                                 "(a full sync when that is not possible)")

    @field_validator("sync_resources")
    @classmethod
    def _resource_refs(cls, refs: list[str]) -> list[str]:
        for ref in refs:
            split_resource_ref(ref)
        return refs


@dataclass(frozen=True)
class FlagGroup:
    """A titled set of standard flags, declared as a config model."""

    title: str
    model: type[ConnectorConfig]


# The one table of standard flags.
FLAG_GROUPS: tuple[FlagGroup, ...] = (
    FlagGroup("runtime", RuntimeFlags),
    FlagGroup("sync", SyncFlags),
    FlagGroup("provisioning", provisioning.ProvisioningFlags),
)

CONFIG_FILE_FLAG = "config_file"


# -- parsing ---------------------------------------------------------------------------------------

class _Parser(argparse.ArgumentParser):
    """argparse that raises a one-line :class:`UsageError` instead of printing usage and exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _short_flag(model: type[ConnectorConfig], name: str) -> str | None:
    extra = model.model_fields[name].json_schema_extra
    short = extra.get("short") if isinstance(extra, dict) else None
    return short if isinstance(short, str) else None


def _help(spec: FieldSpec) -> str:
    parts = [spec.description] if spec.description else []
    if spec.required:
        parts.append("required")
    elif spec.default not in (None, "", []) and not spec.secret:
        parts.append(f"default {spec.default}")
    parts.append(f"env {spec.env}")
    return "; ".join(parts).replace("%", "%%")


def _add_option(group: argparse._ArgumentGroup, spec: FieldSpec, short: str | None) -> None:
    names = [short, spec.flag] if short else [spec.flag]
    common: dict[str, Any] = {"dest": spec.name, "default": argparse.SUPPRESS, "help": _help(spec)}
    if spec.is_bool:
        group.add_argument(*names, action=argparse.BooleanOptionalAction, **common)
    elif spec.is_list:
        group.add_argument(*names, action="append", metavar="VALUE[,VALUE]", **common)
    else:
        choices = choices_of(spec.annotation)
        metavar = "{" + ",".join(choices) + "}" if choices else spec.name.upper()
        group.add_argument(*names, metavar=metavar, **common)


def _add_model(parser: argparse.ArgumentParser, title: str, model: type[ConnectorConfig],
               taken: set[str]) -> None:
    """Add ``model``'s fields; a name already taken is shared, not redefined.

    A connector may declare a field a standard flag also has (``page_size`` is
    common): one ``--page-size`` then feeds both models, each keeping its own
    default and constraints, which is what an operator expects of one flag.
    """
    group = parser.add_argument_group(title)
    for spec in field_specs(model):
        if spec.name == CONFIG_FILE_FLAG:
            raise ValueError(f"{model.__name__}.{spec.name}: {spec.flag} is reserved for the settings file")
        if spec.name not in taken:
            taken.add(spec.name)
            _add_option(group, spec, _short_flag(model, spec.name))


def flags_parser(connector_class: ConnectorClass) -> _Parser:
    """Every flag, in a parent parser shared by the main command and its subcommands."""
    parent = _Parser(add_help=False, allow_abbrev=False)
    taken: set[str] = set()
    parent.add_argument("--config-file", dest=CONFIG_FILE_FLAG, default=argparse.SUPPRESS, metavar="PATH",
                        help=f"settings file (default .baton.yaml; env {env_name(CONFIG_FILE_FLAG)})")
    for group in FLAG_GROUPS:
        _add_model(parent, group.title, group.model, taken)
    _add_model(parent, f"{connector_class.metadata.name} connector", connector_class.config_class, taken)
    return parent


def build_parser(connector_class: ConnectorClass, prog: str | None = None) -> argparse.ArgumentParser:
    """The complete command line of ``connector_class`` (used by the runner and ``pybaton sync``)."""
    meta = connector_class.metadata
    flags = flags_parser(connector_class)
    parser = _Parser(prog=prog or meta.name, description=meta.description or meta.display_name,
                     parents=[flags], allow_abbrev=False)
    commands = parser.add_subparsers(dest="command", metavar="{capabilities,config}")
    for name, text in SUBCOMMANDS:
        commands.add_parser(name, help=text, description=text, parents=[flags], allow_abbrev=False)
    return parser


def _split_lists(values: Mapping[str, Any], list_fields: set[str]) -> dict[str, Any]:
    """``--x a,b --x c`` and ``x: "a,b"`` both mean ``[a, b, c]``."""
    out = dict(values)
    for name in list_fields & out.keys():
        raw = out[name]
        items = raw.split(",") if isinstance(raw, str) else raw
        if isinstance(items, list):
            out[name] = [p.strip() for item in items for p in str(item).split(",") if p.strip()]
    return out


# -- resolving values ------------------------------------------------------------------------------

@dataclass
class Invocation:
    """One parsed command line: resolved flag groups, the config, and where to print."""

    connector_class: ConnectorClass
    command: str
    flags: dict[type[ConnectorConfig], ConnectorConfig]
    given: dict[str, Any]
    env: Mapping[str, str]
    file_values: dict[str, Any]
    out: TextIO
    redact: Redactor = field(default_factory=Redactor)

    def group(self, model: type[ConnectorConfig]) -> Any:
        return self.flags[model]

    @property
    def runtime(self) -> RuntimeFlags:
        flags: RuntimeFlags = self.group(RuntimeFlags)
        return flags

    def connector_config(self) -> ConnectorConfig:
        return load_config(self.connector_class.config_class, self.given, env=self.env,
                           file_values=self.file_values)


def _models(connector_class: ConnectorClass) -> list[type[ConnectorConfig]]:
    return [g.model for g in FLAG_GROUPS] + [connector_class.config_class]


def _read_settings_file(given: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    path = given.get(CONFIG_FILE_FLAG) or env.get(env_name(CONFIG_FILE_FLAG))
    return read_config_file(Path(path) if path else None)


def _warn_unknown_keys(file_values: Mapping[str, Any], models: Iterable[type[ConnectorConfig]]) -> None:
    known = {name for m in models for name in m.model_fields}
    for key in sorted(set(file_values) - known):
        log.warning("settings file: ignoring unknown key %r", key)


def parse(connector_class: ConnectorClass, argv: Sequence[str], *, prog: str | None = None,
          env: Mapping[str, str] | None = None, out: TextIO | None = None) -> Invocation:
    """Parse ``argv`` and resolve the standard flags (the connector config is read on demand)."""
    env = os.environ if env is None else env
    namespace = vars(build_parser(connector_class, prog).parse_args(list(argv)))
    command = namespace.pop("command", None) or "sync"
    models = _models(connector_class)
    list_fields = {s.name for m in models for s in field_specs(m) if s.is_list}
    given = _split_lists(namespace, list_fields)
    file_values = _split_lists(_read_settings_file(given, env), list_fields)
    flags = {g.model: load_config(g.model, given, env=env, file_values=file_values) for g in FLAG_GROUPS}
    return Invocation(connector_class, command, flags, given, env, file_values, out or sys.stdout)


# -- operations ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Operation:
    """Something the default command does instead of a sync when its flags are given.

    Provisioning registers here, e.g. ``Operation("grant", lambda inv: bool(inv.group(ProvisioningFlags)
    .grant_entitlement), run_grant)``; the first operation whose ``wanted`` is true runs.
    """

    name: str
    wanted: Callable[[Invocation], bool]
    run: Callable[[Invocation, Connector[Any]], int]


def run_sync(inv: Invocation, connector: Connector[Any]) -> int:
    """The default operation: sync into ``--file`` and print a short summary."""
    runtime, sync_flags = inv.runtime, inv.group(SyncFlags)
    options = SyncOptions(
        workers=sync_flags.workers, page_size=sync_flags.page_size,
        skip_entitlements_and_grants=sync_flags.skip_entitlements_and_grants, skip_grants=sync_flags.skip_grants,
        sync_resources=tuple(sync_flags.sync_resources), sync_resource_types=tuple(sync_flags.sync_resource_types),
        incremental=sync_flags.incremental,
    )
    progress = progress_for(sys.stderr, log_format=runtime.log_format)
    result = sync(connector, runtime.file, options, progress)
    print("\n".join(summary_lines(connector.metadata.name, result)), file=inv.out)
    return 0


OPERATIONS: tuple[Operation, ...] = (
    Operation("provision", provisioning.wanted, provisioning.run),
    Operation("external sync", external_sync.wanted, external_sync.run),
)


def summary_lines(name: str, result: SyncResult) -> list[str]:
    """What an operator wants after a sync: how much, how long, resumed or not, anything suspicious."""
    stats = result.stats
    how = "resumed and finished" if result.resumed else "finished"
    kind = "sync" if result.changes is None else f"incremental sync ({result.changes} changed objects)"
    lines = [f"{kind} of {name} {how} in {result.seconds:.1f}s: {result.path} (sync {result.sync_id})",
             f"  {stats.get('resources', 0)} resources, {stats.get('entitlements', 0)} entitlements, "
             f"{stats.get('grants', 0)} grants"]
    by_type: dict[str, dict[str, int]] = stats.get("resources_by_resource_type", {})
    for rtype in sorted(by_type):
        ents = stats.get("entitlements_by_resource_type", {}).get(rtype, 0)
        grants = stats.get("grants_by_resource_type", {}).get(rtype, 0)
        lines.append(f"  {rtype}: {by_type[rtype]} resources, {ents} entitlements, {grants} grants")
    lines.extend(f"  warning: {v.describe()}" for v in result.integrity)
    return lines


# -- subcommands -----------------------------------------------------------------------------------

def _print_json(inv: Invocation, doc: Any) -> None:
    print(json.dumps(doc, indent=2, default=str), file=inv.out)


def show_config(inv: Invocation) -> int:
    """``config``: the connector's settings schema (never a secret's value)."""
    meta = inv.connector_class.metadata
    standard = [doc for g in FLAG_GROUPS for doc in config_document(g.model)]
    _print_json(inv, {"connector": meta.name, "display_name": meta.display_name,
                      "fields": config_document(inv.connector_class.config_class), "standard_flags": standard})
    return 0


def show_capabilities(inv: Invocation, connector: Connector[Any]) -> int:
    """``capabilities``: Baton's ConnectorCapabilities JSON, derived from the syncers' Protocols."""
    _print_json(inv, capabilities_document(connector))
    return 0


SUBCOMMANDS: tuple[tuple[str, str], ...] = (
    ("capabilities", "print what each resource type supports, as Baton's ConnectorCapabilities JSON"),
    ("config", "print the connector's settings schema as JSON"),
)


# -- running ---------------------------------------------------------------------------------------

def _with_connector(inv: Invocation, action: Callable[[Invocation, Connector[Any]], int]) -> int:
    config = inv.connector_config()
    inv.redact = configure(inv.runtime.log_level, inv.runtime.log_format, secret_values(config))
    connector = inv.connector_class(config)
    try:
        return action(inv, connector)
    finally:
        connector.close()


def dispatch(inv: Invocation) -> int:
    """Run what the command line asked for; exceptions are left to :func:`execute`."""
    if inv.command == "config":
        return show_config(inv)
    if inv.command == "capabilities":
        return _with_connector(inv, show_capabilities)
    operation = next((op.run for op in OPERATIONS if op.wanted(inv)), run_sync)
    return _with_connector(inv, operation)


def _error(redact: Redactor, message: str, debug: bool) -> None:
    print(redact(f"error: {message}"), file=sys.stderr)
    if debug:
        print(redact(traceback.format_exc()), file=sys.stderr, end="")


def execute(connector_class: ConnectorClass, argv: Sequence[str], *, prog: str | None = None,
            env: Mapping[str, str] | None = None, out: TextIO | None = None) -> int:
    """Run the connector command and return its exit code; every failure is one line on stderr."""
    redact, debug, name = Redactor(), False, connector_class.metadata.name
    try:
        inv = parse(connector_class, argv, prog=prog, env=env, out=out)
        debug = inv.runtime.log_level == "debug"
        inv.redact = configure(inv.runtime.log_level, inv.runtime.log_format)
        _warn_unknown_keys(inv.file_values, _models(connector_class))
        try:
            return dispatch(inv)
        finally:
            redact = inv.redact
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else 0
    except KeyboardInterrupt:
        print("interrupted; run again to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    except UserError as exc:
        _error(redact, str(exc), debug)
        return exc.exit_code
    except ConnectorError as exc:
        _error(redact, f"{name} connector failed: {exc}", debug)
        return 1
    except Exception as exc:
        _error(redact, f"{name}: unexpected {type(exc).__name__}: {exc}"
               + ("" if debug else " (--log-level debug shows the traceback)"), debug)
        return 1


def main(connector_class: ConnectorClass, argv: Sequence[str] | None = None, *, prog: str | None = None) -> NoReturn:
    """Entry point of a standalone connector command (see :func:`pybaton.connector.run`)."""
    sys.exit(execute(connector_class, sys.argv[1:] if argv is None else argv, prog=prog))
