"""model.grant builds a grant from pre-encoded field bytes: the message must equal the field-by-field one."""

from __future__ import annotations

import gc

from hypothesis import given, settings
from hypothesis import strategies as st

from pybaton import model
from pybaton.model import builders
from pybaton.pb.c1.connector.v2 import entitlement_pb2, grant_pb2, resource_pb2

# Short and long (a multi-byte length prefix from 128 bytes on), any Unicode.
ids = st.text(max_size=40) | st.text(min_size=100, max_size=400)


def reference_grant(ent: entitlement_pb2.Entitlement, pid: resource_pb2.ResourceId) -> grant_pb2.Grant:
    """The grant as built field by field (what model.grant produced before it encoded bytes itself)."""
    slim = entitlement_pb2.Entitlement(id=ent.id, resource=resource_pb2.Resource(id=ent.resource.id))
    return grant_pb2.Grant(id=model.grant_id(ent.id, pid.resource_type, pid.resource), entitlement=slim,
                           principal=resource_pb2.Resource(id=pid))


@settings(max_examples=300, deadline=None)
@given(ids, ids, ids, ids, ids, st.booleans(), st.lists(ids, max_size=3))
def test_grant_equals_the_field_by_field_message(rtype: str, rid: str, slug: str, ptype: str, pid: str,
                                                 baton: bool, expandable: list[str]) -> None:
    # The entitlement field is cached by entitlement id (an id names one entitlement, as in Baton);
    # examples here reuse ids with other resources, so each starts with an empty cache.
    builders.clear_caches()
    resource = model.resource_id(rtype, rid)
    resource.baton_resource = baton
    ent = model.entitlement_ref(resource, slug)
    principal = resource_pb2.ResourceId(resource_type=ptype, resource=pid, baton_resource=baton)
    built = model.grant(ent, principal, expandable=expandable)
    expected = reference_grant(ent, principal)
    if expandable:
        expected.annotations.append(built.annotations[0])
    assert built == expected
    assert built.SerializeToString() == expected.SerializeToString()
    assert built.SerializeToString(deterministic=True) == expected.SerializeToString(deterministic=True)


def test_a_full_entitlement_is_embedded_slim_and_a_resource_principal_by_id() -> None:
    group = model.resource("group", "g1", "Group one", description="big")
    ent = model.assignment(group, "member", description="Member of Group one")
    user = model.resource("user", "u1", "User one")
    built = model.grant(ent, user)
    assert built == reference_grant(ent, user.id)
    assert not built.entitlement.display_name and not built.principal.display_name


def test_grants_sharing_a_block_are_independent_messages() -> None:
    """model.grant hands out grants from shared blocks (one arena per block): each grant must still be
    a message of its own, alive after its block is full and dropped, changed without touching others."""
    group = model.resource("group", "g1", "Group one")
    ents = [model.assignment(group, f"role{i}") for i in range(3)]
    count = builders._GRANTS_PER_BLOCK * 3 + 5
    built = [model.grant(ents[i % 3], model.resource_id("user", f"u{i}")) for i in range(count)]
    kept = built[::97]
    del built
    gc.collect()
    for grant in kept:
        _, _, slug, _, user = grant.id.split(":")
        assert grant == reference_grant(model.entitlement_ref(group, slug), model.resource_id("user", user))
    before = [g.SerializeToString() for g in kept]
    kept[0].principal.id.resource = "someone else"
    kept[1].Clear()
    assert [g.SerializeToString() for g in kept[2:]] == before[2:]
    assert kept[0].principal.id.resource == "someone else" and kept[1] == grant_pb2.Grant()
    holder = grant_pb2.GrantsServiceListGrantsResponse()
    holder.list.append(kept[2])
    assert holder.list[0] == kept[2] and holder.list[0] is not kept[2]
