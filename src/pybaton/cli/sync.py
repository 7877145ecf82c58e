"""``pybaton sync <connector>``, ``pybaton connectors`` and ``pybaton summary``.

``sync`` hands everything after the connector's name to the standard runner
(:func:`pybaton.runtime.runner.execute`), so ``pybaton sync demo …`` accepts
exactly the flags, env vars and ``.baton.yaml`` keys of a standalone connector
command: there is one definition of them, not two.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from pybaton.c1z import C1ZFile, SyncReader
from pybaton.cli.discovery import ConnectorSource, available_connectors
from pybaton.cli.external import resolve_connector
from pybaton.cli.options import (
    DEFAULT_FILE,
    FileOpt,
    GlobalOptions,
    OutputFormat,
    OutputOpt,
    SyncIdOpt,
    require_format,
    settings,
)
from pybaton.errors import PyBatonError, UsageError, UserError
from pybaton.pb.c1.connector.v2 import resource_pb2
from pybaton.runtime.runner import execute

PASS_THROUGH = {"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []}
_TEXT_FORMATS = (OutputFormat.CONSOLE, OutputFormat.JSON)


# -- sync ------------------------------------------------------------------------------------------

def _file_flag_given(args: list[str]) -> bool:
    return any(a in ("-f", "--file") or a.startswith(("--file=", "-f")) for a in args)


def sync_command(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="The connector (see `pybaton connectors`)",
                                               show_default=False)] = None,
) -> None:
    """Sync a connector into a .c1z; takes the connector's own flags (`pybaton sync NAME --help`).

    `pybaton sync --all [-w pybaton.yaml]` syncs every system of a workspace instead.
    """
    if name in HELP_WORDS:
        show_connector_usage("sync", "[FLAGS]", "Sync a connector into a .c1z (or --all: every workspace system).")
    words = ([name] if name is not None else []) + list(ctx.args)
    if "--all" in words:
        if name is not None and not name.startswith("-"):
            raise UsageError(f"pybaton sync: give a connector ({name}) or --all (every workspace system), not both")
        _sync_workspace([w for w in words if w != "--all"])
        return
    if name is None or name.startswith("-"):
        raise UserError(f"which connector? usage: pybaton sync NAME [FLAGS]; known connectors: "
                        f"{', '.join(available_connectors())}")
    args = list(ctx.args)
    root = ctx.find_object(GlobalOptions)
    if root is not None and root.file != DEFAULT_FILE and not _file_flag_given(args):
        args = ["--file", root.file, *args]  # `pybaton -f x.c1z sync demo` means what it says
    connector_class, args = resolve_connector(name, args)  # connectors.yaml entries, then installed ones
    code = execute(connector_class, args, prog=f"pybaton sync {name}")
    if code:
        raise typer.Exit(code)


HELP_WORDS = ("-h", "--help")


def show_connector_usage(command: str, flags: str, summary: str) -> NoReturn:
    """``pybaton COMMAND --help`` before a connector is named: usage, the connectors, where the flags are."""
    typer.echo(f"usage: pybaton {command} NAME {flags}\n\n{summary}\n\n"
               f"connectors: {', '.join(available_connectors())}\n"
               f"`pybaton {command} NAME --help` lists that connector's flags.")
    raise typer.Exit(0)


def _sync_workspace(args: list[str]) -> None:
    """``sync --all``: the workspace's ``workspace sync`` (all systems, concurrently)."""
    import argparse

    from pybaton.cli.reconcile import sync_command as workspace_sync

    parser = argparse.ArgumentParser(prog="pybaton sync --all", add_help=False)
    parser.add_argument("-w", "--workspace", default=None)
    parser.add_argument("--log-level", default="warn")
    known, rest = parser.parse_known_args(args)
    if rest:
        raise UsageError(f"pybaton sync --all: unexpected {' '.join(rest)} (it takes -w WORKSPACE and --log-level)")
    workspace_sync(systems=None, workspace=known.workspace, log_level=known.log_level)


# -- connectors ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ConnectorInfo:
    name: str
    display_name: str
    description: str
    origin: str
    target: str
    error: str = ""


def describe_source(source: ConnectorSource) -> ConnectorInfo:
    """Load a connector for its metadata; an import failure is shown, not raised."""
    try:
        meta = source.load().metadata
    except Exception as exc:  # a broken plugin must not hide the others
        error = exc if isinstance(exc, ImportError | PyBatonError) else f"{type(exc).__name__}: {exc}"
        return ConnectorInfo(source.name, "", "", source.origin, source.target, error=str(error))
    return ConnectorInfo(source.name, meta.display_name, meta.description, source.origin, source.target)


