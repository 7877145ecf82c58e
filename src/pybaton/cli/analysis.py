"""Commands that analyse a sync: ``access``, ``explain``, ``diff``, ``export`` and ``expand``.

``access`` and ``diff`` print Go's JSON documents (``baton -o json access`` /
``diff``) unchanged; their console and CSV forms add what Go leaves out: whether
each grant is held directly or inherited, and through which entitlements.
``explain`` has no Go counterpart: it prints the paths (nested groups, roles)
through which a principal holds an entitlement, or says plainly that it does
not (exit code 0 either way: "no access" is an answer, not an error).
"""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from pybaton.c1z import C1ZFile, SyncReader, SyncRun
from pybaton.c1z import access as acc
from pybaton.c1z import diff as diffs
from pybaton.c1z import export as exports
from pybaton.cli import access_listing
from pybaton.cli.options import (
    FileOpt,
    OutputFormat,
    OutputOpt,
    Settings,
    SyncIdOpt,
    require_format,
    settings,
)
from pybaton.cli.read import EntitlementOpt, ResourceOpt, TypeOpt, open_reader, show
from pybaton.cli.render import Column, Listing, emit_json, print_tables, to_json_dict, warning_line
from pybaton.errors import OnlyOneSyncError, SyncNotFoundError, UsageError, UserError
from pybaton.model.ids import split_resource_ref
from pybaton.pb.c1.connector.v2 import entitlement_pb2, resource_pb2
from pybaton.sync.expand import DEFAULT_MAX_DEPTH, expand_file

PrincipalOpt = Annotated[str | None, typer.Option("--principal", "-p", help="The principal, as TYPE:ID "
                                                  "(e.g. user:alice).", show_default=False)]


def register(app: typer.Typer) -> None:
    """Add the analysis commands to ``app``."""
    app.command("access")(access_cmd)
    app.command("explain")(explain_cmd)
    app.command("diff")(diff_cmd)
    app.command("export")(export_cmd)
    app.command("expand")(expand_cmd)


def _ref(rid: resource_pb2.ResourceId) -> str:
    return f"{rid.resource_type}:{rid.resource}"


# -- access ----------------------------------------------------------------------------------------


PersonOpt = Annotated[str | None, typer.Option("--person", help="A person (email, login or identity id): their "
                                               "access in every system, from the warehouse.", show_default=False)]
AsOfOpt = Annotated[str | None, typer.Option("--as-of", help="With --person: as of a date, a time, a duration "
                                             "back (7d) or a sync id.", show_default=False)]
WorkspaceOpt = Annotated[str | None, typer.Option("--workspace", "-w", help="With --person: the workspace file.",
                                                  show_default=False)]
WarehouseOpt = Annotated[str | None, typer.Option("--warehouse", envvar="PYBATON_WAREHOUSE", show_default=False,
                                                  help="With --person: a postgresql:// URL or a SQLite file.")]


def access_cmd(ctx: typer.Context, resource_type: TypeOpt = None, resource_id: ResourceOpt = None,
               principal: PrincipalOpt = None, file: FileOpt = None, output: OutputOpt = None,
               sync_id: SyncIdOpt = None, person: PersonOpt = None, as_of: AsOfOpt = None,
               workspace: WorkspaceOpt = None, warehouse: WarehouseOpt = None) -> None:
    """List the effective access of a principal in one file, or (--person) of a person in every system."""
    opts = settings(ctx, file, output, sync_id)
    if person is not None:
        if resource_type or resource_id or principal:
            raise UsageError("--person looks a person up in the warehouse; -p/-t/-r name a principal in one file")
        from pybaton.cli.warehouse import person_access

        person_access(opts, person, as_of, workspace, warehouse)
        return
    if as_of is not None or workspace is not None or warehouse is not None:
        raise UsageError("--as-of, --workspace and --warehouse go with --person")
    access_listing.access(opts, resource_type, resource_id, principal)


# -- explain ---------------------------------------------------------------------------------------


def _explanation_json(ent: entitlement_pb2.Entitlement, principal: resource_pb2.Resource,
                      found: acc.Explanation) -> dict[str, Any]:
    kind = "none" if not found.has_access else acc.DIRECT if any(len(p) == 1 for p in found.paths) else acc.INHERITED
    return {"entitlement": to_json_dict(ent), "principal": to_json_dict(principal), "access": kind,
            "paths": [list(p) for p in found.paths], "truncated": found.truncated}


def _print_explanation(found: acc.Explanation) -> None:
    who = f"{found.principal[0]}:{found.principal[1]}"
    if not found.has_access:
        typer.echo(f"no access: {who} does not hold {found.entitlement_id}")
        return
    rows = [[str(n), line] for n, line in enumerate(acc.iter_paths(found), 1)]
    print_tables([(f"{who} holds {found.entitlement_id} through", ["#", "Path"], rows)])
    if found.truncated:
        warning_line(f"only the first {len(found.paths)} paths are shown (--limit)")


