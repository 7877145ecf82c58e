"""The kept working database (``pybaton.c1z.workdb``): reused while it equals the ``.c1z``, dropped otherwise.

An incremental sync keeps ``<file>.wip/db.sqlite`` with a manifest; the next run opens it instead of
unpacking, and packs only the slices that changed. A replaced file or a touched database is never
reused; a run killed with -9 around the save and the manifest converges on the next run.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import signal
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from incremental_support import assert_same_as_full, listing
from test_incremental import demo
from test_incremental import run_sync as demo_sync

from pybaton.c1z import container, file, frames, workdb
from pybaton.connectors.demo import changelog
from pybaton.sync import SyncOptions, work_dir_for

INCREMENTAL = SyncOptions(incremental=True)


def run_sync(data_dir: Path, path: Path, options: SyncOptions | None = INCREMENTAL) -> Any:
    return demo_sync(data_dir, path, options)


def add_user(data_dir: Path, n: int) -> None:
    """A change in the demo system, made as an admin would (plain SQL)."""
    with sqlite3.connect(data_dir / "acme.sqlite", isolation_level=None) as db:
        uid = f"kept.user{n}"
        db.execute("insert into users values (?, ?, ?, 'Eng', null, 'Engineer', null, ?, 'enabled', 'human', "
                   "'2026-01-01T00:00:00+00:00')", (uid, f"Kept {n}", f"{uid}@acme.test", f"K{n}"))
        db.execute("insert into access (resource_type, resource_id, slug, principal_type, principal_id) "
                   "select 'group', id, 'member', 'user', ? from groups order by id limit 1", (uid,))
    db.close()


def expire_cursor(data_dir: Path) -> None:
    """Make the demo's change log forget the cursor, so the next incremental run falls back to a full one;
    with ``keep_syncs=1`` that drops the previous full run, and the save packs a vacuumed copy (an in-place
    compaction alone drops no full run and does not vacuum)."""
    with sqlite3.connect(data_dir / "acme.sqlite", isolation_level=None) as db:
        changelog.trim(db, int(changelog.head(db)))
    db.close()


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A seeded demo database, copied by each test."""
    root = tmp_path_factory.mktemp("seeded")
    run_sync(root / "acme", root / "seed.c1z", SyncOptions())  # the demo seeds its database on first use
    return root / "acme"


