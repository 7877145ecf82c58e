"""The conformance kit passes on the built-ins and fails, usefully, on broken connectors."""

from __future__ import annotations

import itertools
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from connector_toys import USER, GroupSyncer, Toy, ToyConfig, UserSyncer, toy, window

from pybaton import model
from pybaton.connector import ConnectorMetadata, Page, PageToken, ResourceSyncer
from pybaton.pb.c1.connector.v2 import annotation_resource_tree_pb2, entitlement_pb2, grant_pb2, resource_pb2
from pybaton.testing import CHECKS, ConformanceOptions, ConformanceReport, assert_conformant, check_connector

TESTS = Path(__file__).parent


def check(factory: Any, tmp_path: Path, **options: Any) -> ConformanceReport:
    return check_connector(factory, tmp_path=tmp_path, options=ConformanceOptions(**options))


# -- the built-ins pass --------------------------------------------------------------------------

def test_toy_passes_every_check(tmp_path: Path) -> None:
    report = assert_conformant(lambda: toy(users=17, groups=4), tmp_path=tmp_path)
    assert report.passed == list(CHECKS) and report.ok
    assert report.counts["resources"] == 21


def test_demo_passes(tmp_path: Path) -> None:
    from pybaton.connectors.demo import DemoConnector

    data = tmp_path / "demo-data"
    report = assert_conformant(lambda: DemoConnector(DemoConnector.config_class(data_dir=data)),
                               tmp_path=tmp_path / "kit", options=ConformanceOptions(workers=2))
    assert report.counts["grants"] > 0


def test_scale_passes(tmp_path: Path) -> None:
    from pybaton.connectors.scale import ScaleConfig, ScaleConnector

    config = ScaleConfig(users=120, groups=15, grants=300, apps=3, depth=3)
    report = assert_conformant(lambda: ScaleConnector(config), tmp_path=tmp_path,
                               options=ConformanceOptions(page_size=7, interruptions=4, kills=2))
    assert report.ok and report.counts["grants"] > 300


# -- broken connectors fail with a message that points at the bug ---------------------------------

class RepeatingGroups(GroupSyncer):
    """Ignores the page token it is given and always says "next: page-2"."""

    def grants(self, resource: resource_pb2.Resource, page: PageToken) -> Page[grant_pb2.Grant]:
        return Page(super().grants(resource, PageToken("", page.size)).items, "page-2")


class EndlessUsers(UserSyncer):
    def list(self, parent: resource_pb2.ResourceId | None, page: PageToken) -> Page[resource_pb2.Resource]:
        return Page([], str(int(page.token or 0) + 1))


class OffByOneUsers(UserSyncer):
    """Forgets the last page when the total is not a multiple of the page size."""

    def list(self, parent: resource_pb2.ResourceId | None, page: PageToken) -> Page[resource_pb2.Resource]:
        start = int(page.token or 0)
        stop = start + page.size
        items = [model.resource(USER, f"u{i}", f"User {i}", traits=[model.user_trait(login=f"u{i}")])
                 for i in range(start, min(stop, self.config.users))]
        return Page(items, str(stop) if stop + page.size <= self.config.users else "")


_COUNTER = itertools.count()


class UnstableUsers(UserSyncer):
    """Ids derived from a per-process counter: different in every run."""

    def __init__(self, config: ToyConfig) -> None:
        super().__init__(config)
        self.run = next(_COUNTER)

    def list(self, parent: resource_pb2.ResourceId | None, page: PageToken) -> Page[resource_pb2.Resource]:
        positions, token = window(page.token, page.size, self.config.users)
        return Page([model.resource(USER, f"u{i}-{self.run}", "x", traits=[model.user_trait()]) for i in positions],
                    token)


class TraitlessUsers(UserSyncer):
    def list(self, parent: resource_pb2.ResourceId | None, page: PageToken) -> Page[resource_pb2.Resource]:
        positions, token = window(page.token, page.size, self.config.users)
        return Page([model.resource(USER, f"u{i}", "x", traits=[model.group_trait()]) for i in positions], token)


