"""The listings of the read commands, as the Go CLI's ``baton.v1`` output messages.

Building Go's own output messages (``GrantOutput``, ``ResourceListOutput``...)
makes the JSON shape Go's by construction; the console and CSV renderers read
the same messages. The lookups around each row (a grant's entitlement, resource
and principal) go through :class:`Lookups`, which behaves like Go's
``storecache``: each object is fetched once, and a missing one becomes a
``MISSING ...`` placeholder plus one warning instead of an error, so a file
with a dangling reference still lists.
"""

from __future__ import annotations

import calendar
import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple

from pybaton.c1z import SyncReader, SyncRun
from pybaton.c1z.reader import ResourceRows, split_fields
from pybaton.c1z.syncs import nanos_of, parse_time
from pybaton.pb.baton.v1 import outputs_pb2
from pybaton.pb.c1.connector.v2 import entitlement_pb2, grant_pb2, resource_pb2
from pybaton.pb.c1.reader.v2 import sync_pb2

Warn = Callable[[str], None]


def _fields(**values: str) -> str:
    """Go's zap fields rendering, e.g. ``{"resource_type_id": "user", "resource_id": ""}``."""
    return json.dumps(values, ensure_ascii=False)


class Lookups:
    """Go's ``storecache``: cached lookups that degrade to placeholders with one warning each."""

    def __init__(self, reader: SyncReader, warn: Warn) -> None:
        self.reader = reader
        self._warn = warn
        self._types: dict[str, resource_pb2.ResourceType] = {}
        self._resources: dict[tuple[str, str], resource_pb2.Resource] = {}
        self._entitlements: dict[str, entitlement_pb2.Entitlement] = {}
        self._all_resources: ResourceRows | None = None

    def preload_resources(self) -> None:
        """Read every resource row now, in one scan: for listings that look up most of them.

        Only a file's reader has that scan; other stores (the warehouse's ``StoredSync``) keep their queries.
        """
        scan = getattr(self.reader, "all_resources", None)
        if scan is not None:
            self._all_resources = scan()

    def _find_resource(self, resource_type: str, resource_id: str) -> resource_pb2.Resource | None:
        source = self._all_resources or self.reader
        return source.resource(resource_type, resource_id)

    def resource_type(self, type_id: str) -> resource_pb2.ResourceType:
        if type_id not in self._types:
            found = self.reader.resource_type(type_id)
            if found is None:
                self._warn(f"unable to find resource type {_fields(resource_type_id=type_id)}")
                found = resource_pb2.ResourceType(id=type_id, display_name=f"MISSING RESOURCE TYPE ({type_id})")
            self._types[type_id] = found
        return self._types[type_id]

    def resource(self, rid: resource_pb2.ResourceId) -> resource_pb2.Resource:
        key = (rid.resource_type, rid.resource)
        cached = self._resources.get(key)
        if cached is not None:
            return cached
        found = self._find_resource(*key) if rid.resource_type else None
        if found is None:
            self._warn(f"unable to find resource {_fields(resource_type_id=key[0], resource_id=key[1])}")
            found = resource_pb2.Resource(display_name=f"MISSING RESOURCE ({key[0]}:{key[1]})")
            found.id.CopyFrom(rid)
        self._resources[key] = found
        return found

    def entitlement(self, entitlement_id: str) -> entitlement_pb2.Entitlement:
        if entitlement_id not in self._entitlements:
            found = self.reader.entitlement(entitlement_id)
            if found is None:
                self._warn(f"unable to find entitlement {_fields(entitlement_id=entitlement_id)}")
                found = entitlement_pb2.Entitlement(id=entitlement_id,
                                                    display_name=f"MISSING ENTITLEMENT ({entitlement_id})")
            self._entitlements[entitlement_id] = found
        return self._entitlements[entitlement_id]


# -- listings ------------------------------------------------------------------------------------


def resource_types(reader: SyncReader) -> outputs_pb2.ResourceTypeListOutput:
    out = outputs_pb2.ResourceTypeListOutput()
    for rt in reader.resource_types():
        out.resource_types.add().resource_type.CopyFrom(rt)
    return out


