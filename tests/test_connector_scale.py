"""The built-in ``scale`` connector: exact counts, determinism, flat memory, speed."""

from __future__ import annotations

import time
import tracemalloc
from collections import Counter
from typing import Any

import pytest
from connector_walk import Walk, check_references, check_traits, exhaust, walk
from pydantic import ValidationError

from pybaton import model
from pybaton.connector import PageToken, load_config
from pybaton.connectors import builtin_connectors
from pybaton.connectors.grants import GrantTemplate
from pybaton.connectors.scale import ScaleConfig, ScaleConnector, ScaleModel
from pybaton.connectors.scale.connector import build_user
from pybaton.errors import ConfigError


def scale(**settings: Any) -> ScaleConnector:
    return ScaleConnector(ScaleConfig(**settings))


def expected_grants(users: int, groups: int, depth: int, grants: int, apps: int) -> int:
    """Direct memberships + one edge per non-top-level group + app grants (2 groups, 2 users, times 3 slugs)."""
    levels = min(depth, groups)
    nested = groups - groups // levels
    return grants + nested + apps * 3 * (min(2, groups) + min(2, users))


def memberships(w: Walk) -> set[tuple[str, str]]:
    return {(g.entitlement.id, g.principal.id.resource) for g in w.grants.values()}


SMALL = {"users": 60, "groups": 13, "depth": 3, "grants": 400, "apps": 2}


@pytest.fixture(scope="module")
def small() -> tuple[ScaleConnector, Walk]:
    c = scale(**SMALL)
    return c, walk(c, size=11)


def test_counts_match_the_flags(small: tuple[ScaleConnector, Walk]) -> None:
    _, w = small
    assert len(w.of_type("user")) == 60 and len(w.of_type("group")) == 13 and len(w.of_type("app")) == 2
    assert len(w.entitlements) == 13 + 2 * 3
    assert len(w.grants) == expected_grants(**SMALL) == ScaleModel(**SMALL).total_grants
    assert w.pages["user"] == 6


@pytest.mark.parametrize("settings", [
    {"users": 1, "groups": 1, "depth": 5, "grants": 1, "apps": 0},
    {"users": 7, "groups": 5, "depth": 9, "grants": 35, "apps": 1},
    {"users": 100, "groups": 40, "depth": 4, "grants": 0, "apps": 3},
    {"users": 97, "groups": 31, "depth": 2, "grants": 1000, "apps": 1},
])
def test_edge_configs_cover_everything_once(settings: dict[str, int]) -> None:
    c = scale(**settings)
    w = walk(c, size=4)
    assert len(w.grants) == expected_grants(**settings)
    check_references(w)


def test_pages_do_not_change_the_data(small: tuple[ScaleConnector, Walk]) -> None:
    c, w = small
    for size in (1, 1000):
        other = walk(c, size=size)
        assert other.grants.keys() == w.grants.keys()


def test_traits_references_and_expandable(small: tuple[ScaleConnector, Walk]) -> None:
    c, w = small
    check_traits(c, w)
    check_references(w)
    nested = 0
    for g in w.grants.values():
        pid = g.principal.id
        if pid.resource_type == "group":
            assert model.expandable_from(g) == [f"group:{pid.resource}:member"]
            nested += g.entitlement.resource.id.resource_type == "group"
        else:
            assert model.expandable_from(g) == []
    assert nested == 13 - 13 // 3


def test_members_are_distinct_and_spread_evenly(small: tuple[ScaleConnector, Walk]) -> None:
    _, w = small
    per_group = Counter(g.entitlement.id for g in w.grants.values()
                        if g.entitlement.resource.id.resource_type == "group" and g.principal.id.resource_type == "user")
    assert sum(per_group.values()) == 400 and max(per_group.values()) - min(per_group.values()) <= 1


def test_group_forest_has_the_requested_depth() -> None:
    data = ScaleModel(users=10, groups=100, depth=5, grants=0, apps=0, seed=3)
    depths = []
    for g in range(100):
        parent = data.parent(g)
        if parent is not None:
            assert g in data.children(parent) and data.level(parent) == data.level(g) - 1
        hops, node = 0, g
        while (node := data.parent(node)) is not None:  # type: ignore[assignment]
            hops += 1
        depths.append(hops)
    assert max(depths) == 4 and sum(len(data.children(g)) for g in range(100)) == data.nested_edges == 80


