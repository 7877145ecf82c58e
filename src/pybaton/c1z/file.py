"""An open ``.c1z``: a private SQLite working copy, and where to pack it back.

Readers unpack into a throw-away temp directory. Writers may name a durable
*work directory* instead (the sync engine uses ``<file>.wip/``): everything
committed there survives ``kill -9``, which is what resume builds on; ``save``
packs it atomically over the target, and only then is the work directory removed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from pybaton.c1z import cache, container, schema, syncs
from pybaton.c1z.syncs import SyncRun
from pybaton.errors import C1ZError, C1ZFormatError, SyncNotFoundError

if TYPE_CHECKING:
    from pybaton.c1z.frames import FrameTable

DB_NAME = "db.sqlite"


@contextlib.contextmanager
def sqlite_errors(path: Path | str) -> Iterator[None]:
    """Turn SQLite's errors about a damaged database into one clear line.

    A damaged schema can make SQLite's own message carry bytes that are not UTF-8 (a
    garbled table name quoted back): that is the same damage, said without the message.
    """
    try:
        yield
    except sqlite3.DatabaseError as exc:
        raise C1ZFormatError(f"{path}: the database inside is damaged or not a .c1z ({exc})") from None
    except UnicodeDecodeError:
        raise C1ZFormatError(f"{path}: the database inside is damaged or not a .c1z (its schema is garbled)") from None


def _journal_mode(*, durable: bool) -> str:
    """The journal of a writable working copy.

    A durable one (a sync's ``.wip``, resumed after a kill) runs in WAL mode: committed work
    survives, and the sync engine reads committed rows on a second connection while its
    committer writes. A throw-away copy (in our own temp directory, nobody resumes it or reads
    it beside us) keeps a rollback journal instead: WAL writes every page twice (log, then
    checkpoint), which is a fifth of the cost of bulk-loading a million grants. A rollback
    journal still survives a kill and still rolls back a failed statement.
    """
    return "wal" if durable else "truncate"


def connect(db_path: Path | str, *, writable: bool, durable: bool = True, timeout: float = 5.0) -> sqlite3.Connection:
    """A connection to an unpacked working copy, set up as every opener of one needs it
    (journal by durability, see :func:`_journal_mode`; trusted schema off)."""
    conn = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False, timeout=timeout)
    conn.execute("pragma trusted_schema = off")
    if writable:
        conn.execute(f"pragma journal_mode = {_journal_mode(durable=durable)}")
        conn.execute("pragma synchronous = off")
        conn.execute("pragma cache_size = -131072")
        conn.execute("pragma temp_store = file")
    else:
        conn.execute("pragma cache_size = -65536")
        conn.execute("pragma mmap_size = 1073741824")
    return conn


def _unpack_into(path: Path, db_path: Path, limits: container.DecodeLimits | None) -> None:
    """Unpack beside ``db_path`` and rename into place: a kill mid-unpack never leaves a
    half-written database that a later run would mistake for an interrupted sync."""
    partial = db_path.with_name(db_path.name + ".unpacking")
    try:
        container.unpack(path, partial, limits)
        os.replace(partial, db_path)
    finally:
        partial.unlink(missing_ok=True)


def _prepare(conn: sqlite3.Connection, path: Path, *, writable: bool) -> None:
    """Validate an unpacked database and bring an older layout up to date (our copy only)."""
    _validate(conn, path)
    with sqlite_errors(path):
        schema.migrate(conn, indexes=writable)
        if writable:
            syncs.settle_grants_backfilled(conn)


def _validate(conn: sqlite3.Connection, path: Path) -> None:
    """Refuse databases that are not plain Baton tables (hostile or foreign files)."""
    with sqlite_errors(path):
        rows = conn.execute("select type, name from sqlite_master").fetchall()
    kinds = {name: kind for kind, name in rows}
    active = [name for kind, name in rows if kind in ("trigger", "view")]
    if active:
        raise C1ZFormatError(f"{path}: the database defines triggers or views ({', '.join(sorted(active))}); "
                             "a .c1z never does, refusing to open it")
    for table in ("v1_resource_types", "v1_resources", "v1_entitlements", "v1_grants", "v1_sync_runs"):
        if kinds.get(table) != "table":
            raise C1ZFormatError(f"{path}: not a Baton .c1z (table {table} is missing)")


class C1ZFile:
    """One open ``.c1z``. Use :meth:`open` / :meth:`create`, and close (or ``with``)."""

    def __init__(self, path: Path, db_path: Path, conn: sqlite3.Connection, *, writable: bool,
                 workdir: Path, owns_workdir: bool) -> None:
        self.path = path
        self.db_path = db_path
        self.conn = conn
        self.writable = writable
        self._workdir = workdir
        self._owns_workdir = owns_workdir
        self._closed = False
        self._pending: list[tuple[Callable[[], None], Callable[[], None]]] = []
        # The frame table of the packed file as it is now, when the working copy descends from it
        # (a kept working database, see pybaton.c1z.workdb): saving then recompresses only changed slices.
        self.pack_base: FrameTable | None = None
        # The frame table of what the last save wrote.
        self.last_pack: FrameTable | None = None

    @property
    def durable(self) -> bool:
        """The working copy outlives this process (a named work directory, e.g. a sync's ``.wip``)."""
        return not self._owns_workdir

    def before_save(self, finish: Callable[[], None], abort: Callable[[], None]) -> None:
        """Register work still landing in the working copy: ``finish`` runs before a save (and may
        raise), ``abort`` at close."""
        self._pending.append((finish, abort))

    # -- opening -------------------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | Path, *, writable: bool = False, create: bool = False,
             workdir: str | Path | None = None,
             limits: container.DecodeLimits | None = None) -> C1ZFile:
        """Open ``path``. With ``create``, a missing file starts empty.

        With ``workdir`` and an existing working database inside it (left by an
        interrupted run), that database is used as is: the packed file is older.
        Read-only opens of large files go through the unpacked-file cache.
        """
        path = Path(path)
        if not writable and create:
            raise ValueError("create needs writable")
        if not writable and workdir is None:
            cached = cls._open_cached(path, limits)
            if cached is not None:
                return cached
        owns = workdir is None
        wd = Path(tempfile.mkdtemp(prefix="pybaton-c1z-")) if workdir is None else Path(workdir)
        wd.mkdir(parents=True, exist_ok=True)
        db_path = wd / DB_NAME
        try:
            fresh = False
            if not (not owns and db_path.exists()):
                if path.exists():
                    _unpack_into(path, db_path, limits)
                elif create:
                    fresh = True
                else:
                    raise C1ZError(f"{path}: no such file")
            with sqlite_errors(path):
                conn = connect(db_path, writable=writable or fresh, durable=not owns)
            if fresh:
                schema.create(conn)
            else:
                _prepare(conn, path, writable=writable)
            if not writable:
                conn.execute("pragma query_only = on")
            return cls(path, db_path, conn, writable=writable, workdir=wd, owns_workdir=owns)
        except BaseException:
            if owns:
                shutil.rmtree(wd, ignore_errors=True)
            raise

    @classmethod
    def _open_cached(cls, path: Path, limits: container.DecodeLimits | None) -> C1ZFile | None:
        if not cache.enabled():
            return None
        key = cache.key_for(path)
        if key is None:
            return None
        entry = cache.lookup(key)
        if entry is None:
            container.check_magic(path, container.sniff(path))
            staged = cache.staging_path(key)
            try:
                container.unpack(path, staged, limits)
                with sqlite_errors(path):
                    conn = connect(staged, writable=False)
                try:
                    _prepare(conn, path, writable=False)
                    with sqlite_errors(path):
                        conn.execute("pragma journal_mode = delete")
                finally:
                    conn.close()
                entry = cache.publish(staged, key)
            except BaseException:
                for leftover in (staged, Path(f"{staged}-wal"), Path(f"{staged}-shm")):
                    leftover.unlink(missing_ok=True)
                raise
        conn = sqlite3.connect(f"file:{entry}?mode=ro", uri=True, isolation_level=None, check_same_thread=False)
        conn.execute("pragma trusted_schema = off")
        conn.execute("pragma query_only = on")
        conn.execute("pragma mmap_size = 1073741824")
        return cls(path, entry, conn, writable=False, workdir=entry.parent, owns_workdir=False)

    @classmethod
    def create(cls, path: str | Path, *, workdir: str | Path | None = None) -> C1ZFile:
        """Open ``path`` for writing, starting an empty file when it does not exist."""
        return cls.open(path, writable=True, create=True, workdir=workdir)

    # -- sync runs -----------------------------------------------------------------------------

    def sync_runs(self) -> list[SyncRun]:
        with sqlite_errors(self.path):
            return syncs.list_runs(self.conn)

    def resolve_sync(self, sync_id: str | None = None, *, sync_type: str | None = "full") -> SyncRun:
        """The run a reader should show: ``sync_id`` if given, else the latest finished one."""
        with sqlite_errors(self.path):
            if sync_id:
                return syncs.get_run(self.conn, sync_id)
            run = syncs.latest_finished(self.conn, sync_type)
            if run is None and sync_type:
                run = syncs.latest_finished(self.conn, None)
        if run is None:
            raise SyncNotFoundError(f"{self.path}: the file holds no finished sync")
        return run

    def previous_sync(self, run: SyncRun) -> SyncRun | None:
        with sqlite_errors(self.path):
            return syncs.previous_finished(self.conn, run, run.sync_type)

    # -- closing -------------------------------------------------------------------------------

    def save(self, path: str | Path | None = None, *, vacuum: bool = False) -> Path:
        """Pack the working copy into ``path`` (default: where it was opened), atomically.

        With ``vacuum`` (rows were deleted), what is packed is a fresh copy of the live rows
        (``VACUUM INTO``): no byte of a deleted row, no free page, reaches the ``.c1z``. It
        costs about half a VACUUM in place, which writes the whole database through the WAL
        and back; the working copy itself stays as it is.
        """
        if not self.writable:
            raise C1ZError(f"{self.path}: opened read-only")
        target = Path(path) if path is not None else self.path
        for finish, _ in self._pending:
            finish()
        base = self.pack_base if target.absolute() == self.path.absolute() else None
        if vacuum:
            self.last_pack = self._pack_vacuumed(target, base)
            return target
        mode = self.conn.execute("pragma journal_mode").fetchone()[0]
        if mode == "wal":
            self.conn.execute("pragma wal_checkpoint(truncate)")
            self.conn.execute("pragma journal_mode = delete")
        try:
            self.last_pack = container.pack(self.db_path, target, previous=base)
        finally:
            if mode == "wal":
                self.conn.execute("pragma journal_mode = wal")
        return target

    def _pack_vacuumed(self, target: Path, base: FrameTable | None) -> FrameTable:
        """Pack a ``VACUUM INTO`` copy. A durable working copy keeps it beside the database
        (``db.sqlite.vacuumed``), for :func:`pybaton.c1z.workdb.keep` to put in its place."""
        fresh = self._workdir / (DB_NAME + ".vacuumed")
        fresh.unlink(missing_ok=True)
        packed = False
        try:
            with sqlite_errors(self.path):
                self.conn.execute("vacuum into ?", (str(fresh),))
                # The copy carries the working copy's WAL mark; a .c1z holds a rollback-journal database.
                copy = sqlite3.connect(fresh, isolation_level=None)
                try:
                    copy.execute("pragma journal_mode = delete")
                finally:
                    copy.close()
            table = container.pack(fresh, target, previous=base)
            packed = True
            return table
        finally:
            if not (packed and self.durable):
                fresh.unlink(missing_ok=True)

    def close(self, *, discard_workdir: bool | None = None) -> None:
        """Close; remove the working copy if we own it (or if told to)."""
        if self._closed:
            return
        self._closed = True
        pending, self._pending = self._pending, []
        for _, abort in pending:
            abort()
        self.conn.close()
        discard = self._owns_workdir if discard_workdir is None else discard_workdir
        if discard and (self._owns_workdir or self.writable):
            shutil.rmtree(self._workdir, ignore_errors=True)

    def __enter__(self) -> C1ZFile:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