def _resource_output(target: outputs_pb2.ResourceOutput, res: resource_pb2.Resource, look: Lookups) -> None:
    """Fill one ``ResourceOutput``: the resource, its type and (only if it has one) its parent."""
    target.resource.CopyFrom(res)
    target.resource_type.CopyFrom(look.resource_type(res.id.resource_type))
    if res.HasField("parent_resource_id"):
        target.parent.CopyFrom(look.resource(res.parent_resource_id))


def resources(reader: SyncReader, warn: Warn, resource_type: str | None = None) -> outputs_pb2.ResourceListOutput:
    look = Lookups(reader, warn)
    out = outputs_pb2.ResourceListOutput()
    for res in reader.resources(resource_type):
        _resource_output(out.resources.add(), res, look)
    return out


def entitlements(reader: SyncReader, warn: Warn, resource_type: str | None = None,
                 resource_id: str | None = None) -> outputs_pb2.EntitlementListOutput:
    look = Lookups(reader, warn)
    out = outputs_pb2.EntitlementListOutput()
    for ent in reader.entitlements(resource_type, resource_id):
        row = out.entitlements.add()
        row.entitlement.CopyFrom(ent)
        row.resource.CopyFrom(look.resource(ent.resource.id))
        row.resource_type.CopyFrom(look.resource_type(ent.resource.id.resource_type))
    return out


class GrantParts(NamedTuple):
    """One grant row's parts, named as Go's ``GrantOutput`` names them (columns read either)."""

    grant: grant_pb2.Grant
    entitlement: entitlement_pb2.Entitlement
    resource: resource_pb2.Resource
    resource_type: resource_pb2.ResourceType
    principal: resource_pb2.Resource


class StoredEntitlement(NamedTuple):
    """The entitlement a stored grant names (``ref``, as the grant holds it) and what it looks up.

    ``cells`` are the grant listing's CSV cells it decides (entitlement id, resource type and id,
    resource name)."""

    ref: entitlement_pb2.Entitlement
    entitlement: entitlement_pb2.Entitlement
    resource: resource_pb2.Resource
    resource_type: resource_pb2.ResourceType
    cells: tuple[str, str, str, str]


class StoredPrincipal(NamedTuple):
    """The principal a stored grant names (``ref``), the resource it looks up, and their CSV cells."""

    ref: resource_pb2.Resource
    principal: resource_pb2.Resource
    cells: tuple[str, str, str]


class PlainGrant(NamedTuple):
    """A grant stored in the plain form (its entitlement, principal and id, nothing else), read off its
    bytes without parsing it: its parts repeat across rows, and are parsed and looked up once."""

    grant_id: str
    entitlement: StoredEntitlement
    principal: StoredPrincipal
    data: bytes

    def parts(self) -> GrantParts:
        """The row as :func:`grant_parts` gives it (parsing the grant)."""
        ent = self.entitlement
        return GrantParts(grant_pb2.Grant.FromString(self.data), ent.entitlement, ent.resource,
                          ent.resource_type, self.principal.principal)


# The fields of a grant in the plain form: its entitlement, its principal, and (unless empty) its id.
_GRANT_ENTITLEMENT, _GRANT_PRINCIPAL, _GRANT_ID = (grant_pb2.Grant.DESCRIPTOR.fields_by_name[name].number
                                                   for name in ("entitlement", "principal", "id"))


