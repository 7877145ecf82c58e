"""``sync --incremental`` on the demo connector: changes compacted onto the last full run.

After every change the compacted full run must list exactly what a fresh full
sync of the same state lists; an impossible incremental sync is a full sync
said in one line; a run killed with -9 anywhere leaves the file and its cursor
as they were and the next run converges.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import re
import shutil
import signal
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from incremental_support import (
    COMPACTED_RUNS,
    NestedWorld,
    WorldConnector,
    differences,
    listing,
    run_types,
    sync_once,
)
from incremental_support import assert_same_as_full as same_as_full

from pybaton.c1z import C1ZFile, SyncReader, container
from pybaton.connectors.demo import DemoConfig, DemoConnector
from pybaton.connectors.scale import ScaleConfig, ScaleConnector
from pybaton.sync import SyncOptions, expand_incremental, inplace, integrity, sync
from pybaton.sync import incremental as inc
from pybaton.sync.incremental import saved_cursors

INCREMENTAL = SyncOptions(incremental=True)
GO_TIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{9}$")


def demo(data_dir: Path) -> DemoConnector:
    return DemoConnector(DemoConfig(data_dir=data_dir))  # type: ignore[call-arg]


def run_sync(data_dir: Path, path: Path, options: SyncOptions | None = None) -> Any:
    connector = demo(data_dir)
    try:
        return sync(connector, path, options)
    finally:
        connector.close()


class DemoSystem:
    """The demo database as the "system" being changed (plain SQL, as an admin would)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.db = sqlite3.connect(data_dir / "acme.sqlite", isolation_level=None, timeout=30)

    def ids(self, table: str) -> list[str]:
        return [r[0] for r in self.db.execute(f"select id from {table} order by id")]

    def pick(self, table: str, n: int) -> str | None:
        ids = self.ids(table)
        return ids[n % len(ids)] if ids else None

    def add_user(self, n: int) -> None:
        uid = f"new.user{n}"
        self.db.execute("insert or ignore into users values (?, ?, ?, 'Eng', null, 'Engineer', null, ?, "
                        "'enabled', 'human', '2026-01-01T00:00:00+00:00')", (uid, f"New {n}", f"{uid}@acme.test",
                                                                             f"E{n}"))

    def delete(self, table: str, rtype: str, n: int, *, keep_access: bool = False) -> None:
        """Delete a row and what names it; ``keep_access`` leaves its grants (dangling references)."""
        rid = self.pick(table, n)
        if rid is None:
            return
        self.db.execute("begin")
        self.db.execute(f"delete from {table} where id = ?", (rid,))
        if not keep_access:
            self.db.execute("delete from access where (resource_type = ? and resource_id = ?) "
                            "or (principal_type = ? and principal_id = ?)", (rtype, rid, rtype, rid))
        self.db.execute("update users set manager_id = null where manager_id = ?", (rid,))
        self.db.execute("delete from api_keys where owner_id = ? or created_by_id = ?", (rid, rid))
        self.db.execute("commit")

    def rename(self, table: str, n: int) -> None:
        rid = self.pick(table, n)
        self.db.execute(f"update {table} set display_name = display_name || ' (renamed)' where id = ?", (rid,))

    def move_project(self, n: int) -> None:
        pid, app = self.pick("projects", n), self.pick("apps", n // 7)
        self.db.execute("update projects set app_id = ? where id = ?", (app, pid))

    def add_group(self, n: int) -> None:
        self.db.execute("insert or ignore into groups values (?, ?, 'new')", (f"new-group{n}", f"New group {n}"))

    def add_member(self, n: int, nested: bool) -> None:
        group = self.pick("groups", n)
        member = self.pick("groups", n // 3) if nested else self.pick("users", n // 3)
        if group is None or member is None:
            return
        self.db.execute("insert or ignore into access (resource_type, resource_id, slug, principal_type, "
                        "principal_id) values ('group', ?, 'member', ?, ?)",
                        (group, "group" if nested else "user", member))

    def remove_member(self, n: int, nested: bool) -> None:
        rows = self.db.execute("select seq from access where resource_type = 'group' and principal_type = ? "
                               "order by seq", ("group" if nested else "user",)).fetchall()
        if rows:
            self.db.execute("delete from access where seq = ?", (rows[n % len(rows)][0],))

    def close(self) -> None:
        self.db.close()


OPERATIONS: dict[str, Callable[[DemoSystem, int], None]] = {
    "add user": DemoSystem.add_user,
    "delete user": lambda s, n: s.delete("users", "user", n),
    "delete user, grants left dangling": lambda s, n: s.delete("users", "user", n, keep_access=True),
    "rename user": lambda s, n: s.rename("users", n),
    "add group": DemoSystem.add_group,
    "delete group": lambda s, n: s.delete("groups", "group", n),
    "rename group": lambda s, n: s.rename("groups", n),
    "move project": DemoSystem.move_project,
    "add member": lambda s, n: s.add_member(n, nested=False),
    "remove member": lambda s, n: s.remove_member(n, nested=False),
    "nest group": lambda s, n: s.add_member(n, nested=True),
    "unnest group": lambda s, n: s.remove_member(n, nested=True),
}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A seeded demo database and its first full sync, copied by each test."""
    root = tmp_path_factory.mktemp("seeded")
    run_sync(root / "acme", root / "base.c1z")
    return root / "acme", root / "base.c1z"


def fresh_copy(seeded: tuple[Path, Path], where: Path) -> tuple[DemoSystem, Path]:
    shutil.rmtree(where, ignore_errors=True)
    where.mkdir(parents=True)
    shutil.copytree(seeded[0], where / "acme")
    shutil.copy(seeded[1], where / "sync.c1z")
    return DemoSystem(where / "acme"), where / "sync.c1z"


def findings(violations: list[integrity.Violation]) -> list[tuple[str, int, frozenset[str]]]:
    """What an integrity check found; the examples (the first five rows in row order) compared as a set when
    they are all the rows (the order of rows differs between a compacted run and a fresh one)."""
    return [(v.kind, v.count, frozenset(v.examples) if v.count <= len(v.examples) else frozenset())
            for v in violations]


def assert_same_as_full(system: DemoSystem, path: Path, scratch: Path) -> None:
    same_as_full(lambda: demo(system.data_dir), path, scratch)


@pytest.fixture
def world(seeded: tuple[Path, Path], tmp_path: Path) -> Iterator[tuple[DemoSystem, Path]]:
    system, path = fresh_copy(seeded, tmp_path / "w")
    yield system, path
    system.close()


def test_incremental_writes_baton_runs_and_equals_a_full_sync(world: tuple[DemoSystem, Path],
                                                             tmp_path: Path) -> None:
    system, path = world
    system.rename("users", 3)
    system.add_member(5, nested=True)
    system.remove_member(2, nested=False)
    system.delete("groups", "group", 1)
    with C1ZFile.open(path) as c1z:
        cursors_before = saved_cursors(c1z.resolve_sync())
    result = run_sync(system.data_dir, path, INCREMENTAL)
    # Compacted in place: the full run keeps its id, the diff pair names it as its parent.
    assert run_types(path)[-3:] == COMPACTED_RUNS
    with C1ZFile.open(path) as c1z:
        runs = c1z.sync_runs()
        assert {r.parent_sync_id for r in runs[1:3]} == {runs[0].sync_id}
        assert result.sync_id == runs[0].sync_id == c1z.resolve_sync().sync_id
        # The counts carried forward by difference are what counting the compacted run gives.
        counted = SyncReader(c1z, runs[0]).stats()
        assert runs[0].stats == counted == result.stats
        assert json.dumps(runs[0].stats) == json.dumps(counted)  # in the same order too
        deleted = {r[0] for r in c1z.conn.execute("select external_id from v1_resources where sync_id = ?",
                                                  (runs[2].sync_id,))}
        upserted_users = {r[0] for r in c1z.conn.execute(
            "select external_id from v1_resources where sync_id = ? and resource_type_id = 'user'",
            (runs[1].sync_id,))}
        assert saved_cursors(runs[0]) and saved_cursors(runs[0]) != cursors_before
    assert len(deleted) == 1 and next(iter(deleted)).startswith("group:")
    assert upserted_users == {f"user:{system.pick('users', 3)}"}  # only what changed was asked for
    assert_same_as_full(system, path, tmp_path)


def test_nothing_changed_gives_the_same_full_run(world: tuple[DemoSystem, Path], tmp_path: Path) -> None:
    system, path = world
    before = listing(path)
    run_sync(system.data_dir, path, INCREMENTAL)
    assert differences(listing(path), before) == []


def test_consecutive_incremental_runs_start_from_the_last_cursor(world: tuple[DemoSystem, Path],
                                                                tmp_path: Path) -> None:
    system, path = world
    for step in range(3):
        system.add_user(step)
        system.add_member(step * 11, nested=False)
        run_sync(system.data_dir, path, INCREMENTAL)
        assert_same_as_full(system, path, tmp_path)
    # One full run compacted in place; of its diff pairs the newest keep_syncs - 1 stay (BATON_KEEP_SYNC_COUNT
    # is 2), the older ones dropped with every row.
    with C1ZFile.open(path) as c1z:
        runs = c1z.sync_runs()
        left = {r[0] for t in ("v1_resources", "v1_entitlements", "v1_grants")
                for r in c1z.conn.execute(f"select distinct sync_id from {t}")}
    assert [r.sync_type for r in runs] == ["full", "partial_upserts", "partial_deletions"]
    assert runs[1].parent_sync_id == runs[2].parent_sync_id == runs[0].sync_id
    assert left <= {r.sync_id for r in runs}


def _grants(path: Path) -> dict[str, bytes]:
    """Every grant row of the file, any run: external id -> stored bytes."""
    with C1ZFile.open(path) as c1z:
        return {r[0]: bytes(r[1]) for r in c1z.conn.execute("select external_id, data from v1_grants")}


def test_a_dropped_full_run_leaves_no_bytes_of_incremental_changes_in_the_file(world: tuple[DemoSystem, Path],
                                                                               tmp_path: Path) -> None:
    """When ``keep_syncs`` drops a full run (here the one compacted in place, with its diff pair), no row an
    incremental sync removed stays behind in the packed ``.c1z`` (the database inside is a vacuumed copy),
    not even in free pages or in the unused space of live ones. (Steady-state incremental runs do not vacuum:
    until a full run is dropped or free pages pass a quarter of the file, removed rows may stay in free
    pages; docs/incremental.md.)"""
    system, path = world
    before = _grants(path)
    system.delete("users", "user", 4)
    system.remove_member(3, nested=False)
    run_sync(system.data_dir, path, INCREMENTAL)
    system.add_user(1)
    run_sync(system.data_dir, path)
    run_sync(system.data_dir, path)  # drops the full run compacted in place and its diff runs
    after = _grants(path)
    gone = {gid: blob for gid, blob in before.items() if gid not in after}
    # Ids that are no prefix or part of a surviving id, so finding their bytes means a leftover row.
    unique = {gid: blob for gid, blob in gone.items() if not any(gid in other for other in after)}
    assert unique, "the changes removed no grant"
    db = tmp_path / "unpacked.sqlite"
    container.unpack(path, db)
    with sqlite3.connect(db) as conn:
        free_pages = conn.execute("pragma freelist_count").fetchone()[0]
    raw = db.read_bytes()
    assert free_pages == 0
    leftovers = [gid for gid, blob in unique.items() if gid.encode() in raw or blob in raw]
    assert leftovers == []
    assert_same_as_full(system, path, tmp_path)


def test_a_dangling_reference_made_by_an_incremental_change_is_reported(world: tuple[DemoSystem, Path],
                                                                         tmp_path: Path) -> None:
    """A user deleted from the system while a group still lists its membership: the compacted run's grant names
    a principal that is gone. The check by difference (only the rows the compaction touched) reports what a
    full check of the compacted run and a fresh full sync report."""
    system, path = world
    member = system.db.execute("select principal_id from access where resource_type = 'group' and "
                               "principal_type = 'user' order by seq").fetchone()[0]
    system.db.execute("delete from users where id = ?", (member,))  # its access rows stay: a dangling grant
    result = run_sync(system.data_dir, path, INCREMENTAL)
    full = run_sync(system.data_dir, tmp_path / "fresh.c1z")
    found = findings(result.integrity)
    assert found == findings(full.integrity)
    assert found[0][0] == "grant_without_principal" and all(member in e for e in found[0][2])
    # The run is no longer clean: the next incremental sync checks it whole, and still finds it.
    system.add_user(3)
    again = run_sync(system.data_dir, path, INCREMENTAL)
    assert findings(again.integrity) == found


def test_last_changes_names_what_the_last_incremental_run_touched(world: tuple[DemoSystem, Path]) -> None:
    """``reconcile --watch`` plans for these: the newest diff pair folded into the latest full run; after a full
    read there is none (everyone is concerned)."""
    system, path = world
    with C1ZFile.open(path) as c1z:
        assert inc.last_changes(c1z.conn) is None
    system.rename("users", 3)
    run_sync(system.data_dir, path, INCREMENTAL)
    with C1ZFile.open(path) as c1z:
        assert inc.last_changes(c1z.conn) == {f"user:{system.pick('users', 3)}"}
    run_sync(system.data_dir, path, INCREMENTAL)  # nothing changed since
    with C1ZFile.open(path) as c1z:
        assert inc.last_changes(c1z.conn) == set()
    run_sync(system.data_dir, path)
    with C1ZFile.open(path) as c1z:
        assert inc.last_changes(c1z.conn) is None


@pytest.mark.parametrize("why", ["no previous full sync", "the change cursor expired", "cannot list changes"])
def test_impossible_incremental_is_a_full_sync_said_in_one_line(why: str, world: tuple[DemoSystem, Path],
                                                                tmp_path: Path,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    system, path = world
    caplog.set_level(logging.WARNING, logger="pybaton.sync")
    if why == "no previous full sync":
        path = tmp_path / "new.c1z"
        run_sync(system.data_dir, path, INCREMENTAL)
    elif why == "the change cursor expired":
        system.add_user(1)
        system.db.execute("delete from changelog")
        system.db.execute("insert into changelog_floor values (1, 1000000)")
        run_sync(system.data_dir, path, INCREMENTAL)
    else:
        path = tmp_path / "scale.c1z"
        config = ScaleConfig(users=20, groups=4, grants=40)  # type: ignore[call-arg]
        sync(ScaleConnector(config), path)
        sync(ScaleConnector(config), path, INCREMENTAL)
    lines = [r.getMessage() for r in caplog.records if "incremental sync" in r.getMessage()]
    assert len(lines) == 1 and why in lines[0] and "doing a full sync" in lines[0], lines
    assert "\n" not in lines[0]
    assert run_types(path)[-1] == ("full", True)
    assert "partial_upserts" not in {t for t, _ in run_types(path)}


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(st.tuples(st.sampled_from(sorted(OPERATIONS)), st.integers(0, 10_000)),
                         min_size=1, max_size=3), min_size=1, max_size=3))
def test_random_changes_incremental_equals_fresh_full(seeded: tuple[Path, Path], tmp_path: Path,
                                                      steps: list[list[tuple[str, int]]]) -> None:
    system, path = fresh_copy(seeded, tmp_path / "prop")
    try:
        for step in steps:
            for name, n in step:
                OPERATIONS[name](system, n)
            result = run_sync(system.data_dir, path, INCREMENTAL)
            assert_same_as_full(system, path, tmp_path / "prop")
            full = run_sync(system.data_dir, tmp_path / "prop" / "fresh-full.c1z")
            assert findings(result.integrity) == findings(full.integrity)
    finally:
        system.close()


# -- kill -9 --------------------------------------------------------------------------------------

KILL_POINTS = {
    "after the upserts": (inc, "IncrementalSync", "_write_upserts"),
    "during compaction": (inc, "", "compact"),
    # Inside the in-place compaction's transaction, after the diff was folded into the previous full run.
    "inside the in-place compaction": (inplace, "", "apply_diff"),
    # Inside the incremental expansion's transaction, after one destination's derived grants are written.
    "during incremental expansion": (expand_incremental, "_Expansion", "_destination"),
    "after expansion, before the runs finish": (inc, "IncrementalSync", "_finish"),
}


def _child(data_dir: Path, path: Path, point: str, reached: Any) -> None:
    """Run an incremental sync that freezes at ``point`` (after doing that step's work) to be killed."""
    module, owner, name = KILL_POINTS[point]
    target: Any = getattr(module, owner) if owner else module
    original = getattr(target, name)

    def frozen(*args: Any, **kwargs: Any) -> Any:
        if name != "_finish":
            original(*args, **kwargs)
        reached.set()
        signal.pause()

    setattr(target, name, frozen)
    run_sync(data_dir, path, INCREMENTAL)


@pytest.mark.parametrize("point", sorted(KILL_POINTS))
def test_kill_9_anywhere_keeps_the_cursor_and_converges(point: str, world: tuple[DemoSystem, Path],
                                                         tmp_path: Path) -> None:
    system, path = world
    system.rename("groups", 2)
    system.remove_member(4, nested=True)
    system.add_user(9)
    before = path.read_bytes()
    ctx = multiprocessing.get_context("fork")
    reached = ctx.Event()
    proc = ctx.Process(target=_child, args=(system.data_dir, path, point, reached), daemon=True)
    proc.start()
    assert reached.wait(120), f"the child never reached {point}"
    assert proc.pid is not None
    os.kill(proc.pid, signal.SIGKILL)
    proc.join()
    assert path.read_bytes() == before  # nothing visible, the saved cursor not advanced
    assert (path.parent / (path.name + ".wip")).exists()
    run_sync(system.data_dir, path, INCREMENTAL)
    assert run_types(path)[-3:] == COMPACTED_RUNS
    assert_same_as_full(system, path, tmp_path)


def test_cli_incremental_flag(world: tuple[DemoSystem, Path], cli: Any) -> None:
    system, path = world
    system.add_member(7, nested=False)
    first = cli("sync", "demo", "-f", path, "--data-dir", system.data_dir, "--incremental", "--log-level", "warn")
    assert first.code == 0, first.err
    assert first.out.startswith("incremental sync (") and "of demo finished" in first.out
    fresh = path.parent / "other.c1z"
    second = cli("sync", "demo", "-f", fresh, "--data-dir", system.data_dir, "--incremental", "--log-level", "warn")
    assert second.code == 0
    warnings = [line for line in second.err.splitlines() if "incremental sync" in line]
    assert len(warnings) == 1 and "no previous full sync in the file; doing a full sync" in warnings[0]
    assert second.out.startswith("sync of demo finished")


# -- incremental grant expansion: nested groups, cycles, shallow and type-filtered edges ----------------


def _pick(world: NestedWorld, rtype: str, n: int) -> str:
    ids = world.ids(rtype)
    return ids[n % len(ids)] if ids else f"{rtype[0]}{n % 9}"


def _principal(world: NestedWorld, n: int) -> tuple[str, str]:
    rtype = ("user", "svc", "group")[n % 3]
    return rtype, _pick(world, rtype, n // 3)


WORLD_OPERATIONS: dict[str, Callable[[NestedWorld, int], None]] = {
    "add user": lambda w, n: w.add("user", f"u{n % 12}"),
    "add svc": lambda w, n: w.add_svc(f"s{n % 5}", _pick(w, "group", n // 5)),
    "move svc": lambda w, n: w.move(_pick(w, "svc", n), _pick(w, "group", n // 5)),
    "add group": lambda w, n: w.add("group", f"g{n % 9}"),
    "delete principal": lambda w, n: w.delete(*_principal(w, n)),
    "rename": lambda w, n: w.rename(*_principal(w, n)),
    "join": lambda w, n: w.join(_pick(w, "group", n), _principal(w, n // 9)),
    "leave": lambda w, n: w.leave(*sorted(w.members)[n % len(w.members)]) if w.members else None,
    "nest": lambda w, n: w.nest(_pick(w, "group", n), _pick(w, "group", n // 9), False, ()),
    "nest shallow": lambda w, n: w.nest(_pick(w, "group", n), _pick(w, "group", n // 9), True, ()),
    "nest users only": lambda w, n: w.nest(_pick(w, "group", n), _pick(w, "group", n // 9), False, ("user",)),
    "unnest": lambda w, n: w.unnest(*sorted(w.edges)[n % len(w.edges)]) if w.edges else None,
}


def _seed_world() -> NestedWorld:
    """A chain g0 <- g1 <- g2 <- g3 with a cycle g3 -> g1, members on each level, an unrelated group g4, and a
    service account of g4 that is a member of g2 (so its derived grants embed its parent)."""
    world = NestedWorld()
    for i in range(8):
        world.add("user", f"u{i}")
    for g in range(5):
        world.add("group", f"g{g}")
    world.add_svc("s0", "g4")
    for g in range(5):
        world.join(f"g{g}", ("user", f"u{g}"))
        world.join(f"g{g}", ("user", f"u{g + 3}"))
    world.join("g2", ("svc", "s0"))
    for child, parent in (("g1", "g0"), ("g2", "g1"), ("g3", "g2"), ("g1", "g3")):
        world.nest(child, parent, False, ())
    return world


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(st.tuples(st.sampled_from(sorted(WORLD_OPERATIONS)), st.integers(0, 10_000)),
                         min_size=1, max_size=4), min_size=1, max_size=4))
def test_random_nesting_changes_expand_incrementally_as_a_full_sync(tmp_path: Path,
                                                                   steps: list[list[tuple[str, int]]]) -> None:
    world = _seed_world()
    where = tmp_path / "nested"
    shutil.rmtree(where, ignore_errors=True)
    where.mkdir()
    path = where / "sync.c1z"
    sync_once(lambda: WorldConnector(world), path, incremental=False)
    for step in steps:
        for name, n in step:
            WORLD_OPERATIONS[name](world, n)
        sync_once(lambda: WorldConnector(world), path, incremental=True)
        assert run_types(path)[-3:] == COMPACTED_RUNS
        same_as_full(lambda: WorldConnector(world), path, where)


def test_a_removed_nested_membership_removes_only_what_depended_on_it(tmp_path: Path) -> None:
    """u2 reaches g0 through g2 -> g1 -> g0; removing it from g2 takes exactly its derived grants away."""
    world = _seed_world()
    path = tmp_path / "sync.c1z"
    sync_once(lambda: WorldConnector(world), path, incremental=False)
    before = {gid for gid, _ in listing(path)["v1_grants"]}
    world.leave("g2", ("user", "u2"))
    sync_once(lambda: WorldConnector(world), path, incremental=True)
    after = {gid for gid, _ in listing(path)["v1_grants"]}
    # g2 feeds g1, g1 feeds g0 and g3, g3 feeds g1 (the cycle): u2 held all four member entitlements.
    assert before - after == {f"group:g{g}:member:user:u2" for g in range(4)}
    assert after - before == set()
    same_as_full(lambda: WorldConnector(world), path, tmp_path)


# -- what Go reads: the sync-run rows of an incremental sync ------------------------------------------

GO_V025_DEMO = Path(__file__).parent / "fixtures" / "demo-v0.25-sqlite.c1z"
_RUN_COLUMNS = ("sync_type", "parent_sync_id", "linked_sync_id", "supports_diff", "grants_backfilled",
                "ingest_invariant_generation", "ingest_invariant_coverage", "ingest_invariant_mode")


def _run_rows(path: Path) -> list[dict[str, Any]]:
    with C1ZFile.open(path) as c1z:
        c1z.conn.row_factory = sqlite3.Row
        return [dict(r) for r in c1z.conn.execute("select * from v1_sync_runs order by id")]


def test_incremental_runs_are_the_rows_go_writes(world: tuple[DemoSystem, Path], cli: Any) -> None:
    """The compacted run (the previous full run, compacted in place: same sync id, ended again) is a full run as
    Go's syncer ends one (compared with a Go-written file, column by column); the diff pair is as baton-sdk
    v0.25's ``GenerateSyncDiff`` writes it (``insertSyncRunWithLink``: parent = the full run it applies to,
    ``linked_sync_id`` naming each other, ``grants_backfilled = 1``, no ``supports_diff``, an empty token, then
    ``endSyncRun``); ``syncs`` lists the three with their types."""
    system, path = world
    system.add_member(3, nested=True)
    system.remove_member(2, nested=False)
    (before,) = _run_rows(path)
    run_sync(system.data_dir, path, INCREMENTAL)
    compacted, upserts, deletions = _run_rows(path)
    base = compacted
    assert (compacted["sync_id"], compacted["started_at"]) == (before["sync_id"], before["started_at"])
    assert compacted["ended_at"] > before["ended_at"]
    with C1ZFile.open(GO_V025_DEMO) as go:
        go.conn.row_factory = sqlite3.Row
        go_full = dict(go.conn.execute("select * from v1_sync_runs where ended_at is not null").fetchone())
    for ours in (before, compacted):
        assert list(ours) == list(go_full)
        assert {c: ours[c] for c in _RUN_COLUMNS} == {c: go_full[c] for c in _RUN_COLUMNS}
    for diff, kind, other in ((upserts, "partial_upserts", deletions), (deletions, "partial_deletions", upserts)):
        assert (diff["sync_type"], diff["parent_sync_id"], diff["linked_sync_id"]) == (kind, base["sync_id"],
                                                                                     other["sync_id"])
        assert (diff["supports_diff"], diff["grants_backfilled"], diff["sync_token"]) == (0, 1, "")
        assert (diff["ingest_invariant_generation"], diff["ingest_invariant_mode"]) == ("", "")
        assert GO_TIME.match(diff["started_at"]) and GO_TIME.match(diff["ended_at"])
        with C1ZFile.open(path) as c1z:  # the stored counts are what counting the run gives
            counted = SyncReader(c1z, c1z.resolve_sync(diff["sync_id"])).stats()
        assert json.loads(diff["stats"]) == counted
    assert json.loads(upserts["stats"])["grants"] > 0 and json.loads(deletions["stats"])["grants"] > 0
    # Go reads the latest finished sync by ended_at: the compacted full run, not one of the diff runs.
    assert compacted["ended_at"] > max(upserts["ended_at"], deletions["ended_at"])
    listed = cli("-f", path, "-o", "json", "syncs")
    assert listed.code == 0, listed.err
    rows = json.loads(listed.out)["syncs"]
    assert [(r["id"], r["syncType"], r.get("parentSyncId", "")) for r in rows] == [
        (base["sync_id"], "full", ""), (upserts["sync_id"], "partial_upserts", base["sync_id"]),
        (deletions["sync_id"], "partial_deletions", base["sync_id"])]
    # Each entry has the keys Go's `baton syncs -o json` gives a full run (its fixture), diff runs one more.
    go_listed = json.loads((Path(__file__).parent / "fixtures" / "demo-two-syncs.syncs.json").read_text())
    go_keys = set(go_listed["syncs"][0])
    assert set(rows[0]) == go_keys
    assert set(rows[1]) == set(rows[2]) == go_keys - {"syncToken"} | {"parentSyncId"}


def test_a_change_outside_the_nesting_re_expands_nothing_else(tmp_path: Path,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    """g4 feeds no other group: a member leaving it affects g4 alone, and the chain's derived grants stay."""
    world = _seed_world()
    path = tmp_path / "sync.c1z"
    sync_once(lambda: WorldConnector(world), path, incremental=False)
    world.leave("g4", ("user", "u4"))
    caplog.set_level(logging.INFO, logger="pybaton.sync.expand")
    sync_once(lambda: WorldConnector(world), path, incremental=True)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("incremental grant expansion")]
    assert len(lines) == 1 and "1 changed entitlements, 1 affected, 0 destinations re-expanded" in lines[0], lines
    same_as_full(lambda: WorldConnector(world), path, tmp_path)


def test_a_moved_principal_gets_its_derived_grants_rewritten(tmp_path: Path) -> None:
    """s0 (in g2, so deriving g1, g0 and g3) moves from g4 to g0: its derived grants name the new parent."""
    world = _seed_world()
    path = tmp_path / "sync.c1z"
    sync_once(lambda: WorldConnector(world), path, incremental=False)
    before = dict(listing(path)["v1_grants"])
    world.move("s0", "g0")
    sync_once(lambda: WorldConnector(world), path, incremental=True)
    after = dict(listing(path)["v1_grants"])
    assert {k for k in after if before.get(k) != after[k]} >= {f"group:g{g}:member:svc:s0" for g in (0, 1, 3)}
    same_as_full(lambda: WorldConnector(world), path, tmp_path)
