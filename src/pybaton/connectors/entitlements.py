"""Entitlements the built-in connectors declare and take apart.

:func:`static_entitlement` declares one entitlement for every resource of a type;
:func:`entitlement_target` finds the resource and slug a write is about.
"""

from __future__ import annotations

from collections.abc import Iterable

from pybaton import model
from pybaton.errors import ProvisioningError
from pybaton.pb.c1.connector.v2 import entitlement_pb2, resource_pb2


def static_entitlement(slug: str, *, purpose: int = model.ASSIGNMENT, display_name: str = "",
                       description: str = "",
                       grantable_to: Iterable[resource_pb2.ResourceType] = ()) -> entitlement_pb2.Entitlement:
    """A template for :class:`~pybaton.connector.StaticEntitlements`: no resource, no id.

    The engine stamps a copy onto every resource of the type, so the connector is
    not called once per resource just to say "every group has a member entitlement".
    """
    ent = entitlement_pb2.Entitlement(slug=slug, display_name=display_name or slug.replace("-", " ").title(),
                                      description=description, purpose=purpose)  # type: ignore[arg-type]
    ent.grantable_to.extend(grantable_to)
    return ent


def entitlement_target(ent: entitlement_pb2.Entitlement) -> tuple[resource_pb2.ResourceId, str]:
    """The resource and slug an entitlement (full, or the slim copy a grant embeds) is about.

    A grant carries only the entitlement's id and its resource's id, so the slug
    is taken from the id when the message has none; ids may contain colons in the
    resource part (DNs, quoted names), never in the slug.
    """
    if ent.resource.id.resource:
        rid = ent.resource.id
        slug = ent.slug or ent.id.removeprefix(f"{rid.resource_type}:{rid.resource}:")
    else:
        rtype, resource, slug = model.split_entitlement_id(ent.id)
        rid = model.resource_id(rtype, resource)
    if not slug or ":" in slug:
        raise ProvisioningError(f"entitlement {ent.id!r} does not name a slug this connector knows")
    return rid, slug