@pytest.fixture
def world(seeded: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """The demo system and its first sync (an incremental one, which falls back to full: it keeps its
    database). Small slices, so that the demo's file packs into many frames."""
    monkeypatch.setenv("PYBATON_C1Z_FRAME_BYTES", str(64 << 10))
    shutil.copytree(seeded, tmp_path / "acme")
    run_sync(tmp_path / "acme", tmp_path / "sync.c1z")
    return tmp_path / "acme", tmp_path / "sync.c1z"


class Spy:
    """Counts a sync's unpacks of its working copy (what a kept database saves) and records the frame
    table each pack was allowed to build on."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.unpacks = 0
        self.bases: list[frames.FrameTable | None] = []
        unpack, pack = file._unpack_into, container.pack

        def unpack_spy(*args: Any) -> None:
            self.unpacks += 1
            unpack(*args)

        def pack_spy(*args: Any, previous: frames.FrameTable | None = None, **kwargs: Any) -> frames.FrameTable:
            self.bases.append(previous)
            return pack(*args, previous=previous, **kwargs)

        monkeypatch.setattr(file, "_unpack_into", unpack_spy)
        monkeypatch.setattr(container, "pack", pack_spy)

    def sync(self, data_dir: Path, path: Path) -> None:
        self.unpacks, self.bases = 0, []
        run_sync(data_dir, path)


def same_as_full(data_dir: Path, path: Path, scratch: Path) -> None:
    assert_same_as_full(lambda: demo(data_dir), path, scratch)


def test_an_incremental_sync_keeps_its_working_database_clean(world: tuple[Path, Path]) -> None:
    _, path = world
    workdir = work_dir_for(path)
    manifest = workdb.load_manifest(workdir)
    assert manifest is not None and not (workdir / workdb.DIRTY).exists()
    assert manifest.frames.identity == frames.FileIdentity.of(path)
    assert manifest.db == frames.FileIdentity.of(workdir / workdb.DB_NAME)


def test_a_full_sync_or_keeping_turned_off_leaves_no_working_database(
        world: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data_dir, path = world
    run_sync(data_dir, path, SyncOptions())
    assert not work_dir_for(path).exists()
    monkeypatch.setenv("PYBATON_KEEP_WORKDB", "0")
    other = tmp_path / "other.c1z"
    run_sync(data_dir, other)
    assert other.exists() and not work_dir_for(other).exists()


def test_the_next_run_reuses_the_kept_database_and_packs_only_changes(
        world: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    data_dir, path = world
    spy = Spy(monkeypatch)
    for n in range(3):
        add_user(data_dir, n)
        manifest = workdb.load_manifest(work_dir_for(path))
        assert manifest is not None
        with caplog.at_level(logging.DEBUG, logger="pybaton.c1z"):
            spy.sync(data_dir, path)
        assert "reusing the kept working database" in caplog.text
        assert spy.unpacks == 0 and spy.bases == [manifest.frames]
        caplog.clear()
        same_as_full(data_dir, path, tmp_path)
    workdir = work_dir_for(path)
    manifest = workdb.load_manifest(workdir)
    assert manifest is not None and manifest.frames.identity == frames.FileIdentity.of(path)


def test_the_kept_database_after_a_vacuumed_save_is_the_packed_copy(world: tuple[Path, Path], tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs dropped by ``keep_syncs`` are packed from a ``VACUUM INTO`` copy; that copy, with no byte of the
    dropped rows, becomes the kept database, so no later pack can carry them back."""
    data_dir, path = world
    add_user(data_dir, 1)
    expire_cursor(data_dir)
    vacuumed: list[Path] = []
    pack_vacuumed = file.C1ZFile._pack_vacuumed

    def spy(self: file.C1ZFile, target: Path, base: frames.FrameTable | None) -> frames.FrameTable:
        vacuumed.append(target)
        return pack_vacuumed(self, target, base)

    monkeypatch.setattr(file.C1ZFile, "_pack_vacuumed", spy)
    run_sync(data_dir, path, SyncOptions(incremental=True, keep_syncs=1))
    assert vacuumed == [path], "the save did not pack a vacuumed copy"
    kept = work_dir_for(path) / workdb.DB_NAME
    container.unpack(path, tmp_path / "unpacked.sqlite")
    assert kept.read_bytes() == (tmp_path / "unpacked.sqlite").read_bytes()
    assert not (work_dir_for(path) / workdb.VACUUMED).exists()


@pytest.mark.parametrize("how", ["replaced", "touched database", "dirty from another file"])
def test_a_kept_database_that_no_longer_matches_is_dropped(
        world: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture, how: str) -> None:
    data_dir, path = world
    workdir = work_dir_for(path)
    if how == "replaced":  # e.g. an older copy restored: same bytes, another file
        shutil.copy(path, tmp_path / "copy.c1z")
        os.replace(tmp_path / "copy.c1z", path)
    elif how == "touched database":
        with sqlite3.connect(workdir / workdb.DB_NAME) as db:
            db.execute("delete from v1_grants")
        db.close()
    else:  # an interrupted run's database, but the file was replaced after it
        (workdir / workdb.DIRTY).write_text('{"c1z": null}')
    before = frames.FileIdentity.of(path)
    kept = workdb.load_manifest(workdir)
    add_user(data_dir, 7)
    spy = Spy(monkeypatch)
    with caplog.at_level(logging.INFO, logger="pybaton.c1z"):
        spy.sync(data_dir, path)
    assert spy.unpacks == 1
    # The frames of the .c1z may still be copied when the .c1z itself is the one they describe.
    assert spy.bases == [kept.frames if kept is not None and kept.frames.identity == before else None]
    assert [r.getMessage() for r in caplog.records if "unpacking it afresh" in r.getMessage()] != []
    same_as_full(data_dir, path, tmp_path)


# -- kill -9 around the save and the manifest ------------------------------------------------------

KILL_POINTS = {
    # The working copy is marked dirty, nothing written yet.
    "after the dirty marker": (file.C1ZFile, "open", True),
    # The new .c1z is renamed in place, the manifest not yet written.
    "after the save, before the manifest": (workdb, "keep", False),
    # Inside keep: the vacuumed copy became the database, the manifest not yet written.
    "after the vacuumed copy replaced the database": (workdb, "_write_json", None),
}


def _child(data_dir: Path, path: Path, point: str, reached: Any) -> None:
    target, name, after = KILL_POINTS[point]
    original = getattr(target, name)

    def frozen(*args: Any, **kwargs: Any) -> Any:
        if after is None and Path(args[0]).name != workdb.MANIFEST:
            return original(*args, **kwargs)
        if after is False:
            reached.set()
            signal.pause()
        result = original(*args, **kwargs) if after else None
        reached.set()
        signal.pause()
        return result

    setattr(target, name, frozen)
    expire_cursor(data_dir)  # a full run is dropped: the save packs a vacuumed copy
    run_sync(data_dir, path, SyncOptions(incremental=True, keep_syncs=1))


@pytest.mark.parametrize("point", sorted(KILL_POINTS))
def test_kill_9_around_the_kept_database_converges(point: str, world: tuple[Path, Path], tmp_path: Path) -> None:
    data_dir, path = world
    add_user(data_dir, 3)
    ctx = multiprocessing.get_context("fork")
    reached = ctx.Event()
    proc = ctx.Process(target=_child, args=(data_dir, path, point, reached), daemon=True)
    proc.start()
    assert reached.wait(120), f"the child never reached {point}"
    assert proc.pid is not None
    os.kill(proc.pid, signal.SIGKILL)
    proc.join()
    workdir = work_dir_for(path)
    assert (workdir / workdb.DIRTY).exists()  # never clean before the manifest is written
    seen = listing(path)  # what a reader sees is whatever the .c1z holds
    add_user(data_dir, 4)
    run_sync(data_dir, path)
    same_as_full(data_dir, path, tmp_path)
    assert listing(path) != seen
    manifest = workdb.load_manifest(workdir)
    assert manifest is not None and manifest.frames.identity == frames.FileIdentity.of(path)
    assert not (workdir / workdb.DIRTY).exists()
