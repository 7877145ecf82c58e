"""The conformance kit: does a connector behave the way the engine (and Baton) rely on?

Connector bugs rarely crash; they loop on a page token, drop the last page,
change ids between runs or emit grants that point nowhere, and the damage shows
up much later as wrong access reviews. The kit drives a connector the way the
engine does and checks each of those properties, with messages that say which
call or object is at fault::

    from pybaton.testing import assert_conformant

    def test_conformance(tmp_path):
        assert_conformant(lambda: MyConnector(MyConfig(url=...)), tmp_path=tmp_path)

``factory`` is called once per run (a fresh connector each time, as a new
process would build), so it must be cheap and side-effect free.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import random
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pybaton.c1z import C1ZFile, SyncReader
from pybaton.connector.base import Connector, ResourceSyncer
from pybaton.connector.capabilities import StaticEntitlements
from pybaton.connector.hooks import AfterCalls, Call, CallCounter, interrupt, wrap_connector
from pybaton.connector.pagination import Page, PageToken
from pybaton.model import annotations as ann
from pybaton.model.ids import entitlement_id, grant_id
from pybaton.model.structure import child_types
from pybaton.pb.c1.connector.v2 import annotation_resource_tree_pb2, annotation_trait_pb2, resource_pb2
from pybaton.sync import SyncOptions, SyncResult, sync

ConnectorFactory = Callable[[], Connector[Any]]

CHECKS: tuple[str, ...] = ("pagination", "stable_ids", "traits", "references", "id_format",
                           "resume_interrupt", "resume_kill")

_EXAMPLES = 5

_TRAITS: dict[int, type[Any]] = {
    resource_pb2.ResourceType.TRAIT_USER: annotation_trait_pb2.UserTrait,
    resource_pb2.ResourceType.TRAIT_GROUP: annotation_trait_pb2.GroupTrait,
    resource_pb2.ResourceType.TRAIT_ROLE: annotation_trait_pb2.RoleTrait,
    resource_pb2.ResourceType.TRAIT_APP: annotation_trait_pb2.AppTrait,
    resource_pb2.ResourceType.TRAIT_SECRET: annotation_trait_pb2.SecretTrait,
}


@dataclass(frozen=True)
class ConformanceOptions:
    """How hard to push. Small pages exercise pagination; more points exercise resume."""

    page_size: int = 5
    large_page_size: int = 1000
    workers: int = 1
    interruptions: int = 3
    kills: int = 2
    seed: int = 0
    max_pages: int = 10_000
    expand: bool = False
    kill_timeout: float = 120.0
    checks: tuple[str, ...] = CHECKS


@dataclass(frozen=True)
class Finding:
    check: str
    message: str


@dataclass
class ConformanceReport:
    """What passed, what failed (with examples) and what could not be checked."""

    connector: str
    passed: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.findings

    def failed(self, check: str) -> list[str]:
        return [f.message for f in self.findings if f.check == check]

    def __str__(self) -> str:
        head = f"conformance of {self.connector}: {'ok' if self.ok else f'{len(self.findings)} problem(s)'}"
        lines = [head, *(f"  FAIL {f.check}: {f.message}" for f in self.findings)]
        lines.extend(f"  skipped {name}" for name in self.skipped)
        if self.counts:
            lines.append("  " + ", ".join(f"{k} {v}" for k, v in self.counts.items()))
        return "\n".join(lines)


class _Examples:
    """Counts offenders of one rule and keeps the first few for the message."""

    def __init__(self) -> None:
        self.count = 0
        self.examples: list[str] = []

    def add(self, example: str) -> None:
        self.count += 1
        if len(self.examples) < _EXAMPLES:
            self.examples.append(example)

    def message(self, what: str) -> str | None:
        if not self.count:
            return None
        more = f" (+{self.count - len(self.examples)} more)" if self.count > len(self.examples) else ""
        return f"{self.count} {what}: {'; '.join(self.examples)}{more}"


class _Silent:
    """Progress that says nothing (the kit's runs would otherwise flood the test log)."""

    def phase(self, name: str, total: int | None = None) -> None:
        pass

    def advance(self, count: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


# -- snapshots of finished files -------------------------------------------------------------------

@dataclass(frozen=True)
class Snapshot:
    """The ids a finished sync holds, per kind; what "the same result" means."""

    ids: dict[str, frozenset[str]]

    def differences(self, other: Snapshot) -> list[str]:
        out = []
        for kind, mine in self.ids.items():
            theirs = other.ids.get(kind, frozenset())
            if mine == theirs:
                continue
            missing, extra = sorted(mine - theirs)[:_EXAMPLES], sorted(theirs - mine)[:_EXAMPLES]
            out.append(f"{kind}: {len(mine)} vs {len(theirs)}; only in the first: {missing}; "
                       f"only in the second: {extra}")
        return out


_ID_TABLES = {"resources": "v1_resources", "entitlements": "v1_entitlements", "grants": "v1_grants"}


def snapshot(path: Path) -> Snapshot:
    """Ids of the latest finished sync in ``path`` (row ids are the store's contract, DESIGN §3)."""
    with C1ZFile.open(path) as c1z:
        sync_id = c1z.resolve_sync(sync_type=None).sync_id
        ids = {kind: frozenset(row[0] for row in c1z.conn.execute(
            f"select external_id from {table} where sync_id = ?", (sync_id,)))
            for kind, table in _ID_TABLES.items()}
    return Snapshot(ids)


# -- the checker -----------------------------------------------------------------------------------

class _Checker:
    """One kit run: the baseline sync every later check compares against, and the checks themselves."""

    def __init__(self, factory: ConnectorFactory, tmp_path: Path, options: ConformanceOptions) -> None:
        self.factory = factory
        self.tmp = tmp_path
        self.options = options
        self.rng = random.Random(options.seed)
        self.report = ConformanceReport(connector="?")
        self.baseline: Snapshot | None = None
        self.baseline_path = tmp_path / "baseline.c1z"
        self.baseline_result: SyncResult | None = None
        self.calls = 0
        self.endless = False

    def make(self) -> Connector[Any]:
        """A fresh connector (and the report learns its name from the first one)."""
        connector = self.factory()
        self.report.connector = connector.metadata.name
        return connector

    def fail(self, check: str, message: str | None) -> None:
        if message:
            self.report.findings.append(Finding(check, message))

    def sync_options(self) -> SyncOptions:
        # Commit after every page so an interruption anywhere leaves a checkpoint behind.
        return SyncOptions(page_size=self.options.page_size, workers=self.options.workers,
                           expand=self.options.expand, checkpoint_seconds=0.0)

    def run_sync(self, connector: Connector[Any], path: Path) -> SyncResult:
        try:
            return sync(connector, path, self.sync_options(), _Silent())
        finally:
            connector.close()

    # -- baseline --------------------------------------------------------------------------------

    def run_baseline(self) -> bool:
        counter = CallCounter()
        try:
            self.baseline_result = self.run_sync(wrap_connector(self.make(), counter), self.baseline_path)
        except Exception as exc:
            self.fail("sync", f"the engine could not sync the connector: {type(exc).__name__}: {exc}")
            return False
        self.calls = counter.count
        self.baseline = snapshot(self.baseline_path)
        self.report.counts = {k: len(v) for k, v in self.baseline.ids.items()} | {"connector calls": self.calls}
        return True

    @contextlib.contextmanager
    def baseline_reader(self) -> Iterator[SyncReader]:
        with C1ZFile.open(self.baseline_path) as c1z:
            yield SyncReader.of(c1z, self.baseline_result.sync_id if self.baseline_result else None)

    # -- individual checks -----------------------------------------------------------------------

    def check_pagination(self) -> None:
        small = walk(self.make, self.options.page_size, self.options.max_pages)
        large = walk(self.make, self.options.large_page_size, self.options.max_pages)
        for message in small.problems or large.problems:  # the same bug shows in both walks
            self.fail("pagination", message)
        self.endless = any(w.endless for w in (small, large))
        for what in sorted(small.listed.keys() & large.listed.keys()):
            a, b = set(small.listed[what]), set(large.listed[what])
            if a != b:
                self.fail("pagination", f"{what}: page size {self.options.page_size} gives {len(a)} items but "
                          f"page size {self.options.large_page_size} gives {len(b)}; only with small pages: "
                          f"{sorted(a - b)[:_EXAMPLES]}, only with large pages: {sorted(b - a)[:_EXAMPLES]}")

    def check_stable_ids(self) -> None:
        path = self.tmp / "second-run.c1z"
        self.run_sync(self.make(), path)
        assert self.baseline is not None
        for diff in self.baseline.differences(snapshot(path)):
            self.fail("stable_ids", f"two runs listed different ids: {diff}")

    def check_traits(self) -> None:
        with self.baseline_reader() as reader:
            declared = {rt.id: {int(t) for t in rt.traits if int(t) in _TRAITS} for rt in reader.resource_types()}
            bad = _Examples()
            for res in reader.resources():
                carried = {t for t, cls in _TRAITS.items() if ann.has(res.annotations, cls)}
                want = declared.get(res.id.resource_type, set())
                if carried != want:
                    bad.add(f"{res.id.resource_type}:{res.id.resource} carries {_trait_names(carried)}, "
                            f"its type declares {_trait_names(want)}")
        self.fail("traits", bad.message("resources whose trait annotations do not match their type's traits"))

    def check_references(self) -> None:
        for violation in self.baseline_result.integrity if self.baseline_result else []:
            self.fail("references", violation.describe())

    def check_id_format(self) -> None:
        with self.baseline_reader() as reader:
            bad_ents, bad_grants = _Examples(), _Examples()
            for ent in reader.entitlements():
                problem = _entitlement_id_problem(ent.id, ent.resource.id, ent.slug)
                if problem:
                    bad_ents.add(problem)
            for g in reader.grants():
                want = grant_id(g.entitlement.id, g.principal.id.resource_type, g.principal.id.resource)
                if g.id != want:
                    bad_grants.add(f"{g.id!r} should be {want!r}")
        self.fail("id_format", bad_ents.message("entitlements whose id is not TYPE:RESOURCE:SLUG"))
        self.fail("id_format", bad_grants.message("grants whose id is not ENTITLEMENT:PRINCIPAL_TYPE:PRINCIPAL_ID"))

    def points(self, count: int) -> list[int]:
        """Distinct call numbers to stop at, spread over the baseline's calls."""
        candidates = range(1, max(self.calls, 2))
        return sorted(self.rng.sample(candidates, min(count, len(candidates))))

    def check_resume_interrupt(self) -> None:
        for n in self.points(self.options.interruptions):
            path = self.tmp / f"interrupted-at-{n}.c1z"
            hook = AfterCalls(n, interrupt)
            try:
                self.run_sync(wrap_connector(self.make(), hook), path)
            except KeyboardInterrupt:
                pass
            else:
                if hook.fired:
                    self.fail("resume_interrupt", f"Ctrl-C at call {n} did not stop the sync")
                    continue
            self.resume_and_compare("resume_interrupt", path, f"interrupted at call {n}", hook.fired)

    def check_resume_kill(self) -> None:
        for n in self.points(self.options.kills):
            path = self.tmp / f"killed-at-{n}.c1z"
            killed = _sync_and_kill(self.make, path, self.sync_options(), n, self.options.kill_timeout)
            if killed is None:
                self.fail("resume_kill", f"the sync in a child process did not reach call {n} nor finish")
                continue
            self.resume_and_compare("resume_kill", path, f"killed (-9) at call {n}", killed)

    def resume_and_compare(self, check: str, path: Path, how: str, interrupted: bool) -> None:
        result = self.run_sync(self.make(), path)
        if interrupted and not result.resumed:
            self.fail(check, f"{how}: the next run started over instead of resuming")
        assert self.baseline is not None
        for diff in self.baseline.differences(snapshot(path)):
            self.fail(check, f"{how}, then resumed: result differs from an uninterrupted run: {diff}")


def _trait_names(traits: set[int]) -> str:
    names = sorted(resource_pb2.ResourceType.Trait.Name(t).removeprefix("TRAIT_").lower()
                   for t in traits)
    return "[" + ", ".join(names) + "]"


def _entitlement_id_problem(ent_id: str, rid: resource_pb2.ResourceId, slug: str) -> str | None:
    prefix = f"{rid.resource_type}:{rid.resource}:"
    tail = ent_id.removeprefix(prefix)
    if not ent_id.startswith(prefix) or not tail:
        return f"{ent_id!r} on resource {rid.resource_type}:{rid.resource} should start with {prefix!r}"
    if slug and tail != slug:
        return f"{ent_id!r} should end with its slug {slug!r}"
    return None


# -- walking the connector directly (pagination) ---------------------------------------------------

class ConnectorWalk:
    """Every listing the engine would make, page by page, noting loops, endless pages and duplicates.

    ``ids`` holds what the connector listed per kind (static entitlements
    stamped as the engine does), so a test can compare a sync's contents with
    what the connector really returns.
    """

    def __init__(self, connector: Connector[Any], page_size: int = 100, max_pages: int = 10_000) -> None:
        self.page_size = page_size
        self.max_pages = max_pages
        self.problems: list[str] = []
        self.endless = False
        self.listed: dict[str, list[str]] = {}
        self.ids: dict[str, set[str]] = {"resources": set(), "entitlements": set(), "grants": set()}
        self._walk(connector)

    def _walk(self, connector: Connector[Any]) -> None:
        syncers = {s.resource_type.id: s for s in connector.syncers()}
        queue: list[tuple[str, resource_pb2.ResourceId | None]] = [(t, None) for t in syncers]
        resources: list[tuple[ResourceSyncer, resource_pb2.Resource]] = []
        while queue:
            type_id, parent = queue.pop(0)
            syncer = syncers[type_id]
            where = f" under {parent.resource_type}:{parent.resource}" if parent else ""
            for res in self._listing(f"list {type_id}{where}", "resources",
                                     lambda pt, s=syncer, p=parent: s.list(p, pt),  # type: ignore[misc]
                                     lambda r: f"{r.id.resource_type}:{r.id.resource}"):
                resources.append((syncer, res))
                queue.extend((child, res.id) for child in child_types(res) if child in syncers)
        for syncer, res in resources:
            if not _skips_access(syncer, res):
                self._access_of(syncer, res)

    def _access_of(self, syncer: ResourceSyncer, res: resource_pb2.Resource) -> None:
        key = f"{res.id.resource_type}:{res.id.resource}"
        if isinstance(syncer, StaticEntitlements):
            self.ids["entitlements"].update(entitlement_id(res.id.resource_type, res.id.resource,
                                                           t.slug or t.display_name or t.id)
                                            for t in syncer.static_entitlements())
        list(self._listing(f"entitlements of {key}", "entitlements",
                           lambda pt: syncer.entitlements(res, pt), lambda e: e.id))
        list(self._listing(f"grants of {key}", "grants", lambda pt: syncer.grants(res, pt), lambda g: g.id))

    def _listing(self, what: str, kind: str, call: Callable[[PageToken], Page[Any]],
                 key: Callable[[Any], str]) -> Iterator[Any]:
        ids = self.listed.setdefault(what, [])
        seen_tokens: set[str] = set()
        token = ""
        for _ in range(self.max_pages):
            try:
                page = call(PageToken(token, self.page_size))
            except Exception as exc:
                self.problems.append(f"{what} (token {token!r}): raised {type(exc).__name__}: {exc}")
                return
            for item in page.items:
                ids.append(key(item))
                yield item
            if not page.next_token:
                self._finished(what, kind, ids)
                return
            if page.next_token == token or page.next_token in seen_tokens:
                self.problems.append(f"{what}: returned page token {page.next_token[:60]!r} a second time; "
                                     "the engine would loop forever (it stops the sync instead)")
                return
            seen_tokens.add(page.next_token)
            token = page.next_token
        self.endless = True
        self.problems.append(f"{what}: still returning a next page token after {self.max_pages} pages "
                             f"of {self.page_size}; pagination never ends")

    def _finished(self, what: str, kind: str, ids: list[str]) -> None:
        self.ids[kind].update(ids)
        dupes = sorted(i for i, n in Counter(ids).items() if n > 1)
        if dupes:
            self.problems.append(f"{what}: the same item on more than one page: {dupes[:_EXAMPLES]}")


def walk(factory: ConnectorFactory, page_size: int, max_pages: int) -> ConnectorWalk:
    """Walk a fresh connector from ``factory`` and close it."""
    connector = factory()
    try:
        return ConnectorWalk(connector, page_size, max_pages)
    finally:
        connector.close()


def _skips_access(syncer: ResourceSyncer, res: resource_pb2.Resource) -> bool:
    skip = annotation_resource_tree_pb2.SkipEntitlementsAndGrants
    return ann.has(syncer.resource_type.annotations, skip) or ann.has(res.annotations, skip)


# -- kill -9 ---------------------------------------------------------------------------------------

def _sync_until_paused(factory: ConnectorFactory, path: Path, options: SyncOptions, n: int,
                       reached: Any) -> None:
    """Child process: sync, and freeze at the ``n``-th connector call so the parent can kill -9 us."""

    def freeze(call: Call) -> None:
        reached.set()
        time.sleep(3600)

    sync(wrap_connector(factory(), AfterCalls(n, freeze)), path, options, _Silent())


def _sync_and_kill(factory: ConnectorFactory, path: Path, options: SyncOptions, n: int,
                   timeout: float) -> bool | None:
    """Run a sync in a forked process and SIGKILL it at call ``n``.

    True if it was killed, False if it finished first, None if it hung or failed.
    """
    ctx = multiprocessing.get_context("fork")
    reached = ctx.Event()
    proc = ctx.Process(target=_sync_until_paused, args=(factory, path, options, n, reached), daemon=True)
    proc.start()
    deadline = time.monotonic() + timeout
    while proc.is_alive() and not reached.is_set() and time.monotonic() < deadline:
        reached.wait(0.05)
    killed = reached.is_set()
    if proc.is_alive() and proc.pid is not None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.join()
    if killed:
        return True
    return False if proc.exitcode == 0 else None


# -- entry points ----------------------------------------------------------------------------------

_CHECK_METHODS: dict[str, Callable[[_Checker], None]] = {
    "pagination": _Checker.check_pagination,
    "stable_ids": _Checker.check_stable_ids,
    "traits": _Checker.check_traits,
    "references": _Checker.check_references,
    "id_format": _Checker.check_id_format,
    "resume_interrupt": _Checker.check_resume_interrupt,
    "resume_kill": _Checker.check_resume_kill,
}


def check_connector(factory: ConnectorFactory, *, tmp_path: Path | str,
                    options: ConformanceOptions | None = None) -> ConformanceReport:
    """Run every check in ``options.checks`` against fresh connectors from ``factory``."""
    options = options or ConformanceOptions()
    unknown = set(options.checks) - set(CHECKS)
    if unknown:
        raise ValueError(f"unknown conformance checks {sorted(unknown)}; known: {', '.join(CHECKS)}")
    tmp = Path(tmp_path)
    tmp.mkdir(parents=True, exist_ok=True)
    checker = _Checker(factory, tmp, options)
    rest = [name for name in options.checks if name != "pagination"]
    if "pagination" in options.checks:
        _run_check(checker, "pagination")
    if checker.endless:
        # The engine trusts the connector to end its pages; syncing now would never return.
        checker.report.skipped.extend(f"{name} (pagination never ends)" for name in rest)
    elif not checker.run_baseline():
        checker.report.skipped.extend(f"{name} (the baseline sync failed)" for name in rest)
    else:
        for name in rest:
            _run_check(checker, name)
    return checker.report


def _run_check(checker: _Checker, name: str) -> None:
    before = len(checker.report.findings)
    try:
        _CHECK_METHODS[name](checker)
    except Exception as exc:
        checker.fail(name, f"the check itself failed: {type(exc).__name__}: {exc}")
    if len(checker.report.findings) == before:
        checker.report.passed.append(name)


def assert_conformant(factory: ConnectorFactory, *, tmp_path: Path | str,
                      options: ConformanceOptions | None = None) -> ConformanceReport:
    """:func:`check_connector`, raising ``AssertionError`` with the full report when anything failed."""
    report = check_connector(factory, tmp_path=tmp_path, options=options)
    if not report.ok:
        raise AssertionError(str(report))
    return report