class _Assembler:
    """Puts grant rows together; the looked-up objects are shared between rows (one per distinct object)."""

    def __init__(self, reader: SyncReader, warn: Warn, everything: bool) -> None:
        self.reader = reader
        self.look = Lookups(reader, warn)
        if everything:
            self.look.preload_resources()  # every grant of the file: most resources are someone's principal
        # Grants of one entitlement share its entitlement, resource and type: look them up as one.
        self._shared: dict[tuple[str, str, str], tuple[entitlement_pb2.Entitlement, resource_pb2.Resource,
                                                       resource_pb2.ResourceType]] = {}
        self._stored_entitlements: dict[bytes, StoredEntitlement] = {}
        self._stored_principals: dict[bytes, StoredPrincipal] = {}

    def shared(self, ent_ref: entitlement_pb2.Entitlement) -> tuple[entitlement_pb2.Entitlement,
                                                                     resource_pb2.Resource, resource_pb2.ResourceType]:
        rid = ent_ref.resource.id
        key = (ent_ref.id, rid.resource_type, rid.resource)
        found = self._shared.get(key)
        if found is None:
            look = self.look
            found = self._shared[key] = (look.entitlement(ent_ref.id), look.resource(rid),
                                         look.resource_type(rid.resource_type))
        return found

    def parts(self, grant: grant_pb2.Grant) -> GrantParts:
        ent, res, rtype = self.shared(grant.entitlement)
        return GrantParts(grant, ent, res, rtype, self.look.resource(grant.principal.id))

    def stored(self, rowid: int, data: bytes) -> PlainGrant | GrantParts:
        """The row of one stored grant: a :class:`PlainGrant` when its bytes have the plain form."""
        fields = split_fields(data)
        if fields is not None and (len(fields) == 2 or (len(fields) == 3 and fields[2][0] == _GRANT_ID)) \
                and fields[0][0] == _GRANT_ENTITLEMENT and fields[1][0] == _GRANT_PRINCIPAL:
            try:
                grant_id = fields[2][1].decode() if len(fields) == 3 else ""
            except UnicodeDecodeError:
                pass  # not UTF-8: the parser below says so
            else:
                ent = self._stored_entitlements.get(fields[0][1]) or self._stored_entitlement(rowid, fields[0][1])
                who = self._stored_principals.get(fields[1][1]) or self._stored_principal(rowid, fields[1][1])
                return PlainGrant(grant_id, ent, who, data)
        return self.parts(self.reader.parse(grant_pb2.Grant.FromString, "v1_grants", rowid, data))

    def _stored_entitlement(self, rowid: int, raw: bytes) -> StoredEntitlement:
        ref = self.reader.parse(entitlement_pb2.Entitlement.FromString, "v1_grants", rowid, raw)
        ent, res, rtype = self.shared(ref)
        rid = ref.resource.id
        found = StoredEntitlement(ref, ent, res, rtype, (ref.id, rid.resource_type, rid.resource, res.display_name))
        self._stored_entitlements[raw] = found
        return found

    def _stored_principal(self, rowid: int, raw: bytes) -> StoredPrincipal:
        ref = self.reader.parse(resource_pb2.Resource.FromString, "v1_grants", rowid, raw)
        principal = self.look.resource(ref.id)
        found = StoredPrincipal(ref, principal, (ref.id.resource_type, ref.id.resource, principal.display_name))
        self._stored_principals[raw] = found
        return found


def grant_parts(reader: SyncReader, warn: Warn, *, entitlement_id: str | None = None,
                resource_type: str | None = None, resource_id: str | None = None) -> Iterator[GrantParts]:
    """Every matching grant with its entitlement, resource, resource type and principal looked up.

    A generator, so a listing of millions of grants streams in constant memory.
    The resource is the one the grant's entitlement is on (as Go does), not a
    column of the grant row. The looked-up objects are shared between rows (one
    per distinct object), so callers may key caches on them.
    """
    everything = entitlement_id is None and resource_type is None and resource_id is None
    assembler = _Assembler(reader, warn, everything)
    for grant in reader.grants(entitlement_id=entitlement_id, resource_type=resource_type,
                               resource_id=resource_id):
        yield assembler.parts(grant)


def stored_grants(reader: SyncReader, warn: Warn, *, entitlement_id: str | None = None,
                  resource_type: str | None = None,
                  resource_id: str | None = None) -> Iterator[PlainGrant | GrantParts]:
    """:func:`grant_parts` for the JSON and CSV listings of millions of grants: a grant in the plain form
    (as every writer stores them) comes as a :class:`PlainGrant`, read off its bytes; any other as
    :class:`GrantParts`. A corrupt row is a :class:`~pybaton.errors.C1ZFormatError`, as when parsed."""
    everything = entitlement_id is None and resource_type is None and resource_id is None
    assembler = _Assembler(reader, warn, everything)
    stored = assembler.stored
    for rowid, data in reader.grant_data(entitlement_id=entitlement_id, resource_type=resource_type,
                                         resource_id=resource_id):
        yield stored(rowid, data)