def connectors_command(ctx: typer.Context, output: OutputOpt = None) -> None:
    """List the connectors `pybaton sync` can run: built-ins and installed packages."""
    opts = settings(ctx, None, output, None)
    require_format(opts, _TEXT_FORMATS, "connectors")
    infos = [describe_source(s) for s in available_connectors().values()]
    if opts.output is OutputFormat.JSON:
        typer.echo(json.dumps([asdict(i) for i in infos], indent=2))
        return
    table = Table("name", "connector", "from", "description", box=None)
    for info in infos:
        table.add_row(info.name, info.display_name or "[red]unavailable[/red]", info.origin,
                      info.description or info.error)
    Console().print(table)


# -- summary ---------------------------------------------------------------------------------------

@dataclass
class TypeCounts:
    id: str
    display_name: str
    resources: int = 0
    entitlements: int = 0
    grants: int = 0


@dataclass
class UserGroups:
    id: str
    display_name: str
    groups: list[str] = field(default_factory=list)


@dataclass
class Summary:
    file: str
    sync_id: str
    started_at: str
    ended_at: str
    types: list[TypeCounts]
    users: list[UserGroups]
    user_count: int


def _types_with(reader: SyncReader, trait: int) -> set[str]:
    return {rt.id for rt in reader.resource_types() if trait in rt.traits}


def _type_counts(reader: SyncReader) -> list[TypeCounts]:
    stats = reader.stats()
    return [TypeCounts(rt.id, rt.display_name or rt.id,
                       stats["resources_by_resource_type"].get(rt.id, 0),
                       stats["entitlements_by_resource_type"].get(rt.id, 0),
                       stats["grants_by_resource_type"].get(rt.id, 0))
            for rt in reader.resource_types()]


def _groups_of(reader: SyncReader, user: resource_pb2.Resource, group_types: set[str]) -> list[str]:
    """Display names of the groups whose membership ``user`` holds (directly or by expansion)."""
    names: dict[str, str] = {}
    for grant in reader.grants(principal=(user.id.resource_type, user.id.resource)):
        rid = grant.entitlement.resource.id
        if rid.resource_type in group_types and rid.resource not in names:
            group = reader.resource(rid.resource_type, rid.resource)
            names[rid.resource] = group.display_name if group is not None and group.display_name else rid.resource
    return sorted(names.values())


def _users(reader: SyncReader, limit: int) -> Iterator[resource_pb2.Resource]:
    seen = 0
    for type_id in sorted(_types_with(reader, resource_pb2.ResourceType.TRAIT_USER)):
        for user in reader.resources(type_id):
            if seen >= limit:
                return
            seen += 1
            yield user


def build_summary(reader: SyncReader, file: str, users: int) -> Summary:
    group_types = _types_with(reader, resource_pb2.ResourceType.TRAIT_GROUP)
    types = _type_counts(reader)
    user_types = _types_with(reader, resource_pb2.ResourceType.TRAIT_USER)
    return Summary(
        file=file, sync_id=reader.sync_id, started_at=str(reader.run.started_at or ""),
        ended_at=str(reader.run.ended_at or ""), types=types,
        users=[UserGroups(u.id.resource, u.display_name or u.id.resource, _groups_of(reader, u, group_types))
               for u in _users(reader, users)],
        user_count=sum(t.resources for t in types if t.id in user_types),
    )


def _print_summary(summary: Summary) -> None:
    console = Console()
    console.print(f"[bold]{summary.file}[/bold]: sync {summary.sync_id}, finished {summary.ended_at[:19]}",
                  soft_wrap=True)
    table = Table("resource type", "resources", "entitlements", "grants", box=None)
    for t in summary.types:
        table.add_row(t.display_name, str(t.resources), str(t.entitlements), str(t.grants))
    console.print(table)
    if summary.users:
        console.print(f"\n[bold]{len(summary.users)} of {summary.user_count} users and their groups[/bold]")
        for u in summary.users:
            console.print(f"  {u.display_name} ({u.id}): {', '.join(u.groups) or 'no groups'}",
                          highlight=False, markup=False)


def summary_command(
    ctx: typer.Context, file: FileOpt = None, output: OutputOpt = None, sync_id: SyncIdOpt = None,
    users: Annotated[int, typer.Option("--users", min=0, help="How many users to show with their groups")] = 5,
) -> None:
    """Counts per resource type, and a few users with the groups they belong to."""
    opts = settings(ctx, file, output, sync_id)
    require_format(opts, _TEXT_FORMATS, "summary")
    with C1ZFile.open(opts.file) as c1z:
        summary = build_summary(SyncReader.of(c1z, opts.sync_id), str(opts.file), users)
    if opts.output is OutputFormat.JSON:
        typer.echo(json.dumps(asdict(summary), indent=2))
    else:
        _print_summary(summary)


def register(app: typer.Typer) -> None:
    """Add ``sync``, ``connectors`` and ``summary`` to the ``pybaton`` app."""
    app.command("sync", context_settings=PASS_THROUGH, add_help_option=False)(sync_command)
    app.command("connectors")(connectors_command)
    app.command("summary")(summary_command)


__all__ = ["build_summary", "connectors_command", "register", "summary_command", "sync_command"]