def test_same_flags_same_data_and_seed_or_flags_change_it(small: tuple[ScaleConnector, Walk]) -> None:
    _, first = small
    again = walk(scale(**SMALL), size=5)
    assert list(again.grants) == list(first.grants)
    for key, g in first.grants.items():
        assert again.grants[key].SerializeToString(deterministic=True) == g.SerializeToString(deterministic=True)
    reseeded = walk(scale(**SMALL, seed=1), size=11)
    assert reseeded.resources.keys() == first.resources.keys()
    assert memberships(reseeded) != memberships(first)
    assert memberships(walk(scale(**{**SMALL, "users": 61}), size=11)) != memberships(first)


def test_targeted_get_and_unknown_ids() -> None:
    c = scale(**SMALL)
    users, groups, apps = c.syncers()
    assert users.get(model.resource_id("user", "u59")) == users.build(59)
    assert groups.get(model.resource_id("group", "g12")) is not None
    for bad in ("u60", "u-1", "u01", "x1", "u"):
        assert users.get(model.resource_id("user", bad)) is None
    assert apps.get(model.resource_id("user", "app0")) is None


def test_grant_template_equals_the_builder() -> None:
    ent = model.entitlement_ref(model.resource_id("group", "g1"), "member")
    fast = GrantTemplate(ent, "user")
    for uid in ("u0", "u123456"):
        slow = model.grant(ent, model.resource_id("user", uid))
        assert fast(uid).SerializeToString(deterministic=True) == slow.SerializeToString(deterministic=True)


def test_user_template_equals_the_builder() -> None:
    """Users come from a serialized template: the same message, field for field, as the general builders."""
    users = ScaleConnector(ScaleConfig(users=200_000, groups=1, grants=0)).syncers()[0]
    for index in (0, 1, 9, 10, 127, 128, 12345, 199_999):
        fast, slow = users.build(index), build_user(index)
        assert fast == slow
        assert fast.SerializeToString(deterministic=True) == slow.SerializeToString(deterministic=True)


def test_memory_stays_flat_while_exhausting_grants() -> None:
    """200k grants, walked page by page and dropped: peak Python memory far below holding them."""
    c = scale(users=20_000, groups=200, depth=4, grants=200_000, apps=0)
    _, groups, _ = c.syncers()
    tracemalloc.start()
    count = 0
    for i in range(200):
        res = groups.build(i)
        count += len(exhaust(lambda pt, r=res: groups.grants(r, pt), 500)[0])
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert count == 200_000 + 200 - 50
    assert peak < 8 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"


def test_latency_is_applied_per_call() -> None:
    users = scale(users=3, groups=1, grants=0, latency_ms=30).syncers()[0]
    started = time.perf_counter()
    users.list(None, PageToken("", 1))
    users.list(None, PageToken("1", 1))
    assert time.perf_counter() - started >= 0.06


def test_config_from_flags_and_validation() -> None:
    config = load_config(ScaleConfig, {"users": "5", "grants": "10", "groups": "2"}, env={}, file_values={})
    assert config.to_model().total_grants == expected_grants(5, 2, 3, 10, 10)
    with pytest.raises(ConfigError):
        load_config(ScaleConfig, {"users": "5", "groups": "2", "grants": "11"}, env={}, file_values={})
    with pytest.raises(ValidationError):
        ScaleConfig(depth=0)
    assert builtin_connectors()["scale"] is ScaleConnector


@pytest.mark.slow
def test_one_million_grants_are_generated_exactly() -> None:
    """The benchmark config's grants, in-process: exactly the count the model promises (speed: bench_sync)."""
    c = scale(users=100_000, groups=10_000, depth=5, grants=1_000_000, apps=10)
    _, groups, apps = c.syncers()
    count = 0
    for syncer, n in ((groups, 10_000), (apps, 10)):
        for i in range(n):
            res = syncer.build(i)
            count += len(exhaust(lambda pt, s=syncer, r=res: s.grants(r, pt), 100)[0])
    assert count == ScaleModel(100_000, 10_000, 5, 1_000_000, 10).total_grants
