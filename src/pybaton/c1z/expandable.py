"""Grant expandability as a ``.c1z`` stores it: which grants pass their entitlement on (Baton's GrantExpandable).

SDKs from v0.3 keep the ``GrantExpandable`` message in the grant row's
``expansion`` column; older ones left it among the grant's own annotations.
Both are read here, in one order (column first, then legacy grants, each by row
id), so every reader of a sync — the sync engine's expansion, the file reader,
the warehouse's loader — sees the same expandable grants.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import NamedTuple

from google.protobuf.message import DecodeError

from pybaton.model import annotations as ann
from pybaton.pb.c1.connector.v2 import annotation_grant_pb2, grant_pb2

EXPANDABLE_MARK = b"c1.connector.v2.GrantExpandable"
_EXPANDABLE_URL = ann.type_url(annotation_grant_pb2.GrantExpandable)


class ExpansionRecord(NamedTuple):
    """One expandable grant as stored: the ``GrantExpandable`` bytes undecoded (None: the legacy grant's
    bytes name the annotation but hold none that can be read)."""

    grant_id: str
    entitlement_id: str
    principal_type: str
    principal_id: str
    data: bytes | None


class ExpandableGrant(NamedTuple):
    """One expandable grant: its entitlement (the edges' destination), its principal, and what it declares
    (None when the stored annotation cannot be read; expansion skips such a grant with a warning)."""

    entitlement_id: str
    principal: tuple[str, str]
    expandable: annotation_grant_pb2.GrantExpandable | None


def parse_expandable(blob: bytes | None) -> annotation_grant_pb2.GrantExpandable | None:
    if blob is None:
        return None
    try:
        return annotation_grant_pb2.GrantExpandable.FromString(blob)
    except DecodeError:
        return None


def _legacy_annotation(blob: bytes) -> bytes | None:
    """The annotation's bytes still inside the grant, as SDKs before v0.3 stored it (no ``expansion`` column)."""
    try:
        grant = grant_pb2.Grant.FromString(blob)
    except DecodeError:
        return None
    for any_msg in grant.annotations:
        if any_msg.type_url == _EXPANDABLE_URL:
            return bytes(any_msg.value)
    return None


def expansion_records(conn: sqlite3.Connection, sync_id: str) -> Iterator[ExpansionRecord]:
    """Every expandable grant of the sync, old files too, in the order expansion reads them."""
    for gid, dst, ptype, pid, blob in conn.execute(
            "select external_id, entitlement_id, principal_resource_type_id, principal_resource_id, expansion "
            "from v1_grants where sync_id = ? and expansion is not null order by id", (sync_id,)):
        yield ExpansionRecord(gid, dst, ptype, pid, bytes(blob))
    for gid, dst, ptype, pid, blob in conn.execute(
            "select external_id, entitlement_id, principal_resource_type_id, principal_resource_id, data "
            "from v1_grants where sync_id = ? and expansion is null and instr(data, ?) > 0 order by id",
            (sync_id, EXPANDABLE_MARK)):
        yield ExpansionRecord(gid, dst, ptype, pid, _legacy_annotation(bytes(blob)))


def expandable_grant(record: ExpansionRecord) -> ExpandableGrant:
    return ExpandableGrant(record.entitlement_id, (record.principal_type, record.principal_id),
                           parse_expandable(record.data))
