"""Protobuf bytes of derived grants, assembled from precomputed pieces.

Expansion writes millions of grants that differ only in their principal and
sources; building and serializing a ``Grant`` message for each would dominate
the run. A derived grant is therefore concatenated from pieces whose bytes are
computed once: the destination entitlement (the stored row, verbatim), the
principal, the id, the ``GrantImmutable`` annotation and the sources map. The
result is exactly what ``Grant.SerializeToString(deterministic=True)`` gives for
the same message (``tests/test_expand_wire.py`` checks it), which is also the
field order Go writes.
"""

from __future__ import annotations

from collections.abc import Sequence

from pybaton.model import annotations as ann
from pybaton.pb.c1.connector.v2 import annotation_grant_pb2

# Field keys (field number << 3 | wire type 2) of the messages we assemble.
_GRANT_ENTITLEMENT = b"\x0a"
_GRANT_PRINCIPAL = b"\x12"
_GRANT_ID = b"\x1a"
_GRANT_ANNOTATION = b"\x22"
_GRANT_SOURCES = b"\x2a"
_RESOURCE_ID = b"\x0a"
_RESOURCE_PARENT = b"\x12"
_RID_TYPE = b"\x0a"
_RID_RESOURCE = b"\x12"
_MAP_ENTRY = b"\x0a"
_ENTRY_KEY = b"\x0a"
_ENTRY_VALUE = b"\x12"
_SOURCE_DIRECT = b"\x02\x08\x01"  # value: GrantSource{is_direct: true}
_SOURCE_INDIRECT = b"\x00"  # value: GrantSource{} (present, empty), as protobuf writes it

_SMALL = [bytes([n]) for n in range(128)]


def varint(n: int) -> bytes:
    """Protobuf's base-128 varint of a non-negative int."""
    if n < 128:
        return _SMALL[n]
    out = bytearray()
    while n >= 128:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def field(key: bytes, payload: bytes) -> bytes:
    """One length-delimited field: key, length, payload."""
    return key + varint(len(payload)) + payload


def _resource_id(resource_type: str, resource_id: str) -> bytes:
    out = b""
    if resource_type:
        out += field(_RID_TYPE, resource_type.encode())
    if resource_id:
        out += field(_RID_RESOURCE, resource_id.encode())
    return out


def principal_field(resource_type: str, resource_id: str, parent: tuple[str, str] | None = None) -> bytes:
    """Field 2 of a grant: the principal as ``Resource{id, parent_resource_id}``.

    Only identity is carried (as Baton's newer expander does); readers look the
    principal's details up in the resources table.
    """
    body = field(_RESOURCE_ID, _resource_id(resource_type, resource_id))
    if parent is not None:
        body += field(_RESOURCE_PARENT, _resource_id(*parent))
    return field(_GRANT_PRINCIPAL, body)


def entitlement_field(entitlement_bytes: bytes) -> bytes:
    """Field 1 of a grant: the destination entitlement, as stored in its own row."""
    return field(_GRANT_ENTITLEMENT, entitlement_bytes)


def id_field(grant_id: str) -> bytes:
    return field(_GRANT_ID, grant_id.encode())


IMMUTABLE_FIELD = field(_GRANT_ANNOTATION, ann.pack(annotation_grant_pb2.GrantImmutable()).SerializeToString())


def sources_field(sources: Sequence[tuple[str, bool]]) -> bytes:
    """Field 5 of a grant: ``GrantSources`` with one map entry per (entitlement id, is direct), keys sorted."""
    body = b"".join(
        field(_MAP_ENTRY, field(_ENTRY_KEY, key.encode()) + _ENTRY_VALUE + (_SOURCE_DIRECT if direct else _SOURCE_INDIRECT))
        for key, direct in sorted(sources)
    )
    return field(_GRANT_SOURCES, body)


def derived_grant(entitlement: bytes, principal: bytes, grant_id: str, sources: bytes) -> bytes:
    """A whole derived grant from its pieces (see :func:`entitlement_field` and friends)."""
    return entitlement + principal + id_field(grant_id) + IMMUTABLE_FIELD + sources
