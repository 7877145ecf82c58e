"""Reading the structure annotations of the model: child types, static entitlements, expansion.

The engine, the conformance kit and connector tests all need the same answers
to "which child types does this resource declare?", "what does this static
entitlement look like on that resource?" and "which entitlements expand into
this grant?"; they live here once.
"""

from __future__ import annotations

from pybaton.model import annotations as ann
from pybaton.model.ids import entitlement_id
from pybaton.pb.c1.connector.v2 import (
    annotation_grant_pb2,
    annotation_resource_tree_pb2,
    entitlement_pb2,
    grant_pb2,
    resource_pb2,
)

_CHILD_URL = ann.type_url(annotation_resource_tree_pb2.ChildResourceType)


def child_types(res: resource_pb2.Resource) -> list[str]:
    """The resource types ``res`` declares as its children (``ChildResourceType`` annotations)."""
    out = []
    for a in res.annotations:
        if a.type_url == _CHILD_URL:
            child = annotation_resource_tree_pb2.ChildResourceType()
            a.Unpack(child)
            out.append(child.resource_type_id)
    return out


def static_instance(template: entitlement_pb2.Entitlement,
                    res: resource_pb2.Resource) -> entitlement_pb2.Entitlement:
    """A static entitlement template placed on ``res``, with Baton's id ``type:resource:slug``."""
    ent = entitlement_pb2.Entitlement()
    ent.CopyFrom(template)
    slug = template.slug or template.display_name or template.id
    ent.slug = slug
    ent.id = entitlement_id(res.id.resource_type, res.id.resource, slug)
    ent.resource.CopyFrom(res)
    if not ent.display_name:
        ent.display_name = slug
    return ent


def expandable_from(grant: grant_pb2.Grant) -> list[str]:
    """The source entitlement ids of a grant's ``GrantExpandable`` annotation (empty when none)."""
    found = ann.find(grant.annotations, annotation_grant_pb2.GrantExpandable)
    return list(found.entitlement_ids) if found is not None else []
