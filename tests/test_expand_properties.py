"""Grant expansion against a brute-force fixpoint, on random graphs.

Cycles, diamonds, self-loops, shallow edges and type filters all come from the
generator; whatever the graph, the grants in the file after expansion must be
exactly the closure :func:`expand_worlds.closure` computes, with the sources
and markers Baton gives derived and merged grants.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from expand_worlds import Expected, Principal, World, closure, write_world
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pybaton.c1z import C1ZFile, SyncWriter
from pybaton.model import annotations as ann
from pybaton.pb.c1.connector.v2 import annotation_grant_pb2, grant_pb2
from pybaton.sync.expand import expand_sync


@st.composite
def worlds(draw: st.DrawFn) -> World:
    groups = [f"g{i}" for i in range(draw(st.integers(1, 6)))]
    people: list[Principal] = [("user", f"u{i}") for i in range(draw(st.integers(0, 5)))]
    people += [("svc", f"s{i}") for i in range(draw(st.integers(0, 2)))]
    principals = people + [("group", g) for g in groups]
    memberships = draw(st.sets(st.tuples(st.sampled_from(groups), st.sampled_from(principals)), max_size=16))
    flags = st.tuples(st.booleans(), st.none() | st.frozensets(st.sampled_from(["user", "svc", "group"]), min_size=1))
    edges = draw(st.dictionaries(st.tuples(st.sampled_from(groups), st.sampled_from(groups)), flags, max_size=12))
    return World(groups, people, memberships, edges)


def stored(c1z: C1ZFile, sync_id: str) -> dict[tuple[str, Principal], grant_pb2.Grant]:
    """Every grant of the sync by (entitlement, principal); fails on duplicates."""
    out: dict[tuple[str, Principal], grant_pb2.Grant] = {}
    for ent, ptype, pid, blob in c1z.conn.execute(
            "select entitlement_id, principal_resource_type_id, principal_resource_id, data from v1_grants "
            "where sync_id = ?", (sync_id,)):
        key = (ent, (ptype, pid))
        assert key not in out, f"two grants for {key}"
        out[key] = grant_pb2.Grant.FromString(blob)
    return out


def check(found: dict[tuple[str, Principal], grant_pb2.Grant], expected: Expected, direct: set[tuple[str, Principal]]) -> None:
    assert set(found) == expected.held
    for key, grant in found.items():
        sources = {k: v.is_direct for k, v in grant.sources.sources.items()}
        assert sources == expected.sources[key], key
        immutable = ann.has(grant.annotations, annotation_grant_pb2.GrantImmutable)
        if key not in direct:
            assert immutable, key
            assert grant.id == f"{key[0]}:{key[1][0]}:{key[1][1]}"
            assert grant.entitlement.display_name, "derived grants embed the whole destination entitlement"


def expand(c1z: C1ZFile, sync_id: str) -> None:
    expand_sync(c1z, SyncWriter(c1z, sync_id), {}, checkpoint=lambda: None)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds())
def test_expansion_is_the_closure(world: World) -> None:
    expected = closure(world)
    with tempfile.TemporaryDirectory() as tmp:
        c1z, writer = write_world(Path(tmp) / "w.c1z", world)
        with c1z:
            expand(c1z, writer.sync_id)
            check(stored(c1z, writer.sync_id), expected, world.direct())
            # Expanding an expanded sync changes nothing (Go-expanded files, resumed runs).
            before = {k: g.SerializeToString(deterministic=True) for k, g in stored(c1z, writer.sync_id).items()}
            expand(c1z, writer.sync_id)
            after = {k: g.SerializeToString(deterministic=True) for k, g in stored(c1z, writer.sync_id).items()}
            assert after == before


def test_cycle_members_share_all_holders(tmp_path: Path) -> None:
    """Groups nested in a ring: a member of any of them holds all of them."""
    world = World(["a", "b", "c"], [("user", "x"), ("user", "y")], {("a", ("user", "x")), ("c", ("user", "y"))},
                  {("a", "b"): (False, None), ("b", "c"): (False, None), ("c", "a"): (False, None)})
    c1z, writer = write_world(tmp_path / "ring.c1z", world)
    with c1z:
        expand(c1z, writer.sync_id)
        found = stored(c1z, writer.sync_id)
    for group in "abc":
        for user in ("x", "y"):
            assert (f"group:{group}:member", ("user", user)) in found


def test_shallow_edge_passes_direct_members_only(tmp_path: Path) -> None:
    """a -> b -> c with b -> c shallow: x (member of a) reaches b but not c; y (member of b) reaches c."""
    world = World(["a", "b", "c"], [("user", "x"), ("user", "y")], {("a", ("user", "x")), ("b", ("user", "y"))},
                  {("a", "b"): (False, None), ("b", "c"): (True, None)})
    c1z, writer = write_world(tmp_path / "shallow.c1z", world)
    with c1z:
        expand(c1z, writer.sync_id)
        found = stored(c1z, writer.sync_id)
    assert ("group:b:member", ("user", "x")) in found
    assert ("group:c:member", ("user", "x")) not in found
    assert ("group:c:member", ("user", "y")) in found
    assert check(found, closure(world), world.direct()) is None


def test_type_filter_limits_who_flows(tmp_path: Path) -> None:
    world = World(["a", "b"], [("user", "x"), ("svc", "s")], {("a", ("user", "x")), ("a", ("svc", "s"))},
                  {("a", "b"): (False, frozenset({"user"}))})
    c1z, writer = write_world(tmp_path / "types.c1z", world)
    with c1z:
        expand(c1z, writer.sync_id)
        found = stored(c1z, writer.sync_id)
    assert ("group:b:member", ("user", "x")) in found
    assert ("group:b:member", ("svc", "s")) not in found


def test_direct_holder_keeps_one_grant_with_both_sources(tmp_path: Path) -> None:
    """Go's marking: the direct grant gains ``{itself: direct}`` plus the source; no second grant."""
    world = World(["a", "b"], [("user", "x")], {("a", ("user", "x")), ("b", ("user", "x"))},
                  {("a", "b"): (False, None)})
    c1z, writer = write_world(tmp_path / "both.c1z", world)
    with c1z:
        expand(c1z, writer.sync_id)
        found = stored(c1z, writer.sync_id)
    grant = found[("group:b:member", ("user", "x"))]
    assert {k: v.is_direct for k, v in grant.sources.sources.items()} == {"group:b:member": True,
                                                                        "group:a:member": True}
    assert not ann.has(grant.annotations, annotation_grant_pb2.GrantImmutable)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds())
def test_bulk_path_and_tiny_chunks_give_the_same_closure(world: World) -> None:
    """The index-dropping path and statement chunking change how rows are written, never which."""
    from unittest import mock

    from pybaton.sync import expand as expand_mod

    expected = closure(world)
    with tempfile.TemporaryDirectory() as tmp, mock.patch.object(expand_mod, "BULK_MIN_ROWS", 0), \
            mock.patch.object(expand_mod, "CHUNK_ROWS", 2), mock.patch.object(expand_mod, "COMMIT_ROWS", 3):
        c1z, writer = write_world(Path(tmp) / "w.c1z", world)
        with c1z:
            expand(c1z, writer.sync_id)
            check(stored(c1z, writer.sync_id), expected, world.direct())
