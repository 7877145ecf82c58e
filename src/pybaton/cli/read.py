"""The read commands, mirroring Go's ``baton``: resource-types, resources, entitlements, grants, principals, stats, syncs.

This module declares them for Typer; their work is in :mod:`pybaton.cli.reading`
(which the fast path of :mod:`pybaton.cli.fast` runs without Typer).
"""

from __future__ import annotations

from typing import Annotated

import typer

from pybaton.cli import reading
from pybaton.cli.options import FileOpt, OutputOpt, SyncIdOpt, settings
from pybaton.cli.reading import open_reader, show

__all__ = ["EntitlementOpt", "ResourceOpt", "TypeOpt", "open_reader", "register", "show"]

TypeOpt = Annotated[str | None, typer.Option("--resource-type", "-t", help="Only this resource type.",
                                             show_default=False)]
ResourceOpt = Annotated[str | None, typer.Option("--resource", "--resource-id", "-r",
                                                 help="Only this resource (needs --resource-type).",
                                                 show_default=False)]
EntitlementOpt = Annotated[str | None, typer.Option("--entitlement", "--entitlement-id", "-e",
                                                    help="Only this entitlement.", show_default=False)]


def register(app: typer.Typer) -> None:
    """Add the read commands to ``app``."""
    app.command("resource-types")(resource_types_cmd)
    app.command("resources")(resources_cmd)
    app.command("entitlements")(entitlements_cmd)
    app.command("grants")(grants_cmd)
    app.command("principals")(principals_cmd)
    app.command("stats")(stats_cmd)
    app.command("syncs")(syncs_cmd)


def resource_types_cmd(ctx: typer.Context, file: FileOpt = None, output: OutputOpt = None,
                       sync_id: SyncIdOpt = None) -> None:
    """List resource types for the latest (or chosen) sync."""
    reading.resource_types(settings(ctx, file, output, sync_id))


def resources_cmd(ctx: typer.Context, resource_type: TypeOpt = None, file: FileOpt = None,
                  output: OutputOpt = None, sync_id: SyncIdOpt = None) -> None:
    """List resources for the latest (or chosen) sync."""
    reading.resources(settings(ctx, file, output, sync_id), resource_type)


def entitlements_cmd(ctx: typer.Context, resource_type: TypeOpt = None, resource_id: ResourceOpt = None,
                     file: FileOpt = None, output: OutputOpt = None, sync_id: SyncIdOpt = None) -> None:
    """List entitlements, optionally of one resource type or one resource."""
    reading.entitlements(settings(ctx, file, output, sync_id), resource_type, resource_id)


def grants_cmd(ctx: typer.Context, entitlement_id: EntitlementOpt = None, resource_type: TypeOpt = None,
               resource_id: ResourceOpt = None, file: FileOpt = None, output: OutputOpt = None,
               sync_id: SyncIdOpt = None) -> None:
    """List grants, optionally of one entitlement, resource type or resource."""
    reading.grants(settings(ctx, file, output, sync_id), entitlement_id, resource_type, resource_id)


def principals_cmd(ctx: typer.Context, entitlement_id: EntitlementOpt = None, resource_type: TypeOpt = None,
                   resource_id: ResourceOpt = None, file: FileOpt = None, output: OutputOpt = None,
                   sync_id: SyncIdOpt = None) -> None:
    """List the principals holding an entitlement, any entitlement of a resource, or any grant at all."""
    reading.principals(settings(ctx, file, output, sync_id), entitlement_id, resource_type, resource_id)


def stats_cmd(ctx: typer.Context, file: FileOpt = None, output: OutputOpt = None,
              sync_id: SyncIdOpt = None) -> None:
    """Counts of the latest (or chosen) sync of any type, overall and per resource type."""
    reading.stats(settings(ctx, file, output, sync_id))


def syncs_cmd(ctx: typer.Context, file: FileOpt = None, output: OutputOpt = None,
              sync_id: SyncIdOpt = None) -> None:
    """List the sync runs the file holds, oldest first (``--sync-id`` shows just that one)."""
    reading.syncs(settings(ctx, file, output, sync_id))
