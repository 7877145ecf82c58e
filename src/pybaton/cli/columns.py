"""The columns of each table-shaped listing, read from the Go output messages.

Kept apart from the commands so that ``access``, ``diff`` or ``export`` can
reuse the same columns for the same objects.
"""

from __future__ import annotations

from collections.abc import Iterable

from pybaton.c1z.reader import SyncReader
from pybaton.c1z.syncs import parse_time
from pybaton.cli.outputs import GrantParts, PlainGrant
from pybaton.cli.render import Column
from pybaton.pb.baton.v1 import outputs_pb2
from pybaton.pb.c1.connector.v2 import entitlement_pb2, resource_pb2

RTOut = outputs_pb2.ResourceTypeOutput
ResOut = outputs_pb2.ResourceOutput
EntOut = outputs_pb2.EntitlementOutput
GrantOut = GrantParts
SyncOut = outputs_pb2.SyncOutput


def trait_names(traits: Iterable[int]) -> str:
    """``TRAIT_USER`` -> ``user``, comma-separated."""
    names = (resource_pb2.ResourceType.Trait.Name(t) if t in resource_pb2.ResourceType.Trait.values() else str(t)
             for t in traits)
    return ",".join(n.removeprefix("TRAIT_").lower() for n in names)


def purpose_name(ent: entitlement_pb2.Entitlement) -> str:
    """``PURPOSE_VALUE_ASSIGNMENT`` -> ``assignment`` (empty when unspecified)."""
    enum = entitlement_pb2.Entitlement.PurposeValue
    if ent.purpose not in enum.values():
        return str(ent.purpose)
    name = enum.Name(ent.purpose).removeprefix("PURPOSE_VALUE_").lower()
    return "" if name == "unspecified" else name


def ref(rid: resource_pb2.ResourceId) -> str:
    """``type:id`` of a resource, as Baton writes references."""
    return f"{rid.resource_type}:{rid.resource}" if rid.resource_type else ""


RESOURCE_TYPE_COLUMNS: tuple[Column[RTOut], ...] = (
    Column("ID", "id", lambda r: r.resource_type.id),
    Column("Display Name", "display_name", lambda r: r.resource_type.display_name),
    Column("Traits", "traits", lambda r: trait_names(r.resource_type.traits)),
    Column("Description", "description", lambda r: r.resource_type.description, console=False),
)

RESOURCE_COLUMNS: tuple[Column[ResOut], ...] = (
    Column("Resource Type", "resource_type", lambda r: r.resource.id.resource_type),
    Column("ID", "resource_id", lambda r: r.resource.id.resource),
    Column("Display Name", "display_name", lambda r: r.resource.display_name),
    Column("Parent", "parent", lambda r: ref(r.resource.parent_resource_id), csv=False),
    Column("Parent Type", "parent_resource_type", lambda r: r.resource.parent_resource_id.resource_type,
           console=False),
    Column("Parent ID", "parent_resource_id", lambda r: r.resource.parent_resource_id.resource, console=False),
    Column("Parent Name", "parent_display_name", lambda r: r.parent.display_name, console=False),
    Column("Description", "description", lambda r: r.resource.description, console=False),
)

ENTITLEMENT_COLUMNS: tuple[Column[EntOut], ...] = (
    Column("ID", "entitlement_id", lambda r: r.entitlement.id),
    Column("Display Name", "display_name", lambda r: r.entitlement.display_name),
    Column("Resource Type", "resource_type", lambda r: r.entitlement.resource.id.resource_type),
    Column("Resource ID", "resource_id", lambda r: r.entitlement.resource.id.resource, console=False),
    Column("Resource", "resource_display_name", lambda r: r.resource.display_name),
    Column("Slug", "slug", lambda r: r.entitlement.slug, console=False),
    Column("Purpose", "purpose", lambda r: purpose_name(r.entitlement)),
    Column("Description", "description", lambda r: r.entitlement.description, console=False),
)

GRANT_COLUMNS: tuple[Column[GrantOut], ...] = (
    Column("Grant ID", "grant_id", lambda r: r.grant.id, console=False),
    Column("Entitlement", "entitlement_id", lambda r: r.grant.entitlement.id),
    Column("Resource Type", "resource_type", lambda r: r.grant.entitlement.resource.id.resource_type),
    Column("Resource ID", "resource_id", lambda r: r.grant.entitlement.resource.id.resource, console=False),
    Column("Resource", "resource_display_name", lambda r: r.resource.display_name),
    Column("Principal", "principal", lambda r: ref(r.grant.principal.id), csv=False),
    Column("Principal Type", "principal_type", lambda r: r.grant.principal.id.resource_type, console=False),
    Column("Principal ID", "principal_id", lambda r: r.grant.principal.id.resource, console=False),
    Column("Principal Name", "principal_display_name", lambda r: r.principal.display_name),
)



def grant_csv_cells(r: GrantOut | PlainGrant) -> list[str]:
    """The CSV cells of :data:`GRANT_COLUMNS` in one call, also of a :class:`PlainGrant` (whose parts
    hold their cells): a listing can hold millions of grants."""
    if isinstance(r, PlainGrant):
        return [r.grant_id, *r.entitlement.cells, *r.principal.cells]
    grant = r.grant
    ent_rid = grant.entitlement.resource.id
    principal_id = grant.principal.id
    return [grant.id, grant.entitlement.id, ent_rid.resource_type, ent_rid.resource, r.resource.display_name,
            principal_id.resource_type, principal_id.resource, r.principal.display_name]


def rfc3339_seconds(out: SyncOut, which: str) -> str:
    """Go's console shows sync times as RFC 3339 to the second."""
    if not out.HasField(which):
        return "-"
    when = parse_time(getattr(out, which).ToJsonString())
    return when.strftime("%Y-%m-%dT%H:%M:%SZ") if when else "-"


def rfc3339_nanos(out: SyncOut, which: str) -> str:
    return getattr(out, which).ToJsonString() if out.HasField(which) else ""


SYNC_COLUMNS: tuple[Column[SyncOut], ...] = (
    Column("ID", "id", lambda r: r.id),
    Column("Started At", "started_at", lambda r: rfc3339_seconds(r, "started_at"), csv=False),
    Column("Ended At", "ended_at", lambda r: rfc3339_seconds(r, "ended_at"), csv=False),
    Column("Started At", "started_at", lambda r: rfc3339_nanos(r, "started_at"), console=False),
    Column("Ended At", "ended_at", lambda r: rfc3339_nanos(r, "ended_at"), console=False),
    Column("Type", "sync_type", lambda r: r.sync_type),
    Column("Parent ID", "parent_sync_id", lambda r: r.parent_sync_id),
    Column("Token", "sync_token", lambda r: r.sync_token),
)


def principal_access_column(reader: SyncReader, entitlement_id: str) -> Column[ResOut]:
    """An "Access" column (direct / inherited) for the ``principals -e`` listing; its JSON stays Go's.

    Build it while the reader is open and append it to the listing's columns.
    """
    from pybaton.c1z import access

    marks = access.principal_marks(reader, entitlement_id)
    return Column("Access", "access", lambda r: marks.get((r.resource.id.resource_type, r.resource.id.resource), ""))
