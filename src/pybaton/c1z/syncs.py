"""Sync runs: each ``.c1z`` holds several, one row each in ``v1_sync_runs``.

A run is *finished* once ``ended_at`` is set; readers default to the latest
finished ``full`` run, as Go's reader does. The ``sync_token`` column carries the
engine's checkpoint while a run is in progress, which is what makes resume work.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pybaton.c1z.ksuid import new_ksuid
from pybaton.errors import SyncNotFoundError

SYNC_TYPES = ("full", "partial", "resources_only", "partial_upserts", "partial_deletions")

_TIME_FORMATS = ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S")


def now_text() -> str:
    """The current UTC time in the layout Go writes (nanoseconds, no zone)."""
    now = dt.datetime.now(dt.UTC)
    return now.strftime("%Y-%m-%d %H:%M:%S.") + f"{now.microsecond:06d}000"


def parse_time(text: str | None) -> dt.datetime | None:
    """Parse Go's time text (up to nanoseconds, optional zone) as UTC."""
    if not text:
        return None
    text = str(text).strip().replace("Z", "")
    for suffix_sep in ("+", " +", " -"):
        idx = text.rfind(suffix_sep)
        if idx > 10:
            text = text[:idx].strip()
            break
    text = text.split(" UTC")[0]
    if "." in text:
        head, frac = text.split(".", 1)
        text = f"{head}.{frac[:6].ljust(6, '0')}"
    for fmt in _TIME_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).replace(tzinfo=dt.UTC)
        except ValueError:
            continue
    return None


def nanos_of(text: str | None) -> int:
    """The sub-second nanoseconds written in Go's time text (lost by ``datetime``)."""
    if not text or "." not in text:
        return 0
    frac = str(text).split(".", 1)[1]
    digits = "".join(ch for ch in frac if ch.isdigit())[:9]
    return int(digits.ljust(9, "0")) if digits else 0


@dataclass(frozen=True)
class SyncRun:
    sync_id: str
    started_at: str
    ended_at: str | None
    sync_token: str
    sync_type: str = "full"
    parent_sync_id: str = ""
    stats: Mapping[str, Any] | None = field(default=None)

    @property
    def finished(self) -> bool:
        return self.ended_at is not None


_COLUMNS = "sync_id, started_at, ended_at, sync_token, sync_type, parent_sync_id, stats"


def _row_to_run(row: tuple[Any, ...]) -> SyncRun:
    stats = None
    if row[6]:
        try:
            stats = json.loads(row[6])
        except ValueError:
            stats = None
    return SyncRun(sync_id=row[0], started_at=str(row[1]), ended_at=str(row[2]) if row[2] else None,
                   sync_token=row[3] or "", sync_type=row[4] or "full", parent_sync_id=row[5] or "",
                   stats=stats)


def list_runs(conn: sqlite3.Connection) -> list[SyncRun]:
    return [_row_to_run(r) for r in conn.execute(f"select {_COLUMNS} from v1_sync_runs order by id")]


def get_run(conn: sqlite3.Connection, sync_id: str) -> SyncRun:
    row = conn.execute(f"select {_COLUMNS} from v1_sync_runs where sync_id = ?", (sync_id,)).fetchone()
    if row is None:
        raise SyncNotFoundError(f"sync {sync_id!r} not found in the file")
    return _row_to_run(row)


def latest_finished(conn: sqlite3.Connection, sync_type: str | None = "full") -> SyncRun | None:
    where = "ended_at is not null"
    args: tuple[str, ...] = ()
    if sync_type:
        where += " and sync_type = ?"
        args = (sync_type,)
    row = conn.execute(
        f"select {_COLUMNS} from v1_sync_runs where {where} order by ended_at desc, id desc limit 1", args
    ).fetchone()
    return _row_to_run(row) if row else None


def previous_finished(conn: sqlite3.Connection, before: SyncRun, sync_type: str = "full") -> SyncRun | None:
    row = conn.execute(
        f"select {_COLUMNS} from v1_sync_runs where ended_at is not null and sync_type = ? "
        "and sync_id != ? and ended_at <= ? order by ended_at desc, id desc limit 1",
        (sync_type, before.sync_id, before.ended_at or ""),
    ).fetchone()
    return _row_to_run(row) if row else None


