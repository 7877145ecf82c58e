"""Copy a whole sync run between files, row for row, blobs untouched.

Used to merge a run produced elsewhere (an external connector's file) into a
target file, and by round-trip checks: no message is re-encoded, so bytes
written by Go stay exactly as Go wrote them.
"""

from __future__ import annotations

from pybaton.c1z import syncs
from pybaton.c1z.file import C1ZFile, sqlite_errors
from pybaton.errors import C1ZError

_TABLE_COLUMNS: dict[str, str] = {
    "v1_resource_types": "external_id, data, sync_id, discovered_at",
    "v1_resources": "resource_type_id, external_id, parent_resource_type_id, parent_resource_id, data, sync_id, "
                    "discovered_at",
    "v1_entitlements": "resource_type_id, resource_id, external_id, data, sync_id, discovered_at",
    "v1_grants": "resource_type_id, resource_id, entitlement_id, principal_resource_type_id, principal_resource_id, "
                 "external_id, expansion, needs_expansion, data, sync_id, discovered_at",
    "v1_assets": "external_id, content_type, data, sync_id, discovered_at",
    "v1_connector_sessions": "sync_id, key, value",
}
_RUN_COLUMNS = ("sync_id, started_at, ended_at, sync_token, sync_type, parent_sync_id, linked_sync_id, "
                "supports_diff, grants_backfilled, stats, ingest_invariant_generation, "
                "ingest_invariant_coverage, ingest_invariant_mode")


def copy_sync(src: C1ZFile, dst: C1ZFile, sync_id: str) -> str:
    """Copy run ``sync_id`` of ``src`` into ``dst`` (which must not already hold it)."""
    if not dst.writable:
        raise C1ZError(f"{dst.path}: opened read-only")
    syncs.get_run(src.conn, sync_id)
    if any(run.sync_id == sync_id for run in dst.sync_runs()):
        raise C1ZError(f"{dst.path}: already holds sync {sync_id}")
    conn = dst.conn
    with sqlite_errors(src.path):
        conn.execute("attach database ? as src", (str(src.db_path),))
        try:
            conn.execute("begin")
            conn.execute(f"insert into main.v1_sync_runs ({_RUN_COLUMNS}) select {_RUN_COLUMNS} "
                         "from src.v1_sync_runs where sync_id = ?", (sync_id,))
            present = {row[0] for row in conn.execute("select name from src.sqlite_master where type = 'table'")}
            for table, columns in _TABLE_COLUMNS.items():
                if table not in present:
                    continue  # older SDKs had no such table
                conn.execute(f"insert into main.{table} ({columns}) select {columns} from src.{table} "
                             "where sync_id = ? order by id", (sync_id,))
            conn.execute("commit")
        except BaseException:
            conn.execute("rollback")
            raise
        finally:
            conn.execute("detach database src")
    return sync_id
