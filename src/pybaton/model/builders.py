"""Constructors for the access model, in the spirit of Baton's Go helpers.

They return the protobuf messages themselves (no wrapper objects), so what a
connector builds is exactly what is stored and what Go reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple, cast

from google.protobuf import struct_pb2
from google.protobuf.internal.containers import RepeatedCompositeFieldContainer
from google.protobuf.message import Message

from pybaton.model import annotations as ann
from pybaton.model.ids import entitlement_id, grant_id
from pybaton.pb.c1.connector.v2 import (
    annotation_grant_pb2,
    annotation_resource_tree_pb2,
    annotation_trait_pb2,
    entitlement_pb2,
    grant_pb2,
    resource_pb2,
)

Trait = resource_pb2.ResourceType.Trait
TRAIT_USER = resource_pb2.ResourceType.TRAIT_USER
TRAIT_GROUP = resource_pb2.ResourceType.TRAIT_GROUP
TRAIT_ROLE = resource_pb2.ResourceType.TRAIT_ROLE
TRAIT_APP = resource_pb2.ResourceType.TRAIT_APP
TRAIT_SECRET = resource_pb2.ResourceType.TRAIT_SECRET

_TRAIT_BY_NAME = {"user": TRAIT_USER, "group": TRAIT_GROUP, "role": TRAIT_ROLE, "app": TRAIT_APP,
                  "secret": TRAIT_SECRET}

ASSIGNMENT = entitlement_pb2.Entitlement.PURPOSE_VALUE_ASSIGNMENT
PERMISSION = entitlement_pb2.Entitlement.PURPOSE_VALUE_PERMISSION

ResourceRef = resource_pb2.Resource | resource_pb2.ResourceId


def trait_value(name: str) -> int:
    """``"user"`` → ``TRAIT_USER`` (raises KeyError on unknown names)."""
    return int(_TRAIT_BY_NAME[name.lower()])


def struct(values: Mapping[str, Any] | None) -> struct_pb2.Struct:
    out = struct_pb2.Struct()
    if values:
        out.update({k: v for k, v in values.items() if v is not None})
    return out


def resource_type(type_id: str, display_name: str, *, traits: Iterable[int | str] = (),
                  description: str = "", annotations: Iterable[Message] = ()) -> resource_pb2.ResourceType:
    rt = resource_pb2.ResourceType(id=type_id, display_name=display_name, description=description)
    values = [trait_value(t) if isinstance(t, str) else t for t in traits]
    rt.traits.extend(cast("list[resource_pb2.ResourceType.Trait]", values))
    for a in annotations:
        rt.annotations.append(ann.pack(a))
    return rt


def resource_id(type_id: str, rid: str) -> resource_pb2.ResourceId:
    return resource_pb2.ResourceId(resource_type=type_id, resource=rid)


def _rid(ref: ResourceRef) -> resource_pb2.ResourceId:
    return ref.id if isinstance(ref, resource_pb2.Resource) else ref


def resource(rtype: resource_pb2.ResourceType | str, rid: str, display_name: str, *,
             parent: ResourceRef | None = None, description: str = "",
             traits: Iterable[Message] = (), annotations: Iterable[Message] = (),
             child_types: Sequence[str] = (), external_id: str = "") -> resource_pb2.Resource:
    """A resource; ``traits`` are trait messages (see :func:`user_trait` etc.)."""
    type_id = rtype if isinstance(rtype, str) else rtype.id
    res = resource_pb2.Resource(id=resource_id(type_id, rid), display_name=display_name, description=description)
    if parent is not None:
        res.parent_resource_id.CopyFrom(_rid(parent))
    if external_id:
        res.external_id.id = external_id
    for msg in (*traits, *annotations):
        res.annotations.append(ann.pack(msg))
    for child in child_types:
        res.annotations.append(ann.pack(annotation_resource_tree_pb2.ChildResourceType(resource_type_id=child)))
    return res


def user_trait(*, emails: Sequence[str] = (), login: str = "", status: str = "enabled",
               account_type: str = "human", profile: Mapping[str, Any] | None = None,
               employee_ids: Sequence[str] = (), login_aliases: Sequence[str] = ()
               ) -> annotation_trait_pb2.UserTrait:
    """A user trait. ``status``: enabled|disabled|deleted; ``account_type``: human|service|system."""
    trait = annotation_trait_pb2.UserTrait(login=login)
    for i, email in enumerate(emails):
        trait.emails.append(annotation_trait_pb2.UserTrait.Email(address=email, is_primary=i == 0))
    trait.status.status = cast("annotation_trait_pb2.UserTrait.Status.Status",
                               annotation_trait_pb2.UserTrait.Status.Status.Value(f"STATUS_{status.upper()}"))
    trait.account_type = cast("annotation_trait_pb2.UserTrait.AccountType",
                              annotation_trait_pb2.UserTrait.AccountType.Value(f"ACCOUNT_TYPE_{account_type.upper()}"))
    if profile:
        trait.profile.CopyFrom(struct(profile))
    trait.employee_ids.extend(employee_ids)
    trait.login_aliases.extend(login_aliases)
    return trait


def group_trait(profile: Mapping[str, Any] | None = None) -> annotation_trait_pb2.GroupTrait:
    trait = annotation_trait_pb2.GroupTrait()
    if profile:
        trait.profile.CopyFrom(struct(profile))
    return trait


def role_trait(profile: Mapping[str, Any] | None = None) -> annotation_trait_pb2.RoleTrait:
    trait = annotation_trait_pb2.RoleTrait()
    if profile:
        trait.profile.CopyFrom(struct(profile))
    return trait


def app_trait(profile: Mapping[str, Any] | None = None, help_url: str = "") -> annotation_trait_pb2.AppTrait:
    trait = annotation_trait_pb2.AppTrait(help_url=help_url)
    if profile:
        trait.profile.CopyFrom(struct(profile))
    return trait


def secret_trait(profile: Mapping[str, Any] | None = None) -> annotation_trait_pb2.SecretTrait:
    trait = annotation_trait_pb2.SecretTrait()
    if profile:
        trait.profile.CopyFrom(struct(profile))
    return trait


def entitlement(res: resource_pb2.Resource, slug: str, *, purpose: int = ASSIGNMENT,
                grantable_to: Iterable[resource_pb2.ResourceType] = (), display_name: str = "",
                description: str = "", annotations: Iterable[Message] = ()) -> entitlement_pb2.Entitlement:
    """An entitlement on ``res`` with Baton's id ``type:resource:slug``."""
    ent = entitlement_pb2.Entitlement(
        id=entitlement_id(res.id.resource_type, res.id.resource, slug), display_name=display_name or slug,
        description=description, purpose=purpose, slug=slug,  # type: ignore[arg-type]
    )
    ent.resource.CopyFrom(res)
    ent.grantable_to.extend(grantable_to)
    for a in annotations:
        ent.annotations.append(ann.pack(a))
    return ent


