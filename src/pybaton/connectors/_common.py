"""Helpers the built-in connectors share: entitlement templates, fast grants, offset pages.

They sit here rather than in :mod:`pybaton.model` because they encode choices
of the built-ins (offset tokens, a cached serialized grant); a connector author
may still import them.
"""

from __future__ import annotations

from collections.abc import Iterable

from pybaton import model
from pybaton.connector.pagination import offset_of
from pybaton.pb.c1.connector.v2 import entitlement_pb2, grant_pb2, resource_pb2


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


class GrantTemplate:
    """Builds many grants of one entitlement to principals of one type, fast.

    A grant is the same bytes for every principal except its id and the
    principal's id, so we serialize one template and parse a copy per grant:
    about half the cost of the general :func:`pybaton.model.grant` builder, which
    matters when a connector emits millions of grants (the ``scale`` benchmark).
    Grants with annotations (e.g. ``GrantExpandable``) should use the builder.
    """

    __slots__ = ("_bytes", "_prefix")

    def __init__(self, entitlement: entitlement_pb2.Entitlement, principal_type: str) -> None:
        template = model.grant(entitlement, model.resource_id(principal_type, ""))
        self._bytes = template.SerializeToString()
        self._prefix = model.grant_id(entitlement.id, principal_type, "")

    def __call__(self, principal_id: str) -> grant_pb2.Grant:
        out = grant_pb2.Grant.FromString(self._bytes)
        out.id = self._prefix + principal_id
        out.principal.id.resource = principal_id
        return out




def window(token: str, size: int, total: int) -> tuple[range, str]:
    """Positions of one page over ``total`` items, and the next page's token (``""`` at the end)."""
    start = offset_of(token)
    stop = min(start + max(size, 1), total)
    return range(start, max(start, stop)), (str(stop) if stop < total else "")