class GhostGroups(GroupSyncer):
    def grants(self, resource: resource_pb2.Resource, page: PageToken) -> Page[grant_pb2.Grant]:
        result = super().grants(resource, page)
        ghost = model.grant(model.entitlement_ref(resource, "member"), model.resource_id("user", "ghost"))
        return Page([*result.items, ghost], result.next_token)


class OddIdGroups(GroupSyncer):
    def static_entitlements(self) -> Sequence[entitlement_pb2.Entitlement]:
        return []

    def entitlements(self, resource: resource_pb2.Resource,
                     page: PageToken) -> Page[entitlement_pb2.Entitlement]:
        ent = model.assignment(resource, "member")
        ent.id = f"member-of-{resource.id.resource}"
        return Page([ent])

    def grants(self, resource: resource_pb2.Resource, page: PageToken) -> Page[grant_pb2.Grant]:
        result = super().grants(resource, page)
        for g in result.items:
            g.id = f"{resource.id.resource}-{g.principal.id.resource}"
        return result


class CursorUsers(UserSyncer):
    """Server-side cursors a new process cannot continue: the classic "resume loses data" bug."""

    resource_type = model.resource_type("user", "User", traits=["user"],
                                        annotations=[annotation_resource_tree_pb2.SkipEntitlementsAndGrants()])

    def __init__(self, config: ToyConfig) -> None:
        super().__init__(config)
        self.cursors: dict[str, int] = {}

    def list(self, parent: resource_pb2.ResourceId | None, page: PageToken) -> Page[resource_pb2.Resource]:
        if page.token and page.token not in self.cursors:
            return Page()  # "cursor expired": silently ends the listing
        start = self.cursors.get(page.token, 0)
        stop = min(start + page.size, self.config.users)
        token = f"cursor-{id(self)}-{stop}" if stop < self.config.users else ""
        self.cursors[token] = stop
        return Page([model.resource(USER, f"u{i}", f"User {i}", traits=[model.user_trait(login=f"u{i}")])
                     for i in range(start, stop)], token)


def broken(user_syncer: type[ResourceSyncer] = UserSyncer,
           group_syncer: type[ResourceSyncer] | None = GroupSyncer, **config: Any) -> Any:
    """A factory of a toy connector with the given (buggy) syncers."""
    class Broken(Toy):
        metadata = ConnectorMetadata("broken", "Broken toy")

        def syncers(self) -> Sequence[ResourceSyncer]:
            syncers = [user_syncer(self.config)]  # type: ignore[call-arg]
            return syncers + ([group_syncer(self.config)] if group_syncer else [])  # type: ignore[call-arg]

    return lambda: Broken(ToyConfig(**config))


@pytest.mark.parametrize(("factory", "failed_check", "message"), [
    (broken(group_syncer=RepeatingGroups, users=7, groups=1), "pagination",
     "grants of group:g0: returned page token 'page-2' a second time"),
    (broken(group_syncer=RepeatingGroups, users=7, groups=1), "sync", "returned page token 'page-2' twice"),
    (broken(user_syncer=EndlessUsers), "pagination", "list user: still returning a next page token after 50 pages"),
    (broken(user_syncer=OffByOneUsers, users=13), "pagination", "list user: page size 5 gives 10 items but page size"),
    (broken(user_syncer=UnstableUsers), "stable_ids", "two runs listed different ids: resources"),
    (broken(user_syncer=TraitlessUsers), "traits", "user:u0 carries [group], its type declares [user]"),
    (broken(group_syncer=GhostGroups), "references", "grants whose principal was not listed: group:g0:member:user:ghost"),
    (broken(group_syncer=OddIdGroups), "id_format",
     "entitlements whose id is not TYPE:RESOURCE:SLUG: 'member-of-g0' on resource group:g0"),
    (broken(group_syncer=OddIdGroups), "id_format", "'g0-u0' should be 'group:g0:member:user:u0'"),
    (broken(user_syncer=CursorUsers, group_syncer=None, users=60), "resume_interrupt",
     "then resumed: result differs from an uninterrupted run: resources"),
    (broken(user_syncer=CursorUsers, group_syncer=None, users=60), "resume_kill",
     "killed (-9) at call"),
], ids=["repeated-token", "repeated-token-engine", "endless", "off-by-one", "unstable", "traits", "ghost",
        "entitlement-id", "grant-id", "resume-interrupt", "resume-kill"])
