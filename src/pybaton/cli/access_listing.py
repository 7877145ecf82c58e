"""``pybaton access`` on one file: a principal's effective access, as Go's ``baton access`` document.

The console and CSV forms add what Go leaves out: whether each grant is held
directly or inherited, and through which entitlements. Nothing here imports
Typer: :mod:`pybaton.cli.analysis` declares the command, and the fast path
(:mod:`pybaton.cli.fast`) runs it without the CLI framework.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pybaton.c1z import access as acc
from pybaton.c1z.reader import SyncReader
from pybaton.cli.reading import open_reader, show
from pybaton.cli.render import Column, Listing
from pybaton.cli.runopts import Settings
from pybaton.errors import UsageError, UserError
from pybaton.model.ids import split_resource_ref
from pybaton.pb.baton.v1 import outputs_pb2
from pybaton.pb.c1.connector.v2 import entitlement_pb2, resource_pb2


def principal_of(resource_type: str | None, resource_id: str | None, principal: str | None) -> tuple[str, str]:
    """``-t TYPE -r ID`` or ``-p TYPE:ID`` (one of the two)."""
    if principal is not None:
        if resource_type is not None or resource_id is not None:
            raise UsageError("give the principal either as -p TYPE:ID or as -t TYPE -r ID, not both")
        return split_resource_ref(principal, what="principal")
    if not resource_type or not resource_id:
        raise UsageError("which principal? give -t TYPE -r ID (or -p TYPE:ID)")
    return resource_type, resource_id


@dataclass(frozen=True)
class AccessRow:
    resource: resource_pb2.Resource
    entitlement: entitlement_pb2.Entitlement
    holding: acc.Holding


ACCESS_COLUMNS: tuple[Column[AccessRow], ...] = (
    Column("Resource Type", "resource_type", lambda r: r.resource.id.resource_type),
    Column("Resource ID", "resource_id", lambda r: r.resource.id.resource, console=False),
    Column("Resource", "resource_display_name", lambda r: r.resource.display_name),
    Column("Entitlement", "entitlement_id", lambda r: r.entitlement.id),
    Column("Name", "entitlement_display_name", lambda r: r.entitlement.display_name, console=False),
    Column("Access", "access", lambda r: r.holding.kind),
    Column("Via", "via", lambda r: ", ".join(r.holding.via)),
)


def _access_document(principal: resource_pb2.Resource,
                     access: Sequence[acc.ResourceAccess]) -> outputs_pb2.ResourceAccessListOutput:
    """Go's ``baton access`` document."""
    out = outputs_pb2.ResourceAccessListOutput()
    out.principal.CopyFrom(principal)
    for item in access:
        row = out.access.add()
        row.resource_type.CopyFrom(item.resource_type)
        row.resource.CopyFrom(item.resource)
        row.entitlements.extend(ent for ent, _ in item.entries)
    return out


def _principal_resource(reader: SyncReader, principal: tuple[str, str]) -> resource_pb2.Resource:
    found = reader.resource(*principal)
    if found is None:
        raise UserError(f"principal {principal[0]}:{principal[1]} is not in sync {reader.sync_id}")
    return found


def access(opts: Settings, resource_type: str | None, resource_id: str | None, principal: str | None) -> None:
    """List the effective access of a principal in one file."""
    who = principal_of(resource_type, resource_id, principal)
    with open_reader(opts) as reader:
        found = _principal_resource(reader, who)
        held = acc.effective_access(reader, who)
    rows = [AccessRow(item.resource, ent, holding) for item in held for ent, holding in item.entries]
    show(opts, _access_document(found, held), Listing(f"Access of {who[0]}:{who[1]}", "entitlements",
                                                       ACCESS_COLUMNS, rows))
