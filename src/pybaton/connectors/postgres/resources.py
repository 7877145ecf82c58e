"""Catalog rows as Baton resources: roles (users and group roles, PUBLIC) and securable objects."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pybaton import model
from pybaton.connectors.postgres.catalog import PUBLIC, RoleRow, Securable
from pybaton.connectors.postgres.model import ROLE, USER, child_type_ids
from pybaton.pb.c1.connector.v2 import resource_pb2

BOOTSTRAP_SUPERUSER_OID = 10  # the role initdb created; Baton's "system" account type


def _role_profile(row: RoleRow) -> dict[str, Any]:
    valid = row.valid_until.isoformat() if row.valid_until is not None else None
    return {"oid": row.oid, "superuser": row.superuser, "inherit": row.inherit, "createrole": row.createrole,
            "createdb": row.createdb, "replication": row.replication, "bypassrls": row.bypassrls,
            "connection_limit": row.connection_limit, "password_valid_until": valid,
            "predefined": row.name.startswith("pg_"), "comment": row.comment}


def _password_expired(row: RoleRow) -> bool:
    return row.valid_until is not None and row.valid_until < dt.datetime.now(dt.UTC)


def role_resource(row: RoleRow) -> resource_pb2.Resource:
    """A LOGIN role as a ``user`` (disabled once its password has expired), any other as a ``role``."""
    profile = _role_profile(row)
    if row.login:
        account = "system" if row.oid == BOOTSTRAP_SUPERUSER_OID else "human"
        trait = model.user_trait(login=row.name, status="disabled" if _password_expired(row) else "enabled",
                                 account_type=account, profile=profile)
        return model.resource(USER, row.name, row.name, description=row.comment or "", traits=[trait])
    return model.resource(ROLE, row.name, row.name, description=row.comment or "",
                          traits=[model.group_trait(profile)])


def public_resource() -> resource_pb2.Resource:
    return model.resource(ROLE, PUBLIC, "PUBLIC", description="Every role, present and future",
                          traits=[model.group_trait({"pseudo_role": True})])


def securable_resource(obj: Securable) -> resource_pb2.Resource:
    parent = model.resource_id(*obj.parent) if obj.parent is not None else None
    res = model.resource(obj.kind, obj.rid, obj.display_name, parent=parent,
                         description=str(obj.profile.get("comment") or ""), child_types=child_type_ids(obj.kind))
    res.profile.CopyFrom(model.struct({**obj.profile, "owner": obj.owner}))
    return res