def assignment(res: resource_pb2.Resource, slug: str, **kwargs: Any) -> entitlement_pb2.Entitlement:
    """Membership-style entitlement (``member`` of a group, ``assigned`` a role)."""
    return entitlement(res, slug, purpose=ASSIGNMENT, **kwargs)


def permission(res: resource_pb2.Resource, slug: str, **kwargs: Any) -> entitlement_pb2.Entitlement:
    """Permission-style entitlement (``read``, ``admin``)."""
    return entitlement(res, slug, purpose=PERMISSION, **kwargs)


def entitlement_ref(res: ResourceRef, slug: str) -> entitlement_pb2.Entitlement:
    """The slim entitlement a grant embeds: its id and its resource's id."""
    rid = _rid(res)
    ent = entitlement_pb2.Entitlement(id=entitlement_id(rid.resource_type, rid.resource, slug))
    ent.resource.id.CopyFrom(rid)
    return ent


def grant(ent: entitlement_pb2.Entitlement, principal: ResourceRef, *,
          expandable: Sequence[str] = (), shallow: bool = False,
          expand_resource_types: Sequence[str] = (), annotations: Iterable[Message] = ()) -> grant_pb2.Grant:
    """``principal`` holds ``ent``.

    ``expandable`` names entitlements whose holders also receive this one (e.g.
    members of a nested group: ``group:B:member``), recorded as ``GrantExpandable``.
    The grant embeds only the ids of the entitlement and principal, as Go's
    connectors store them; readers join the full objects.
    """
    pid = principal.id if isinstance(principal, _Resource) else principal
    head = _ENTITLEMENT_FIELDS.get(ent.id) or _entitlement_field(ent)
    tail = _PRINCIPAL_FIELDS.get((pid.resource_type, pid.resource, pid.baton_resource)) or _principal_field(pid)
    gid = head[1] + tail[1]
    size = len(gid)
    # Parsed from bytes put together from pre-encoded fields: the entitlement's and the principal's
    # fields are encoded once (thousands of grants share each), and one parse costs less than
    # building the nested messages field by field. The message is the same as
    # Grant(entitlement=slim, principal=Resource(id=pid), id=...) (property-tested).
    block = _block[0]
    if len(block) >= _GRANTS_PER_BLOCK:
        block = _block[0] = _new_block()
    g = block.add()
    g.MergeFromString(b"".join((head[0], tail[0], _ID_HEADS[size] if size < 0x80 else _field_head(_GRANT_ID_TAG, size),
                                gid)))
    if expandable:
        g.annotations.append(ann.pack(annotation_grant_pb2.GrantExpandable(
            entitlement_ids=list(expandable), shallow=shallow, resource_type_ids=list(expand_resource_types))))
    for a in annotations:
        g.annotations.append(ann.pack(a))
    return g