def grant_output(parts: GrantParts) -> outputs_pb2.GrantOutput:
    """One row of Go's grant listing."""
    grant, entitlement, resource, resource_type, principal = parts
    row = outputs_pb2.GrantOutput()
    row.grant.CopyFrom(grant)
    row.entitlement.CopyFrom(entitlement)
    row.principal.CopyFrom(principal)
    row.resource.CopyFrom(resource)
    row.resource_type.CopyFrom(resource_type)
    return row


def grant_rows(reader: SyncReader, warn: Warn, *, entitlement_id: str | None = None,
               resource_type: str | None = None, resource_id: str | None = None) -> Iterator[GrantParts]:
    """The rows of the console and CSV grant listings (:func:`grant_parts`; no message copies)."""
    return grant_parts(reader, warn, entitlement_id=entitlement_id, resource_type=resource_type,
                       resource_id=resource_id)


def principals(reader: SyncReader, warn: Warn, *, entitlement_id: str | None = None,
               resource_type: str | None = None, resource_id: str | None = None) -> outputs_pb2.ResourceListOutput:
    """The distinct principals of the matching grants, in the order they first hold one."""
    look = Lookups(reader, warn)
    out = outputs_pb2.ResourceListOutput()
    for ptype, pid in reader.principals(entitlement_id=entitlement_id, resource_type=resource_type,
                                        resource_id=resource_id):
        principal = look.resource(resource_pb2.ResourceId(resource_type=ptype, resource=pid))
        _resource_output(out.resources.add(), principal, look)
    return out


# -- sync runs -----------------------------------------------------------------------------------


def _set_time(target: Any, text: str | None) -> None:
    """Copy Go's stored time text into a Timestamp, keeping its nanoseconds."""
    when = parse_time(text)
    if when is not None:
        target.seconds = calendar.timegm(when.utctimetuple())
        target.nanos = nanos_of(text)


def _fill_run(target: sync_pb2.SyncRun | outputs_pb2.SyncOutput, run: SyncRun) -> None:
    """``SyncRun`` and ``SyncOutput`` share their fields; fill either from a stored run."""
    target.id = run.sync_id
    target.sync_token = run.sync_token
    target.sync_type = run.sync_type
    target.parent_sync_id = run.parent_sync_id
    _set_time(target.started_at, run.started_at)
    _set_time(target.ended_at, run.ended_at)


def sync_run(run: SyncRun) -> sync_pb2.SyncRun:
    msg = sync_pb2.SyncRun()
    _fill_run(msg, run)
    return msg


def syncs(runs: Iterable[SyncRun]) -> outputs_pb2.SyncListOutput:
    out = outputs_pb2.SyncListOutput()
    for run in runs:
        _fill_run(out.syncs.add(), run)
    return out


# Go's reader.v2.SyncStats fields, as the stats column stores them (snake_case) -> proto JSON names.
_STAT_COUNTS = ("resource_types", "resources", "entitlements", "grants", "assets")
_STAT_MAPS = ("resources_by_resource_type", "grants_by_resource_type", "entitlements_by_resource_type",
              "step_durations_ms")


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def stats_json(stats: dict[str, Any]) -> dict[str, Any]:
    """Go's protojson of ``SyncStats``: camelCase names, int64 as strings, zero counts and empty maps left out."""
    out: dict[str, Any] = {}
    for name in _STAT_COUNTS:
        value = int(stats.get(name) or 0)
        if value:
            out[_camel(name)] = str(value)
    for name in _STAT_MAPS:
        counts = stats.get(name) or {}
        if counts:
            out[_camel(name)] = {str(k): str(int(v)) for k, v in counts.items()}
    calls = stats.get("connector_call_stats") or {}
    if calls:
        out["connectorCallStats"] = {str(k): {_camel(f): str(int(v)) for f, v in call.items() if v}
                                     for k, call in calls.items()}
    return out
