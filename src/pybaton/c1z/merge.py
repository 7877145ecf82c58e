"""Copy a sync run from one ``.c1z`` into another, rows and blobs untouched.

An external connector (a Go ``baton-*`` binary, or one of ours in another
process) syncs into a file of its own; importing its run into the operator's
file makes it one more sync run there, readable, diffable and usable by
provisioning like a run of our own engine. Rows are copied by SQL inside
SQLite (``insert … select`` across an attached database), so the protobuf
``data`` blobs are never parsed or re-encoded; only ``sync_id`` changes, to a
fresh id, so importing never collides with a run the file already holds.
"""

from __future__ import annotations

from pathlib import Path

from pybaton.c1z import schema, syncs
from pybaton.c1z.file import C1ZFile, sqlite_errors
from pybaton.c1z.ksuid import new_ksuid
from pybaton.c1z.syncs import SyncRun
from pybaton.errors import C1ZError

# Tables whose rows belong to a run (v1_sync_runs itself is copied separately).
_RUN_TABLES = tuple(t for t in schema.TABLES if t != "v1_sync_runs")


def _shared_columns(target: C1ZFile, table: str) -> list[str]:
    """Columns both databases have (an older source lacks some), without the row id."""
    mine = schema.columns_of(target.conn, table)
    theirs = {row[1] for row in target.conn.execute(f"pragma src.table_info({table})")}
    return sorted((mine & theirs) - {"id", "sync_id"})


def _copy(target: C1ZFile, table: str, old_id: str, new_id: str) -> None:
    cols = ", ".join(_shared_columns(target, table))
    target.conn.execute(f"insert into main.{table} ({cols}, sync_id) select {cols}, ? from src.{table} "
                        "where sync_id = ? order by id", (new_id, old_id))


def copy_run(src: C1ZFile, dst: C1ZFile, sync_id: str, *, new_sync_id: str | None = None) -> str:
    """Copy run ``sync_id`` of ``src`` into ``dst`` (as ``new_sync_id``, default the same id)."""
    if not dst.writable:
        raise C1ZError(f"{dst.path}: opened read-only")
    syncs.get_run(src.conn, sync_id)
    target_id = new_sync_id or sync_id
    if any(run.sync_id == target_id for run in dst.sync_runs()):
        raise C1ZError(f"{dst.path}: already holds sync {target_id}")
    with sqlite_errors(dst.path):
        dst.conn.execute("attach database ? as src", (str(src.db_path),))
        try:
            present = {row[0] for row in dst.conn.execute("select name from src.sqlite_master where type = 'table'")}
            dst.conn.execute("begin")
            try:
                _copy(dst, "v1_sync_runs", sync_id, target_id)
                for table in _RUN_TABLES:
                    if table in present:  # older SDKs lack some tables
                        _copy(dst, table, sync_id, target_id)
                syncs.settle_grants_backfilled(dst.conn, target_id)
            except BaseException:
                dst.conn.execute("rollback")
                raise
            dst.conn.execute("commit")
        finally:
            dst.conn.execute("detach database src")
    return target_id


def prune_runs(target: C1ZFile, keep: int) -> int:
    """Keep the newest ``keep`` finished full runs; drop partial runs older than the oldest kept one.

    Partial runs (targeted re-reads after a write) only make sense on top of a
    full run that is still in the file, as in Go's cleanup. Returns the number
    of runs deleted (the caller decides whether to vacuum).
    """
    runs = [r for r in syncs.list_runs(target.conn) if r.finished]
    full = [r for r in runs if r.sync_type == "full"]
    doomed = full[: max(0, len(full) - keep)]
    kept = full[len(doomed):]
    if kept:
        oldest_start = kept[0].started_at
        doomed += [r for r in runs if r.sync_type != "full" and (r.ended_at or "") < oldest_start]
    # Diff runs (partial_upserts / partial_deletions) name the full run they apply to: they go with it.
    gone = {r.sync_id for r in doomed}
    doomed += [r for r in runs if r.parent_sync_id in gone and r.sync_id not in gone]
    for run in doomed:
        syncs.delete_run(target.conn, run.sync_id)
    return len(doomed)


def import_run(source: Path, target: Path, *, keep_full_runs: int | None = None) -> SyncRun:
    """Append the latest finished run of ``source`` to ``target`` (created if missing); return it."""
    with C1ZFile.open(source) as src:
        run = src.resolve_sync(sync_type=None)
        with C1ZFile.create(target) as dst:
            new_id = copy_run(src, dst, run.sync_id, new_sync_id=new_ksuid())
            pruned = 0
            if keep_full_runs is not None:
                with sqlite_errors(target):
                    dst.conn.execute("begin")
                    pruned = prune_runs(dst, keep_full_runs)
                    dst.conn.execute("commit")
            dst.save(vacuum=pruned > 0)  # no byte of a dropped run stays in the packed file
            return syncs.get_run(dst.conn, new_id)
