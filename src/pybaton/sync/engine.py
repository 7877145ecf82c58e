"""The sync engine: connector → store, resumable, with workers, retries and checks.

Phases run in order — resource types, resources (breadth-first through child
types), entitlements, grants, expansion — and each commits its rows together
with a checkpoint (:mod:`pybaton.sync.state`). The working database lives in
``<file>.wip/`` until the run ends, so an interrupted sync (Ctrl-C, crash,
``kill -9``) resumes on the next run and the finished file equals an
uninterrupted run's. An incremental sync keeps that database after a successful
save, and the next run reuses it instead of unpacking the file again
(:mod:`pybaton.c1z.workdb`).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import resource
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pybaton.c1z import C1ZFile, SyncReader, SyncWriter, syncs, workdb
from pybaton.c1z.committer import Committer
from pybaton.c1z.merge import prune_runs
from pybaton.connector.base import Connector, ResourceSyncer
from pybaton.connector.capabilities import ChangeLister, ResourceGetter, StaticEntitlements
from pybaton.connector.pagination import Page, PageToken
from pybaton.errors import C1ZError, C1ZFormatError, FatalError, UserError
from pybaton.model import annotations as ann
from pybaton.model.ids import split_resource_ref
from pybaton.model.structure import child_types, static_instance
from pybaton.pb.c1.connector.v2 import (
    annotation_resource_tree_pb2,
    resource_pb2,
)
from pybaton.sync import expand_store, forked, integrity
from pybaton.sync.options import SyncOptions
from pybaton.sync.progress import LogProgress, Progress
from pybaton.sync.retry import call_with_retry
from pybaton.sync.scan import PageResult, ScanTask, ScanTracker, run_scan
from pybaton.sync.state import ListTask, SyncState

log = logging.getLogger("pybaton.sync")

_RESOURCE_BATCH = 1000


@dataclass
class SyncResult:
    sync_id: str
    path: Path
    stats: dict[str, Any]
    resumed: bool
    seconds: float
    integrity: list[integrity.Violation] = field(default_factory=list)
    # For an incremental run: how many changed objects the connector reported (None: a full run).
    changes: int | None = None


def work_dir_for(path: Path) -> Path:
    """Where an unfinished sync of ``path`` keeps its working database."""
    return path.with_name(path.name + ".wip")


@contextlib.contextmanager
def _locked(workdir: Path) -> Iterator[None]:
    workdir.mkdir(parents=True, exist_ok=True)
    with (workdir / "lock").open("w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UserError(f"{workdir}: another sync of this file is running") from None
        yield


def sync(connector: Connector[Any], path: str | Path, options: SyncOptions | None = None,
         progress: Progress | None = None) -> SyncResult:
    """Sync ``connector`` into the ``.c1z`` at ``path`` (created, or appended to as a new run)."""
    path = Path(path)
    options = options or SyncOptions()
    if not path.parent.is_dir():
        raise UserError(f"{path}: directory {path.parent} does not exist")
    # Credentials and config are checked before any file is touched, so a wrong
    # password leaves nothing behind (no working copy to resume).
    connector.validate()
    workdir = work_dir_for(path)
    fresh_workdir = not workdir.exists()
    keep = options.incremental and workdb.enabled()
    try:
        with _locked(workdir):
            c1z = _open_work(path, workdir)
            try:
                result = _engine_for(connector, c1z, options, progress or LogProgress()).run()
            finally:
                c1z.close(discard_workdir=False)
            kept = keep and c1z.last_pack is not None and workdb.keep(path, workdir, c1z.last_pack)
    except BaseException:
        if fresh_workdir and not (workdir / "db.sqlite").exists():
            shutil.rmtree(workdir, ignore_errors=True)  # nothing was written: nothing to resume
        raise
    if not kept:
        shutil.rmtree(workdir, ignore_errors=True)
    return result


def _engine_for(connector: Connector[Any], c1z: C1ZFile, options: SyncOptions, progress: Progress) -> SyncEngine:
    if options.incremental and not options.partial:
        from pybaton.sync.incremental import IncrementalSync

        return IncrementalSync(connector, c1z, options, progress)
    return SyncEngine(connector, c1z, options, progress)


def _open_work(path: Path, workdir: Path) -> C1ZFile:
    """The working copy: the database kept by the last run when it still equals the file, the one an
    interrupted run left (if it is sound), else a fresh unpack (see :mod:`pybaton.c1z.workdb`)."""
    start = workdb.prepare(path, workdir)
    try:
        c1z = C1ZFile.open(path, writable=True, create=True, workdir=workdir)
        if start.reuse is workdb.Reuse.RESUME:
            _check_sound(c1z)
    except C1ZError:
        if start.reuse is workdb.Reuse.FRESH:
            raise
        log.warning("%s: unusable working copy from an earlier run; starting over", workdir)
        workdb.discard(workdir)
        workdb.prepare(path, workdir)
        c1z = C1ZFile.open(path, writable=True, create=True, workdir=workdir)
    c1z.pack_base = start.previous
    return c1z


def _check_sound(c1z: C1ZFile) -> None:
    """A full page check of a working copy before resuming from it (disk full, a bad disk, tampering)."""
    try:
        verdict = c1z.conn.execute("pragma quick_check").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        verdict = str(exc)
    if verdict != "ok":
        c1z.close(discard_workdir=False)
        raise C1ZFormatError(f"{c1z.db_path}: damaged ({verdict})")


class SyncEngine:
    """One run. Construct, then :meth:`run`; use :func:`sync` unless embedding."""

    def __init__(self, connector: Connector[Any], c1z: C1ZFile, options: SyncOptions, progress: Progress) -> None:
        self.connector = connector
        self.c1z = c1z
        self.options = options
        self.page_size = options.page_size_for(connector.preferred_page_size)
        self.progress = progress
        self._syncers = {s.resource_type.id: s for s in connector.syncers()}
        self.state = SyncState()
        self.writer: SyncWriter
        self._buffer: list[Any] = []
        self._buffer_kind = ""
        self._last_flush = time.monotonic()
        # Commits run on one background thread so SQLite's work (which releases the
        # GIL) overlaps the connector's; at most one batch is in flight.
        self._committer: Committer | None = None
        self._scan_conn: sqlite3.Connection | None = None
        self._violations: list[integrity.Violation] | None = None
        # Wall and CPU seconds (all threads, and the scan's child) of each step, logged at the end of a run.
        self._timings: dict[str, tuple[float, float]] = {}
        self._nested: list[list[float]] = []  # wall and CPU of the steps timed inside the open ones

    # -- lifecycle -----------------------------------------------------------------------------

    def run(self) -> SyncResult:
        started = time.monotonic()
        run, resumed = self._start_or_resume()
        self.writer = SyncWriter(self.c1z, run.sync_id)
        self._committer = Committer(self.writer)
        log.info("%s sync %s into %s", "resuming" if resumed else "starting", run.sync_id, self.c1z.path)
        try:
            if self.options.sync_resources:
                self._targeted()
            else:
                self._phases()
        finally:
            self._finish_commits()
            self.progress.close()
        violations = self._check_integrity()
        with self._timed("stats"):
            stats = SyncReader(self.c1z, syncs.get_run(self.c1z.conn, run.sync_id)).stats()  # Go's counting rules
        conflicts = integrity.exclusion_group_conflicts(self.c1z.conn, run.sync_id)
        for conflict in conflicts:
            log.warning("integrity: %s", conflict)
        with self.writer.transaction():
            syncs.end_run(self.c1z.conn, run.sync_id, stats)
            clean = self.options.integrity_check and not violations  # lets an incremental sync check by difference
            syncs.checkpoint(self.c1z.conn, run.sync_id, SyncState(phase="done", cursors=self.state.cursors,
                                                                   integrity_clean=clean).to_token())
            if not conflicts:  # Go's verification marker: set only when its invariants hold
                syncs.mark_ingest_verified(self.c1z.conn, run.sync_id)
        with self._timed("save"):
            self._save()
        log.info("sync steps: %s", ", ".join(f"{name} {wall:.1f} s (cpu {cpu:.1f} s)"
                                             for name, (wall, cpu) in self._timings.items()))
        return SyncResult(run.sync_id, self.c1z.path, stats, resumed, time.monotonic() - started, violations)

    @contextlib.contextmanager
    def _timed(self, step: str) -> Iterator[None]:
        """Add the block's wall and CPU seconds to ``step``'s (the split ``bench/bench_sync.py --phases`` shows).

        A step timed inside another (indexing inside grants) is not counted twice: the outer one gets the rest.
        """
        self._nested.append([0.0, 0.0])
        wall, cpu = time.perf_counter(), _cpu_seconds()
        try:
            yield
        finally:
            spent = (time.perf_counter() - wall, _cpu_seconds() - cpu)
            inner = self._nested.pop()
            if self._nested:
                self._nested[-1][0] += spent[0]
                self._nested[-1][1] += spent[1]
            before = self._timings.get(step, (0.0, 0.0))
            self._timings[step] = (before[0] + spent[0] - inner[0], before[1] + spent[1] - inner[1])

    def _start_or_resume(self) -> tuple[syncs.SyncRun, bool]:
        conn = self.c1z.conn
        unfinished = syncs.latest_unfinished(conn)
        wanted = "partial" if self.options.partial else "full"
        if unfinished is not None:
            state = SyncState.from_token(unfinished.sync_token)
            if state is not None and unfinished.sync_type == wanted:
                self.state = state
                return unfinished, True
            log.warning("discarding unfinished sync %s (not resumable with these options)", unfinished.sync_id)
            with _transaction(conn):
                syncs.delete_run(conn, unfinished.sync_id)
        if wanted == "full":
            self.state.cursors = self._current_cursors()
        with _transaction(conn):
            run = syncs.start_run(conn, wanted)
            syncs.checkpoint(conn, run.sync_id, self.state.to_token())
        return run, False

    def _current_cursors(self) -> dict[str, str]:
        """Change cursors taken before a full run reads anything (changes made meanwhile are listed again)."""
        return {t: call_with_retry(s.current_cursor, what=f"change cursor of {t}", policy=self.options.retry,
                                   on_not_found=str)
                for t, s in self._syncers.items() if isinstance(s, ChangeLister)}

    def _save(self) -> None:
        """Drop the runs ``keep_syncs`` no longer keeps, then pack the file.

        When runs were dropped, what is packed is a vacuumed copy (``C1ZFile.save(vacuum=True)``):
        none of their bytes stays readable in the ``.c1z``.
        """
        with self.writer.transaction():
            deleted = prune_runs(self.c1z, self.options.keep_syncs)
        self.c1z.save(vacuum=deleted > 0)

    # -- phases --------------------------------------------------------------------------------

    def _phases(self) -> None:
        steps: list[tuple[str, Callable[[], None]]] = [
            ("resource_types", self._resource_types),
            ("resources", self._resources),
        ]
        if not self.options.skip_entitlements_and_grants:
            steps.append(("entitlements", self._entitlements))
            if not self.options.skip_grants:
                steps.append(("grants", self._grants))
                if self.options.expand:
                    steps.append(("expansion", self._expansion))
        order = [name for name, _ in steps]
        start = order.index(self.state.phase) if self.state.phase in order else len(order)
        for name, step in steps[start:]:
            self.state.phase = name
            with self._timed(name):
                step()
                self._advance_phase(order, name)

    def _advance_phase(self, order: Sequence[str], name: str) -> None:
        idx = order.index(name)
        self.state.phase = order[idx + 1] if idx + 1 < len(order) else "done"
        self.state.scan = type(self.state.scan)()
        self._flush(force=True)

    def _wanted_types(self) -> list[ResourceSyncer]:
        only = set(self.options.sync_resource_types)
        unknown = only - set(self._syncers)
        if unknown:
            raise UserError(f"unknown resource type(s) {', '.join(sorted(unknown))}; "
                            f"this connector has {', '.join(self._syncers)}")
        return [s for t, s in self._syncers.items() if not only or t in only]

    def _resource_types(self) -> None:
        self.progress.phase("resource types")
        types = [s.resource_type for s in self._wanted_types()]
        self.writer.put_resource_types(types)
        self.progress.advance(len(types))
        self.state.queue = [ListTask(rt.id) for rt in types]

    def _resources(self) -> None:
        self.progress.phase("resources")
        queue = self.state.queue
        seen_tokens: dict[tuple[str, str, str], set[str]] = {}
        while queue:
            task = queue[0]
            key = (task.resource_type, task.parent_type, task.parent_id)
            page = self._list_page(task)
            self._check_token(seen_tokens.setdefault(key, set()), task.token, page.next_token,
                              f"listing {task.resource_type}")
            queue.pop(0)
            if page.next_token:
                queue.insert(0, ListTask(task.resource_type, task.parent_type, task.parent_id, page.next_token))
            children = [ListTask(child, r.id.resource_type, r.id.resource)
                        for r in page.items for child in self._child_types(r)]
            queue.extend(children)
            self._add("resources", list(page.items))
            self.progress.advance(len(page.items))

    def _child_types(self, res: resource_pb2.Resource) -> list[str]:
        out = []
        for child in child_types(res):
            if child in self._syncers:
                out.append(child)
            else:
                log.warning("%s:%s declares child type %r, which the connector does not sync",
                            res.id.resource_type, res.id.resource, child)
        return out

    def _list_page(self, task: ListTask) -> Page[resource_pb2.Resource]:
        syncer = self._syncers[task.resource_type]
        parent = resource_pb2.ResourceId(resource_type=task.parent_type, resource=task.parent_id) \
            if task.parent_type else None
        what = f"list {task.resource_type}" + (f" under {task.parent_type}:{task.parent_id}" if parent else "")
        empty: Callable[[], Page[resource_pb2.Resource]] = Page
        page = call_with_retry(lambda: syncer.list(parent, PageToken(task.token, self.page_size)),
                               what=what, policy=self.options.retry, on_not_found=empty)
        for r in page.items:
            if r.id.resource_type != task.resource_type:
                raise FatalError(f"{what}: returned a resource of type {r.id.resource_type!r}")
            if parent is not None and not r.HasField("parent_resource_id"):
                r.parent_resource_id.CopyFrom(parent)
        return page

    @staticmethod
    def _check_token(seen: set[str], token: str, next_token: str, what: str) -> None:
        if not next_token:
            return
        if next_token == token or next_token in seen:
            raise FatalError(f"{what}: the connector returned page token {next_token[:60]!r} twice; "
                             "stopping instead of looping forever")
        seen.add(next_token)

    def _entitlements(self) -> None:
        self._scan("entitlements", self._entitlement_pages)

    def _grants(self) -> None:
        # Grants are the bulk of any sync: load them with the indexes dropped and
        # rebuild once (see SyncWriter.begin_bulk_grants). A resumed run finds the
        # indexes still dropped and carries on in the same mode.
        self.writer.begin_bulk_grants()
        self._scan("grants", self._grant_pages)
        self._flush(force=True)
        self.progress.phase("indexing grants")
        self._close_reads()  # the index build writes through a rollback journal only when it is alone
        with expand_store.rollback_journal(self.c1z.conn), self._timed("indexing grants"):
            self.writer.end_bulk_grants()

    def _check_integrity(self) -> list[integrity.Violation]:
        """Check what the connector reported, once: before expansion when the run gets there.

        Derived grants are built from listed entitlements and principals, so
        checking before expansion sees every violation at a third of the rows.
        """
        if self._violations is None:
            with self._timed("integrity"):
                self._violations = integrity.check(self.c1z.conn, self.writer.sync_id) \
                    if self.options.integrity_check else []
            for v in self._violations:
                log.warning("integrity: %s", v.describe())
        return self._violations

    def _expansion(self) -> None:
        self._check_integrity()
        self._close_reads()  # lets expansion leave WAL mode for its bulk writes (see expand_store.rollback_journal)
        from pybaton.sync import expand  # type: ignore[attr-defined,unused-ignore]

        self.progress.phase("expansion")
        expand.expand_sync(self.c1z, self.writer, self.state.expansion, max_depth=self.options.expansion_max_depth,
                           checkpoint=lambda: self._checkpoint_now(), progress=self.progress)

    # -- entitlements and grants ---------------------------------------------------------------

    @staticmethod
    def _skip_urls(kind: str) -> frozenset[str]:
        """Annotations (on a resource type or a resource) that opt out of collecting ``kind``."""
        both = annotation_resource_tree_pb2.SkipEntitlementsAndGrants
        only = annotation_resource_tree_pb2.SkipEntitlements if kind == "entitlements" \
            else annotation_resource_tree_pb2.SkipGrants
        return frozenset({ann.type_url(both), ann.type_url(only)})

    def _skipped_types(self, kind: str) -> set[str]:
        urls = self._skip_urls(kind)
        return {t for t, s in self._syncers.items() if any(a.type_url in urls for a in s.resource_type.annotations)}

    def _scan(self, kind: str, pages: Callable[[ResourceSyncer, resource_pb2.Resource, str, threading.Event],
                                               Iterator[PageResult]]) -> None:
        total = self._reads().execute("select count(*) from v1_resources where sync_id = ?",
                                      (self.writer.sync_id,)).fetchone()[0]
        self.progress.phase(kind, total)
        tracker = ScanTracker(self.state.scan)

        def fetch(task: ScanTask, stop: threading.Event) -> Iterator[PageResult]:
            syncer, res = task.payload
            for page in pages(syncer, res, task.start_token, stop):
                yield PageResult(task.rowid, page.items, page.next_token)
            self.progress.advance(1)

        def accept(page: PageResult) -> None:
            self._add(kind, page.items)

        if kind == "grants" and self._scan_in_child():
            self._scan_grants_forked(pages, tracker)
            return
        run_scan(self._scan_tasks(kind), fetch, tracker, self.options.workers, accept)

    def _scan_in_child(self) -> bool:
        """Collect grants in a forked child (see :mod:`pybaton.sync.forked`): one worker, and a connector
        that is pure computation (with workers, threads already overlap a slow API's waits)."""
        return self.options.workers <= 1 and self.connector.fork_safe and forked.available()

    def _scan_grants_forked(self, pages: Callable[[ResourceSyncer, resource_pb2.Resource, str, threading.Event],
                                                  Iterator[PageResult]], tracker: ScanTracker) -> None:
        """The grant scan with the connector's calls and the rows built in a child; inserts stay here."""
        def fetch_rows(task: ScanTask, stop: threading.Event) -> Iterator[PageResult]:
            type_id, blob = task.payload
            res = resource_pb2.Resource.FromString(blob)
            for page in pages(self._syncers[type_id], res, task.start_token, stop):
                yield PageResult(task.rowid, self.writer.grant_rows(page.items), page.next_token)

        def accept(page: PageResult) -> None:
            self._add("grant_rows", page.items)

        tasks = (ScanTask(t.rowid, t.start_token, (t.payload[1].id.resource_type, t.payload[1].SerializeToString()))
                 for t in self._scan_tasks("grants"))
        self._wait_for_commit()  # nothing of the database's in flight while the child is forked
        forked.run_scan_forked(tasks, fetch_rows, tracker, accept, lambda _rowid: self.progress.advance(1))

    def _scan_tasks(self, kind: str) -> Iterator[ScanTask]:
        scan = self.state.scan
        done = set(scan.done)
        after = scan.watermark
        skip_urls = self._skip_urls(kind)
        skip_types = self._skipped_types(kind)
        while True:
            rows = self._reads().execute(
                "select id, resource_type_id, data from v1_resources where sync_id = ? and id > ? order by id limit ?",
                (self.writer.sync_id, after, _RESOURCE_BATCH)).fetchall()
            if not rows:
                return
            for rowid, type_id, blob in rows:
                after = rowid
                if rowid in done:
                    continue
                syncer = self._syncers.get(type_id)
                if syncer is None or type_id in skip_types:
                    continue
                res = resource_pb2.Resource.FromString(blob)
                if any(a.type_url in skip_urls for a in res.annotations):
                    continue
                yield ScanTask(rowid, scan.tokens.get(str(rowid), ""), (syncer, res))

    def _paged(self, call: Callable[[PageToken], Page[Any]], start: str, stop: threading.Event,
               what: str) -> Iterator[PageResult]:
        token = start
        seen: set[str] = set()
        while not stop.is_set():
            page_token = PageToken(token, self.page_size)
            page: Page[Any] = call_with_retry(lambda pt=page_token: call(pt),  # type: ignore[misc]
                                              what=what, policy=self.options.retry, on_not_found=Page)
            self._check_token(seen, token, page.next_token, what)
            yield PageResult(0, list(page.items), page.next_token)
            if not page.next_token:
                return
            token = page.next_token

    def _entitlement_pages(self, syncer: ResourceSyncer, res: resource_pb2.Resource, start: str,
                           stop: threading.Event) -> Iterator[PageResult]:
        if not start and isinstance(syncer, StaticEntitlements):
            yield PageResult(0, [static_instance(t, res) for t in syncer.static_entitlements()], "")
        what = f"entitlements of {res.id.resource_type}:{res.id.resource}"
        yield from self._paged(lambda pt: syncer.entitlements(res, pt), start, stop, what)

    def _grant_pages(self, syncer: ResourceSyncer, res: resource_pb2.Resource, start: str,
                     stop: threading.Event) -> Iterator[PageResult]:
        what = f"grants of {res.id.resource_type}:{res.id.resource}"
        yield from self._paged(lambda pt: syncer.grants(res, pt), start, stop, what)

    # -- targeted sync -------------------------------------------------------------------------

    def _targeted(self) -> None:
        self.progress.phase("targeted resources", len(self.options.sync_resources))
        for ref in self.options.sync_resources:
            rtype, rid = split_resource_ref(ref)
            syncer = self._syncers.get(rtype)
            if syncer is None:
                raise UserError(f"--sync-resources {ref}: unknown resource type {rtype!r}")
            if not isinstance(syncer, ResourceGetter):
                raise UserError(f"--sync-resources {ref}: the connector cannot fetch single {rtype} resources")
            res = call_with_retry(lambda s=syncer, r=rtype, i=rid: s.get(resource_pb2.ResourceId(  # type: ignore[misc]
                resource_type=r, resource=i)), what=f"get {ref}", policy=self.options.retry, on_not_found=lambda: None)
            if res is None:
                log.warning("--sync-resources %s: not found", ref)
                continue
            self._wait_for_commit()
            self.writer.put_resource_types([syncer.resource_type])
            self._add("resources", [res])
            if not self.options.skip_entitlements_and_grants:
                never = threading.Event()
                for page in self._entitlement_pages(syncer, res, "", never):
                    self._add("entitlements", page.items)
                if not self.options.skip_grants:
                    for page in self._grant_pages(syncer, res, "", never):
                        self._add("grants", page.items)
            self.progress.advance(1)
        self._flush(force=True)

    # -- buffering -----------------------------------------------------------------------------

    def _add(self, kind: str, items: Sequence[Any]) -> None:
        if self._buffer_kind != kind and self._buffer:
            self._flush(force=True)
        self._buffer_kind = kind
        self._buffer.extend(items)
        self._flush()

    def _flush(self, force: bool = False) -> None:
        """Commit buffered rows with the checkpoint that covers them.

        Routine flushes are handed to the committer thread; forced ones (phase
        boundaries, explicit checkpoints) wait until everything is on disk.
        """
        due = len(self._buffer) >= self.options.batch_rows or \
            time.monotonic() - self._last_flush >= self.options.checkpoint_seconds
        if not (force or due):
            return
        items, kind = self._buffer, self._buffer_kind
        self._buffer = []
        token = self.state.to_token()
        assert self._committer is not None
        self._committer.submit(lambda: self._commit(kind, items, token))
        self._last_flush = time.monotonic()
        if force:
            self._committer.wait()

    def _commit(self, kind: str, items: list[Any], token: str) -> None:
        put: dict[str, Callable[[Any], None]] = {
            "resources": self.writer.put_resources,
            "entitlements": self.writer.put_entitlements,
            "grants": self.writer.put_grants,
            "grant_rows": self.writer.put_grant_rows,  # built by the scan's child (see _scan_grants_forked)
        }
        if items:
            put[kind](items)
        self.writer.checkpoint(token)

    def _wait_for_commit(self) -> None:
        if self._committer is not None:
            self._committer.wait()

    def _finish_commits(self) -> None:
        """Let an in-flight commit land (also on Ctrl-C), then stop the committer."""
        try:
            if self._committer is not None:
                self._committer.close()
        finally:
            self._close_reads()

    def _close_reads(self) -> None:
        if self._scan_conn is not None:
            self._scan_conn.close()
            self._scan_conn = None

    def _reads(self) -> sqlite3.Connection:
        """A second connection for reading committed rows while the committer writes."""
        if self._scan_conn is None:
            self._scan_conn = sqlite3.connect(self.c1z.db_path, check_same_thread=False)
        return self._scan_conn

    def _checkpoint_now(self) -> None:
        self._flush(force=True)


def _cpu_seconds() -> float:
    """CPU seconds of this process's threads and of its finished children (the forked grant scan)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


@contextlib.contextmanager
def _transaction(conn: Any) -> Iterator[None]:
    conn.execute("begin")
    try:
        yield
    except BaseException:
        conn.execute("rollback")
        raise
    conn.execute("commit")


__all__ = ["SyncEngine", "SyncResult", "sync", "work_dir_for"]