def latest_unfinished(conn: sqlite3.Connection) -> SyncRun | None:
    row = conn.execute(
        f"select {_COLUMNS} from v1_sync_runs where ended_at is null order by started_at desc, id desc limit 1"
    ).fetchone()
    return _row_to_run(row) if row else None


def start_run(conn: sqlite3.Connection, sync_type: str = "full", parent_sync_id: str = "") -> SyncRun:
    if sync_type not in SYNC_TYPES:
        raise ValueError(f"unknown sync type {sync_type!r}")
    sync_id = new_ksuid()
    started = now_text()
    # Go's writer marks a new run ``grants_backfilled = 1``: its grant rows are written in the
    # current shape (GrantExpandable in the ``expansion`` column), so Go never re-backfills them.
    conn.execute(
        "insert into v1_sync_runs (sync_id, started_at, sync_token, sync_type, parent_sync_id, supports_diff, "
        "grants_backfilled) values (?, ?, '', ?, ?, 1, 1)",
        (sync_id, started, sync_type, parent_sync_id),
    )
    return SyncRun(sync_id=sync_id, started_at=started, ended_at=None, sync_token="", sync_type=sync_type,
                   parent_sync_id=parent_sync_id)


def checkpoint(conn: sqlite3.Connection, sync_id: str, token: str) -> None:
    conn.execute("update v1_sync_runs set sync_token = ? where sync_id = ?", (token, sync_id))


def end_run(conn: sqlite3.Connection, sync_id: str, stats: Mapping[str, Any] | None = None) -> None:
    conn.execute(
        "update v1_sync_runs set ended_at = ?, stats = ? where sync_id = ? and ended_at is null",
        (now_text(), json.dumps(stats, separators=(",", ":")) if stats is not None else None, sync_id),
    )


# Go's ingest-invariant provenance (v0.25): the verifier contract's generation, the invariants
# that ran and the verdict policy. A SQLite connector sync covers exclusion-group validation (I5)
# and the drain of every scheduled page (I10).
INGEST_INVARIANT_GENERATION = "1"
INGEST_INVARIANT_COVERAGE = ("I5", "I10")
INGEST_INVARIANT_MODE = "connector"


def mark_ingest_verified(conn: sqlite3.Connection, sync_id: str) -> None:
    """Record that a finished run passed the ingest invariants, as Go's syncer does after ``EndSync``.

    Only a finished run carries the marker (an unfinished one may still change).
    """
    conn.execute(
        "update v1_sync_runs set ingest_invariant_generation = ?, ingest_invariant_coverage = ?, "
        "ingest_invariant_mode = ? where sync_id = ? and ended_at is not null",
        (INGEST_INVARIANT_GENERATION, json.dumps(list(INGEST_INVARIANT_COVERAGE), separators=(",", ":")),
         INGEST_INVARIANT_MODE, sync_id),
    )


_EXPANDABLE_TYPE_URL = b"type.googleapis.com/c1.connector.v2.GrantExpandable"


def settle_grants_backfilled(conn: sqlite3.Connection, sync_id: str | None = None) -> int:
    """Mark runs ``grants_backfilled = 1`` when Go's backfill would find nothing to move; return how many.

    Go's backfill moves a ``GrantExpandable`` annotation out of each grant blob
    whose ``expansion`` column is null, on every open of a file with a pending
    run (seconds per million grants). A run none of whose such blobs mentions
    the annotation is already in the backfilled shape (files our earlier
    versions wrote); a run that needs the move is left for Go to do.
    """
    where, args = ("and sync_id = ?", (sync_id,)) if sync_id else ("", ())
    pending = [row[0] for row in conn.execute(
        f"select sync_id from v1_sync_runs where grants_backfilled = 0 {where}", args)]
    settled = 0
    for sid in pending:
        needs_move = conn.execute(
            "select 1 from v1_grants where sync_id = ? and expansion is null and instr(data, ?) > 0 limit 1",
            (sid, _EXPANDABLE_TYPE_URL)).fetchone()
        if needs_move is None:
            conn.execute("update v1_sync_runs set grants_backfilled = 1 where sync_id = ?", (sid,))
            settled += 1
    return settled


def delete_run(conn: sqlite3.Connection, sync_id: str) -> None:
    for table in ("v1_resource_types", "v1_resources", "v1_entitlements", "v1_grants", "v1_assets",
                  "v1_connector_sessions", "v1_sync_runs"):
        conn.execute(f"delete from {table} where sync_id = ?", (sync_id,))
