"""``c1.storage.v3`` records → the ``c1.connector.v2`` messages every reader works with.

The v3 store keeps flattened records (references instead of nested messages,
enum names as strings); Go's reader rebuilds the connector messages from them
the same way: an entitlement's resource and a grant's entitlement and
principal carry ids only, ``grantable_to`` carries resource type ids only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import DecodeError, Message

from pybaton.c1z.v3.wire import Corrupt
from pybaton.pb.c1.connector.v2 import (
    annotation_grant_pb2,
    asset_pb2,
    entitlement_pb2,
    grant_pb2,
    resource_pb2,
)
from pybaton.pb.c1.storage.v3 import records_pb2

_EXPANDABLE_URL = "type.googleapis.com/" + annotation_grant_pb2.GrantExpandable.DESCRIPTOR.full_name
_TRAITS = resource_pb2.ResourceType.Trait
_PURPOSES = entitlement_pb2.Entitlement.PurposeValue


def parse(message_class: type[Message], value: bytes, what: str) -> Any:
    try:
        return message_class.FromString(value)
    except (DecodeError, RecursionError, ValueError) as exc:
        raise Corrupt(f"a {what} record does not decode ({exc})") from None


def _enum_value(enum: Any, prefix: str, name: str) -> Any:
    """Go stores ``GROUP`` for ``TRAIT_GROUP``; accept either spelling, 0 for unknown names."""
    for candidate in (name, prefix + name):
        try:
            return int(enum.Value(candidate))
        except ValueError:
            continue
    return 0


def resource_type(value: bytes) -> resource_pb2.ResourceType:
    rec = parse(records_pb2.ResourceTypeRecord, value, "resource type")
    out = resource_pb2.ResourceType(id=rec.external_id, display_name=rec.display_name,
                                    description=rec.description, sourced_externally=rec.sourced_externally)
    out.traits.extend(_enum_value(_TRAITS, "TRAIT_", t) for t in rec.traits)
    out.annotations.extend(rec.annotations)
    return out


def resource(value: bytes) -> resource_pb2.Resource:
    rec = parse(records_pb2.ResourceRecord, value, "resource")
    out = resource_pb2.Resource(id=resource_pb2.ResourceId(resource_type=rec.resource_type_id,
                                                           resource=rec.resource_id),
                                display_name=rec.display_name, description=rec.description)
    if rec.HasField("parent") and (rec.parent.resource_type_id or rec.parent.resource_id):
        out.parent_resource_id.resource_type = rec.parent.resource_type_id
        out.parent_resource_id.resource = rec.parent.resource_id
    out.annotations.extend(rec.annotations)
    if rec.HasField("profile"):
        out.profile.CopyFrom(rec.profile)
    if rec.HasField("status"):
        out.status.status = rec.status.status  # the two enums share their numbers
        out.status.details = rec.status.details
    if rec.HasField("created_at"):
        out.created_at.CopyFrom(rec.created_at)
    if rec.icon_asset_external_id:
        out.icon.id = rec.icon_asset_external_id
    return out


def entitlement(value: bytes) -> entitlement_pb2.Entitlement:
    rec = parse(records_pb2.EntitlementRecord, value, "entitlement")
    out = entitlement_pb2.Entitlement(id=rec.external_id, display_name=rec.display_name,
                                      description=rec.description, slug=rec.slug,
                                      purpose=_enum_value(_PURPOSES, "PURPOSE_VALUE_", rec.purpose))
    out.resource.id.resource_type = rec.resource.resource_type_id
    out.resource.id.resource = rec.resource.resource_id
    for type_id in rec.grantable_to_resource_type_ids:
        out.grantable_to.add(id=type_id)
    out.annotations.extend(rec.annotations)
    return out


@dataclass(frozen=True)
class GrantRecordView:
    grant: grant_pb2.Grant
    expansion: bytes | None
    needs_expansion: bool
    discovered_at: str


_MAX_SECONDS = 253402300799  # 9999-12-31T23:59:59Z


def timestamp_text(ts: Any) -> str:
    """A Timestamp in the text layout Go's v1 writer uses (``YYYY-MM-DD HH:MM:SS.nnnnnnnnn``)."""
    seconds = ts.seconds if 0 <= ts.seconds <= _MAX_SECONDS else 0
    nanos = ts.nanos if 0 <= ts.nanos < 1_000_000_000 else 0
    when = dt.datetime.fromtimestamp(seconds, dt.UTC)
    return when.strftime("%Y-%m-%d %H:%M:%S.") + f"{nanos:09d}"


def grant(value: bytes) -> GrantRecordView:
    """The grant, its ``GrantExpandable`` (v1 also keeps it in its own column) and when it was found."""
    rec = parse(records_pb2.GrantRecord, value, "grant")
    out = grant_pb2.Grant(id=rec.external_id)
    ent = rec.entitlement
    out.entitlement.id = ent.entitlement_id
    out.entitlement.resource.id.resource_type = ent.resource_type_id
    out.entitlement.resource.id.resource = ent.resource_id
    principal = rec.principal
    out.principal.id.resource_type = principal.resource_type_id
    out.principal.id.resource = principal.resource_id
    if principal.parent_resource_type_id or principal.parent_resource_id:
        out.principal.parent_resource_id.resource_type = principal.parent_resource_type_id
        out.principal.parent_resource_id.resource = principal.parent_resource_id
    out.annotations.extend(a for a in rec.annotations if a.type_url != _EXPANDABLE_URL)
    for key, source in sorted(rec.sources.items()):
        out.sources.sources[key].is_direct = source.is_direct
    expansion = None
    if rec.HasField("expansion"):
        # Go's reader hands the expansion back as the annotation it came from (last).
        expandable = annotation_grant_pb2.GrantExpandable(entitlement_ids=list(rec.expansion.entitlement_ids),
                                                          shallow=rec.expansion.shallow,
                                                          resource_type_ids=list(rec.expansion.resource_type_ids))
        expansion = expandable.SerializeToString()
        out.annotations.add(type_url=_EXPANDABLE_URL, value=expansion)
    return GrantRecordView(out, expansion, rec.needs_expansion, timestamp_text(rec.discovered_at))


def asset(value: bytes) -> tuple[str, str, bytes]:
    rec = parse(records_pb2.AssetRecord, value, "asset")
    return rec.external_id, rec.content_type, rec.data


__all__ = ["asset", "asset_pb2", "entitlement", "grant", "resource", "resource_type"]
