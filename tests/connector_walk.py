"""Walk a connector the way the sync engine does, without the engine or a ``.c1z``.

Tests of individual connectors use it to see everything a connector reports
(every page, child types, stamped static entitlements) and to check that pages
cover each item exactly once. It could move into ``pybaton.testing`` as part of
the conformance kit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pybaton import model
from pybaton.connector import Connector, Page, PageToken, StaticEntitlements
from pybaton.pb.c1.connector.v2 import (
    entitlement_pb2,
    grant_pb2,
    resource_pb2,
)

T = TypeVar("T")
MAX_PAGES = 1_000_000


def exhaust(call: Callable[[PageToken], Page[T]], size: int) -> tuple[list[T], int]:
    """Every item of a paged call and the number of pages; fails on a repeated token."""
    items: list[T] = []
    token, seen = "", set()
    for pages in range(1, MAX_PAGES):
        page = call(PageToken(token, size))
        assert len(page.items) <= max(size, 1) or not page.next_token, "page larger than asked for"
        items.extend(page.items)
        if not page.next_token:
            return items, pages
        assert page.next_token not in seen, f"page token {page.next_token!r} repeated"
        seen.add(page.next_token)
        token = page.next_token
    raise AssertionError("pagination did not terminate")


@dataclass
class Walk:
    resources: dict[tuple[str, str], resource_pb2.Resource] = field(default_factory=dict)
    entitlements: dict[str, entitlement_pb2.Entitlement] = field(default_factory=dict)
    grants: dict[str, grant_pb2.Grant] = field(default_factory=dict)
    pages: dict[str, int] = field(default_factory=dict)

    def of_type(self, type_id: str) -> list[resource_pb2.Resource]:
        return [r for (t, _), r in self.resources.items() if t == type_id]


def _put(into: dict[Any, T], key: Any, value: T, what: str) -> None:
    assert key not in into, f"{what} {key!r} reported twice"
    into[key] = value


def walk(connector: Connector[Any], size: int = 7, *, grants: bool = True) -> Walk:
    """List all resources (breadth-first through child types), then entitlements and grants of each."""
    syncers = {s.resource_type.id: s for s in connector.syncers()}
    out = Walk()
    queue: list[tuple[str, resource_pb2.ResourceId | None]] = [(t, None) for t in syncers]
    while queue:
        type_id, parent = queue.pop(0)
        syncer = syncers[type_id]
        items, pages = exhaust(lambda pt, s=syncer, p=parent: s.list(p, pt), size)  # type: ignore[misc]
        out.pages[type_id] = out.pages.get(type_id, 0) + pages
        for res in items:
            assert res.id.resource_type == type_id
            _put(out.resources, (type_id, res.id.resource), res, "resource")
            queue.extend((child, res.id) for child in model.child_types(res))
    for res in list(out.resources.values()):
        syncer = syncers[res.id.resource_type]
        ents = [model.static_instance(t, res) for t in syncer.static_entitlements()] if isinstance(syncer, StaticEntitlements) \
            else []
        ents += exhaust(lambda pt, s=syncer, r=res: s.entitlements(r, pt), size)[0]  # type: ignore[misc]
        for ent in ents:
            _put(out.entitlements, ent.id, ent, "entitlement")
        if grants:
            for g in exhaust(lambda pt, s=syncer, r=res: s.grants(r, pt), size)[0]:  # type: ignore[misc]
                _put(out.grants, g.id, g, "grant")
    return out


def check_references(w: Walk) -> None:
    """Each grant's entitlement and principal were listed, with Baton's ids."""
    for gid, g in w.grants.items():
        assert g.entitlement.id in w.entitlements, f"{gid}: unknown entitlement"
        pid = g.principal.id
        assert (pid.resource_type, pid.resource) in w.resources, f"{gid}: unknown principal"
        assert gid == model.grant_id(g.entitlement.id, pid.resource_type, pid.resource)
        ent = w.entitlements[g.entitlement.id]
        assert g.entitlement.resource.id == ent.resource.id


def check_traits(connector: Connector[Any], w: Walk) -> None:
    """Resources carry exactly the trait their type declares."""
    names = {v: k for k, v in {"user": model.TRAIT_USER, "group": model.TRAIT_GROUP, "role": model.TRAIT_ROLE,
                               "app": model.TRAIT_APP, "secret": model.TRAIT_SECRET}.items()}
    for syncer in connector.syncers():
        declared = [names[t] for t in syncer.resource_type.traits]
        for res in w.of_type(syncer.resource_type.id):
            assert model.principal_trait(res) == (declared[0] if declared else ""), res.id