def _explain_one(opts: Settings, entitlement_id: str, principal: tuple[str, str], limit: int) -> None:
    with open_reader(opts) as reader:
        ent = _entitlement(reader, entitlement_id)
        resource = reader.resource(*principal)
        if resource is None:
            warning_line(f"principal {principal[0]}:{principal[1]} is not among the sync's resources")
            resource = resource_pb2.Resource(id=resource_pb2.ResourceId(resource_type=principal[0],
                                                                        resource=principal[1]))
        found = acc.explain(reader, entitlement_id, principal, limit=limit)
    if opts.output is OutputFormat.JSON:
        emit_json(_explanation_json(ent, resource, found))
    else:
        _print_explanation(found)


def _entitlement(reader: SyncReader, entitlement_id: str) -> entitlement_pb2.Entitlement:
    ent = reader.entitlement(entitlement_id)
    if ent is None:
        raise UserError(f"entitlement {entitlement_id!r} is not in sync {reader.sync_id}")
    return ent


HOLDER_COLUMNS: tuple[Column[tuple[resource_pb2.ResourceId, acc.Holding]], ...] = (
    Column("Principal Type", "principal_type", lambda r: r[0].resource_type),
    Column("Principal ID", "principal_id", lambda r: r[0].resource),
    Column("Access", "access", lambda r: r[1].kind),
    Column("Via", "via", lambda r: ", ".join(r[1].via)),
)


def _explain_holders(opts: Settings, entitlement_id: str) -> None:
    with open_reader(opts) as reader:
        _entitlement(reader, entitlement_id)
        holders = acc.entitlement_principals(reader, entitlement_id)
    document = {"entitlement": entitlement_id, "principals": [
        {"principal": {"resourceType": rid.resource_type, "resource": rid.resource}, "access": h.kind,
         "via": list(h.via)} for rid, h in holders]}
    show(opts, document, Listing(f"Holders of {entitlement_id}", "principals", HOLDER_COLUMNS, holders))


LimitOpt = Annotated[int, typer.Option("--limit", min=1, help="List at most this many paths.")]


def explain_cmd(ctx: typer.Context, entitlement_id: EntitlementOpt = None, principal: PrincipalOpt = None,
                limit: LimitOpt = acc.DEFAULT_PATH_LIMIT, file: FileOpt = None, output: OutputOpt = None,
                sync_id: SyncIdOpt = None) -> None:
    """Explain why a principal holds an entitlement (every path through groups and roles), or list its holders."""
    opts = settings(ctx, file, output, sync_id)
    if not entitlement_id:
        raise UsageError("explain: give the entitlement with -e (and the principal with -p TYPE:ID)")
    if principal is None:
        _explain_holders(opts, entitlement_id)
        return
    require_format(opts, (OutputFormat.CONSOLE, OutputFormat.JSON), "explain")
    _explain_one(opts, entitlement_id, split_resource_ref(principal, what="principal"), limit)


# -- diff ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    kind: str
    change: str
    object_id: str
    name: str


CHANGE_COLUMNS: tuple[Column[Change], ...] = (
    Column("Kind", "kind", lambda c: c.kind),
    Column("Change", "change", lambda c: c.change),
    Column("ID", "id", lambda c: c.object_id),
    Column("Name", "name", lambda c: c.name),
)


def _changes(result: diffs.SyncDiff) -> Iterator[Change]:
    for change in ("created", "deleted", "modified"):
        for res in getattr(result.resources, change):
            yield Change("resource", change, _ref(res.id), res.display_name)
        for ent in getattr(result.entitlements, change):
            yield Change("entitlement", change, ent.id, ent.display_name)
        for grant in getattr(result.grants, change):
            yield Change("grant", change, grant.id, f"{_ref(grant.principal.id)} holds {grant.entitlement.id}")


def _print_diff(result: diffs.SyncDiff, changes: Sequence[Change]) -> None:
    runs = [["from", result.old.sync_id, result.old.ended_at or ""], ["to", result.new.sync_id, result.new.ended_at or ""]]
    summary = [[kind, *(str(len(getattr(bucket, c))) for c in ("created", "deleted", "modified"))]
               for kind, bucket in (("resources", result.resources), ("entitlements", result.entitlements),
                                    ("grants", result.grants))]
    tables: list[tuple[str, Sequence[str], Sequence[Sequence[str]]]] = [
        ("Syncs compared", ["", "Sync ID", "Ended At"], runs),
        ("Changes", ["Kind", "Created", "Deleted", "Modified"], summary)]
    if changes:
        tables.append(("Changed objects", [c.header for c in CHANGE_COLUMNS],
                       [[col.get(c) for col in CHANGE_COLUMNS] for c in changes]))
    print_tables(tables)
    if not changes:
        typer.echo("no differences")


def _run(c1z: C1ZFile, sync_id: str | None) -> SyncRun:
    try:
        return c1z.resolve_sync(sync_id)
    except SyncNotFoundError as exc:
        raise SyncNotFoundError(f"{c1z.path}: {exc}") from None