# Protobuf tags (field number << 3 | wire type 2, length-delimited) of the fields a grant is made of.
_ENTITLEMENT_TAG = 1 << 3 | 2   # Grant.entitlement
_PRINCIPAL_TAG = 2 << 3 | 2     # Grant.principal
_GRANT_ID_TAG = 3 << 3 | 2      # Grant.id
_RESOURCE_ID_TAG = 1 << 3 | 2   # Resource.id


_Resource = resource_pb2.Resource
_ID_HEADS = [bytes((_GRANT_ID_TAG, size)) for size in range(0x80)]  # the id field's tag and one-byte length

# Grants are made in shared blocks of this many. A message parsed on its own gets its own upb arena
# (1.08 KB a grant, measured with malloc's own counters): allocating and freeing those was half of
# what building a million grants cost. Grants added to one repeated field share that field's arena
# (0.74 KB a grant). The price: a grant still alive keeps its whole block alive, ~190 KB, so a
# process that keeps one grant in 256 for long (and drops the rest) holds that much per grant kept.
# Grants are built a page at a time and dropped once written, so blocks die together. Building 1M
# grants in bench_write's loop, CPU s at load 6-7: 3.2 with 16 a block, 3.0 with 64, 2.85 with 256 (and
# 3.6 when each grant was parsed alone, at load 3).
# (An element of a repeated field is a complete Grant: read, changed, serialized, copied, compared
# as any other.)
_GRANTS_PER_BLOCK = 256


def _new_block() -> RepeatedCompositeFieldContainer[grant_pb2.Grant]:
    """An empty block: a repeated field whose new elements are complete Grant messages sharing its arena.

    Each block is replaced as soon as it is full; nothing here holds a grant once handed out, and
    no grant is ever removed from a block (so each stays exactly the message it was built as).
    """
    return grant_pb2.GrantsServiceListGrantsResponse().list


_block = [_new_block()]  # the block being filled


class _EncodedField(NamedTuple):
    """One pre-encoded field of a grant, and its part of the grant id, encoded: the entitlement id
    for the entitlement field, ``:type:id`` for the principal's."""

    field: bytes
    id_part: bytes


# Entitlement fields by entitlement id (an id names one entitlement, as in Baton), principal fields
# by principal id; bounded, cleared when full.
_ENTITLEMENT_FIELDS: dict[str, _EncodedField] = {}
_PRINCIPAL_FIELDS: dict[tuple[str, str, bool], _EncodedField] = {}
_CACHE_LIMIT = 1 << 16


def clear_caches() -> None:
    """Forget every pre-encoded field (tests that reuse ids with other resources start here)."""
    _ENTITLEMENT_FIELDS.clear()
    _PRINCIPAL_FIELDS.clear()


def _field(tag: int, payload: bytes) -> bytes:
    """One length-delimited field in protobuf's wire format: tag, varint length, payload."""
    return _field_head(tag, len(payload)) + payload


def _field_head(tag: int, size: int) -> bytes:
    """The tag and varint length that start a length-delimited field of ``size`` bytes."""
    head = bytearray((tag,))
    while size >= 0x80:
        head.append(size & 0x7F | 0x80)
        size >>= 7
    head.append(size)
    return bytes(head)


def _entitlement_field(ent: entitlement_pb2.Entitlement) -> _EncodedField:
    """The encoded ``Grant.entitlement`` field: the entitlement's id and its resource's id."""
    if len(_ENTITLEMENT_FIELDS) >= _CACHE_LIMIT:
        _ENTITLEMENT_FIELDS.clear()
    slim = entitlement_pb2.Entitlement(id=ent.id, resource=resource_pb2.Resource(id=ent.resource.id))
    entry = _EncodedField(_field(_ENTITLEMENT_TAG, slim.SerializeToString()), ent.id.encode())
    _ENTITLEMENT_FIELDS[ent.id] = entry
    return entry


def _principal_field(pid: resource_pb2.ResourceId) -> _EncodedField:
    """The encoded ``Grant.principal`` field, ``Resource(id=pid)``."""
    if len(_PRINCIPAL_FIELDS) >= _CACHE_LIMIT:
        _PRINCIPAL_FIELDS.clear()
    # The principal's part of the grant id: the id rule with an empty entitlement id.
    entry = _EncodedField(_field(_PRINCIPAL_TAG, _field(_RESOURCE_ID_TAG, pid.SerializeToString())),
                          grant_id("", pid.resource_type, pid.resource).encode())
    _PRINCIPAL_FIELDS[(pid.resource_type, pid.resource, pid.baton_resource)] = entry
    return entry


def principal_trait(res: resource_pb2.Resource) -> str:
    """``"user"``, ``"group"``, ``"role"``, ``"app"``, ``"secret"`` or ``""`` from a resource's traits."""
    for name, cls in (("user", annotation_trait_pb2.UserTrait), ("group", annotation_trait_pb2.GroupTrait),
                      ("role", annotation_trait_pb2.RoleTrait), ("app", annotation_trait_pb2.AppTrait),
                      ("secret", annotation_trait_pb2.SecretTrait)):
        if ann.has(res.annotations, cls):
            return name
    return ""