def test_broken_connector_fails_with_useful_message(tmp_path: Path, factory: Any, failed_check: str,
                                                    message: str) -> None:
    report = check(factory, tmp_path, max_pages=50, interruptions=4, kills=2, seed=3)
    assert not report.ok
    assert any(message in m for m in report.failed(failed_check)), str(report)
    with pytest.raises(AssertionError, match="conformance of broken"):
        assert_conformant(factory, tmp_path=tmp_path / "again",
                          options=ConformanceOptions(max_pages=50, interruptions=1, kills=0))


def test_a_failed_baseline_skips_what_depends_on_it(tmp_path: Path) -> None:
    report = check(broken(group_syncer=RepeatingGroups, users=7, groups=1), tmp_path)
    assert report.failed("pagination") and report.failed("sync")
    assert any(s.startswith("stable_ids") for s in report.skipped)
    assert "FAIL pagination" in str(report) and "skipped resume_kill" in str(report)


def test_unknown_check_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown conformance checks"):
        check(lambda: toy(), tmp_path, checks=("pagination", "vibes"))


def test_pytest_plugin_fixture_needs_no_setup(tmp_path: Path) -> None:
    """Installed pybaton registers its pytest plugin (entry point pytest11): authors just use the fixture."""
    (tmp_path / "test_author.py").write_text(textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(TESTS)!r})
        from connector_toys import toy
        from test_conformance_kit import broken, GhostGroups

        def test_good(connector_conformance):
            connector_conformance(lambda: toy(users=5, groups=2))

        def test_bad(connector_conformance):
            connector_conformance(broken(group_syncer=GhostGroups))
    """))
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q",
                           "-p", "no:cacheprovider", str(tmp_path / "test_author.py")],
                          capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert "1 failed, 1 passed" in proc.stdout, proc.stdout + proc.stderr
    assert "FAIL references: 3 grants whose principal was not listed" in proc.stdout



# -- the wrapper and fault injection -------------------------------------------------------------

def test_wrapping_keeps_capabilities_and_counts_calls(tmp_path: Path) -> None:
    from pybaton.connector.describe import capabilities_document
    from pybaton.sync import sync
    from pybaton.testing import CallCounter, wrap_connector

    counter = CallCounter()
    wrapped = wrap_connector(toy(users=4, groups=2), counter)
    assert capabilities_document(wrapped) == capabilities_document(toy())
    assert wrapped.metadata.name == "toy"
    sync(wrapped, tmp_path / "w.c1z")
    methods = {c.method for c in counter.calls}
    assert {"validate", "list", "entitlements", "grants", "static_entitlements"} <= methods


def test_fault_injector_counts_what_it_raised() -> None:
    from pybaton.errors import RetryableError
    from pybaton.testing import Fault, inject_faults

    connector, faults = inject_faults(toy(), Fault("list", RetryableError, times=2, skip=1, resource_type="user"))
    users = connector.syncers()[0]
    first = PageToken("", 5)
    assert users.list(None, first).items  # skipped
    for _ in range(2):
        with pytest.raises(RetryableError, match="injected fault in list user"):
            users.list(None, first)
    assert users.list(None, first).items and faults.exhausted and faults.raised_count == 2