def _sides(new_file: C1ZFile, old_file: C1ZFile, from_sync: str | None,
           to_sync: str | None) -> tuple[diffs.Side, diffs.Side]:
    """What to compare: ``--to`` (else the latest sync) against ``--from`` (else the sync before it,
    or the latest sync of ``--from-file``)."""
    new = _run(new_file, to_sync)
    if from_sync is not None or old_file is not new_file:
        old = _run(old_file, from_sync)
    else:
        previous = new_file.previous_sync(new)
        if previous is None:
            raise OnlyOneSyncError(
                f"{new_file.path} holds one {new.sync_type} sync so far ({new.sync_id}): diff compares two. Sync "
                f"into {new_file.path} again (pybaton sync CONNECTOR -f {new_file.path}) and run diff then, "
                "or compare with another file (--from-file) or sync (--from).")
        old = previous
    return diffs.Side(old_file, old), diffs.Side(new_file, new)


FromOpt = Annotated[str | None, typer.Option("--from", help="The older sync id (default: the one before --to).",
                                             show_default=False)]
ToOpt = Annotated[str | None, typer.Option("--to", help="The newer sync id (default: the latest).",
                                           show_default=False)]
FromFileOpt = Annotated[Path | None, typer.Option("--from-file", help="Compare against a sync of this other file "
                                                  "(its latest, or --from).", show_default=False)]
ExitCodeOpt = Annotated[bool, typer.Option("--exit-code", help="Exit with 1 when there are differences.")]


def diff_cmd(ctx: typer.Context, from_sync: FromOpt = None, to_sync: ToOpt = None, from_file: FromFileOpt = None,
             exit_code: ExitCodeOpt = False, file: FileOpt = None, output: OutputOpt = None,
             sync_id: SyncIdOpt = None) -> None:
    """Show what was created, deleted and modified between two syncs (of one file, or of two files)."""
    opts = settings(ctx, file, output, sync_id)
    with contextlib.ExitStack() as stack:
        new_file = stack.enter_context(C1ZFile.open(opts.file))
        old_file = stack.enter_context(C1ZFile.open(from_file)) if from_file is not None else new_file
        try:
            sides = _sides(new_file, old_file, from_sync, to_sync or opts.sync_id)
        except OnlyOneSyncError as exc:
            if opts.output is not OutputFormat.CONSOLE:
                raise  # a script reading JSON or CSV must not take the explanation for an empty diff
            typer.echo(str(exc))
            return
        result = diffs.diff(*sides)
    changes = list(_changes(result))
    if opts.output is OutputFormat.JSON:
        emit_json(result.to_message())
    elif opts.output is OutputFormat.CSV:
        show(opts, {}, Listing("Changes", "changes", CHANGE_COLUMNS, changes))
    else:
        _print_diff(result, changes)
    if exit_code and result.changed:
        raise typer.Exit(1)


# -- export and expand -----------------------------------------------------------------------------


class ExportFormat(enum.StrEnum):
    CSV = "csv"
    XLSX = "xlsx"
    JSONL = "jsonl"


FormatOpt = Annotated[ExportFormat, typer.Option("--format", help="csv (Go's upload layout), xlsx (a sheet per "
                                                 "table) or jsonl (one object per row).", case_sensitive=False)]
OutPathOpt = Annotated[Path | None, typer.Option("--out", help="Where to write (default: ./sync.FORMAT).",
                                                 show_default=False)]


def export_cmd(ctx: typer.Context, fmt: FormatOpt = ExportFormat.CSV, out: OutPathOpt = None, file: FileOpt = None,
               sync_id: SyncIdOpt = None) -> None:
    """Export the latest (or chosen) sync as CSV, XLSX or JSON lines, written atomically."""
    opts = settings(ctx, file, None, sync_id)
    target = out if out is not None else Path(f"sync.{fmt.value}")
    with open_reader(opts) as reader:
        count = exports.export(reader, fmt.value, target)
    typer.echo(f"wrote {count} rows to {target}")


MaxDepthOpt = Annotated[int, typer.Option("--max-depth", min=1, help="How deep nested groups are followed.")]


def expand_cmd(ctx: typer.Context, max_depth: MaxDepthOpt = DEFAULT_MAX_DEPTH, file: FileOpt = None,
               output: OutputOpt = None, sync_id: SyncIdOpt = None) -> None:
    """Expand the grants of nested groups and roles in a file, in place (atomically)."""
    opts = settings(ctx, file, output, sync_id)
    require_format(opts, (OutputFormat.CONSOLE, OutputFormat.JSON), "expand")
    stats = expand_file(opts.file, opts.sync_id, max_depth=max_depth)
    if opts.output is OutputFormat.JSON:
        emit_json({"edges": stats.edges, "destinations": stats.destinations, "derived": stats.derived,
                   "updatedDirect": stats.updated_direct, "removedStale": stats.removed_stale,
                   "depth": stats.depth, "skipped": stats.skipped})
    else:
        typer.echo(f"expanded {opts.file}: {stats.derived} derived grants on {stats.destinations} entitlements "
                   f"({stats.edges} edges, depth {stats.depth}), {stats.updated_direct} direct grants updated, "
                   f"{stats.removed_stale} stale grants removed")
