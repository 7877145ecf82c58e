"""The read commands' work, mirroring Go's ``baton``: resource-types, resources, entitlements, grants,
principals, stats, syncs.

Each function takes the effective options and the command's own arguments,
asks :mod:`pybaton.cli.outputs` for the listing (which asks :mod:`pybaton.c1z`),
closes the file, and only then prints: a failure leaves nothing on stdout.
Nothing here imports Typer, so both the Typer commands (:mod:`pybaton.cli.read`)
and the fast path (:mod:`pybaton.cli.fast`) run the same code.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

from pybaton.c1z.file import C1ZFile
from pybaton.c1z.reader import SyncReader
from pybaton.c1z.syncs import SyncRun
from pybaton.cli import columns, outputs
from pybaton.cli.render import (
    Listing,
    emit_json,
    print_console,
    print_csv,
    print_tables,
    to_json_dict,
    warning_line,
)
from pybaton.cli.runopts import OutputFormat, Settings, require_format
from pybaton.errors import SyncNotFoundError, UsageError


@contextlib.contextmanager
def open_reader(opts: Settings, *, sync_type: str | None = "full") -> Iterator[SyncReader]:
    """The chosen sync (``--sync-id``, else the latest finished one) of the chosen file."""
    with C1ZFile.open(opts.file) as c1z:
        yield SyncReader(c1z, _resolve(c1z, opts, sync_type))


def _resolve(c1z: C1ZFile, opts: Settings, sync_type: str | None) -> SyncRun:
    """The run to read; an unknown ``--sync-id`` names the file it was looked for in."""
    try:
        return c1z.resolve_sync(opts.sync_id, sync_type=sync_type)
    except SyncNotFoundError as exc:
        if opts.sync_id and str(opts.file) not in str(exc):
            raise SyncNotFoundError(f"{opts.file}: {exc}") from None
        raise


def show(opts: Settings, document: Any, listing: Listing[Any]) -> None:
    """Print a listing in the chosen format: the Go message as JSON, or its table."""
    if opts.output is OutputFormat.JSON:
        emit_json(document)
    elif opts.output is OutputFormat.CSV:
        print_csv(listing)
    else:
        print_console(listing)


def _needs_type(resource_type: str | None, resource_id: str | None) -> None:
    """A resource id is only unique within its type, so ``-r`` needs ``-t`` (as in Go)."""
    if resource_id is not None and not resource_type:
        raise UsageError("--resource needs --resource-type: a resource id is only unique within its type")


def _exclusive(resource_id: str | None, entitlement_id: str | None) -> None:
    if resource_id is not None and entitlement_id is not None:
        raise UsageError("--resource and --entitlement cannot be used together")


# -- commands ------------------------------------------------------------------------------------


def resource_types(opts: Settings) -> None:
    """List resource types for the latest (or chosen) sync."""
    with open_reader(opts) as reader:
        out = outputs.resource_types(reader)
    show(opts, out, Listing("Resource types", "resource types", columns.RESOURCE_TYPE_COLUMNS,
                            out.resource_types))


def resources(opts: Settings, resource_type: str | None) -> None:
    """List resources for the latest (or chosen) sync."""
    with open_reader(opts) as reader:
        out = outputs.resources(reader, warning_line, resource_type)
    show(opts, out, Listing("Resources", "resources", columns.RESOURCE_COLUMNS, out.resources))


def entitlements(opts: Settings, resource_type: str | None, resource_id: str | None) -> None:
    """List entitlements, optionally of one resource type or one resource."""
    _needs_type(resource_type, resource_id)
    with open_reader(opts) as reader:
        out = outputs.entitlements(reader, warning_line, resource_type, resource_id)
    show(opts, out, Listing("Entitlements", "entitlements", columns.ENTITLEMENT_COLUMNS, out.entitlements))


def grants(opts: Settings, entitlement_id: str | None, resource_type: str | None, resource_id: str | None) -> None:
    """List grants, optionally of one entitlement, resource type or resource."""
    _needs_type(resource_type, resource_id)
    _exclusive(resource_id, entitlement_id)
    with open_reader(opts) as reader:
        selection: dict[str, Any] = {"entitlement_id": entitlement_id, "resource_type": resource_type,
                                      "resource_id": resource_id}
        if opts.output is OutputFormat.JSON:  # a file can hold millions of grants: never all in memory
            from pybaton.cli.json_rows import stream_grants_json

            stream_grants_json(outputs.stored_grants(reader, warning_line, **selection))
        elif opts.output is OutputFormat.CSV:
            print_csv(Listing("Grants", "grants", columns.GRANT_COLUMNS,
                              outputs.stored_grants(reader, warning_line, **selection),
                              csv_cells=columns.grant_csv_cells))
        else:
            print_console(Listing("Grants", "grants", columns.GRANT_COLUMNS,
                                  outputs.grant_rows(reader, warning_line, **selection)))


def principals(opts: Settings, entitlement_id: str | None, resource_type: str | None,
               resource_id: str | None) -> None:
    """List the principals holding an entitlement, any entitlement of a resource, or any grant at all."""
    if (resource_type is None) != (resource_id is None):
        raise UsageError("principals: --resource-type and --resource go together")
    _exclusive(resource_id, entitlement_id)
    with open_reader(opts) as reader:
        out = outputs.principals(reader, warning_line, entitlement_id=entitlement_id,
                                 resource_type=resource_type, resource_id=resource_id)
        cols = list(columns.RESOURCE_COLUMNS)
        if entitlement_id:  # console/csv say direct or inherited; the JSON stays Go's
            cols.append(columns.principal_access_column(reader, entitlement_id))
    show(opts, out, Listing("Principals", "principals", cols, out.resources))


def stats(opts: Settings) -> None:
    """Counts of the latest (or chosen) sync of any type, overall and per resource type."""
    require_format(opts, (OutputFormat.CONSOLE, OutputFormat.JSON), "stats")
    with open_reader(opts, sync_type=None) as reader:
        run, counts = reader.run, reader.sync_stats()
    if opts.output is OutputFormat.JSON:
        document = to_json_dict(outputs.sync_run(run))
        stats_json = outputs.stats_json(counts)
        if stats_json:
            document["stats"] = stats_json
        emit_json(document)
    else:
        print_tables(_stats_tables(run, counts))


def _stats_tables(run: SyncRun, stats: dict[str, Any]) -> list[tuple[str, Sequence[str], list[list[str]]]]:
    """The sync, its totals, and a per-resource-type breakdown (Go's sync run info layout)."""
    msg = outputs.sync_run(run)
    info = [["Sync ID", run.sync_id], ["Sync Type", run.sync_type], ["Parent Sync ID", run.parent_sync_id],
            ["Started At", msg.started_at.ToJsonString() if msg.HasField("started_at") else "-"],
            ["Ended At", msg.ended_at.ToJsonString() if msg.HasField("ended_at") else "-"]]
    totals = [[label, str(int(stats.get(key) or 0))] for key, label in (
        ("resource_types", "Resource Types"), ("resources", "Resources"),
        ("entitlements", "Entitlements"), ("grants", "Grants"))]
    maps = [stats.get(k) or {} for k in ("resources_by_resource_type", "entitlements_by_resource_type",
                                         "grants_by_resource_type")]
    type_ids = sorted(set().union(*maps))
    breakdown = [[rt, *(str(int(m.get(rt, 0))) for m in maps)] for rt in type_ids]
    return [("Sync", ["Field", "Value"], info), ("Totals", ["Type", "Count"], totals),
            ("By resource type", ["Resource Type", "Resources", "Entitlements", "Grants"], breakdown)]


def syncs(opts: Settings) -> None:
    """List the sync runs the file holds, oldest first (``--sync-id`` shows just that one)."""
    with C1ZFile.open(opts.file) as c1z:
        runs = [_resolve(c1z, opts, None)] if opts.sync_id else c1z.sync_runs()
    out = outputs.syncs(runs)
    show(opts, out, Listing("Syncs", "syncs", columns.SYNC_COLUMNS, out.syncs))
