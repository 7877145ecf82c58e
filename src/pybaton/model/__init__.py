"""The access model: resource types, resources, entitlements and grants.

The types are Baton's protobuf messages (``c1.connector.v2``) so that what a
connector builds is byte-for-byte what Go reads; this package adds the
constructors, trait helpers and id rules that make them pleasant to use.
"""

from pybaton.model import annotations
from pybaton.model.builders import (
    ASSIGNMENT,
    PERMISSION,
    TRAIT_APP,
    TRAIT_GROUP,
    TRAIT_ROLE,
    TRAIT_SECRET,
    TRAIT_USER,
    app_trait,
    assignment,
    entitlement,
    entitlement_ref,
    grant,
    group_trait,
    permission,
    principal_trait,
    resource,
    resource_id,
    resource_type,
    role_trait,
    secret_trait,
    struct,
    user_trait,
)
from pybaton.model.ids import entitlement_id, grant_id, split_entitlement_id, split_resource_ref
from pybaton.model.structure import child_types, expandable_from, static_instance
from pybaton.pb.c1.connector.v2.entitlement_pb2 import Entitlement
from pybaton.pb.c1.connector.v2.grant_pb2 import Grant, GrantSources
from pybaton.pb.c1.connector.v2.resource_pb2 import Resource, ResourceId, ResourceType

__all__ = [
    "ASSIGNMENT",
    "PERMISSION",
    "TRAIT_APP",
    "TRAIT_GROUP",
    "TRAIT_ROLE",
    "TRAIT_SECRET",
    "TRAIT_USER",
    "Entitlement",
    "Grant",
    "GrantSources",
    "Resource",
    "ResourceId",
    "ResourceType",
    "annotations",
    "app_trait",
    "assignment",
    "child_types",
    "entitlement",
    "entitlement_id",
    "entitlement_ref",
    "expandable_from",
    "grant",
    "grant_id",
    "group_trait",
    "permission",
    "principal_trait",
    "resource",
    "resource_id",
    "resource_type",
    "role_trait",
    "secret_trait",
    "split_entitlement_id",
    "split_resource_ref",
    "static_instance",
    "struct",
    "user_trait",
]
