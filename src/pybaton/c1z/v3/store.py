"""Open a v3 (Pebble) ``.c1z`` by materializing it in the v1 SQLite layout.

Every reader of pybaton works on the v1 layout (``v1_*`` tables of protobuf
rows, :class:`pybaton.c1z.SyncReader`), so a v3 file is unpacked the way a v1
file is — into a working SQLite database, here written from the Pebble
tables instead of decompressed: payload → MANIFEST replay → merged tables →
records → the same rows Go's v1 writer produces, in key order (Go's v3 listing
order). A v3 file holds one sync. ``pybaton convert`` packs that database as
a v1 file.
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pybaton.c1z import schema
from pybaton.c1z.container import DecodeLimits
from pybaton.c1z.file import C1ZFile
from pybaton.c1z.v3 import envelope, keys, lsm, records
from pybaton.c1z.v3.merge import visible
from pybaton.c1z.v3.sstable import Table
from pybaton.c1z.v3.wire import Corrupt
from pybaton.c1z.writer import GrantRow, SyncWriter
from pybaton.errors import C1ZError, C1ZFormatError
from pybaton.pb.c1.c1z.v3 import manifest_pb2
from pybaton.pb.c1.storage.v3 import records_pb2

log = logging.getLogger(__name__)

MAX_BLOCK_BYTES = 64 << 20
_BATCH = 5000
_SYNC_TYPES: dict[int, str] = {records_pb2.SYNC_TYPE_FULL: "full", records_pb2.SYNC_TYPE_PARTIAL: "partial",
               records_pb2.SYNC_TYPE_RESOURCES_ONLY: "resources_only",
               records_pb2.SYNC_TYPE_PARTIAL_UPSERTS: "partial_upserts",
               records_pb2.SYNC_TYPE_PARTIAL_DELETIONS: "partial_deletions"}
_MARKER = "marker.manifest."


def materialize(path: Path, db_path: Path, limits: DecodeLimits | None = None) -> None:
    """Write the v1 SQLite database for the v3 file at ``path`` into ``db_path``."""
    limits = limits or DecodeLimits.from_env()
    payload = Path(tempfile.mkdtemp(prefix=".pybaton-v3-", dir=db_path.parent))
    try:
        with path.open("rb") as fh:
            env = envelope.read_envelope(fh, os.fstat(fh.fileno()).st_size)
            names = envelope.extract(fh, env, payload, limits)
        _write(path, env.manifest, payload, names, db_path)
    except Corrupt as exc:
        raise C1ZFormatError(f"{path}: v3 (Pebble) file: {exc}") from None
    except sqlite3.DatabaseError as exc:
        raise C1ZError(f"{path}: cannot write the working copy ({exc})") from None
    except OSError as exc:
        if isinstance(exc, C1ZError):
            raise
        raise C1ZError(f"{path}: cannot read: {exc.strerror or exc}") from None
    finally:
        shutil.rmtree(payload, ignore_errors=True)


def _current_manifest(names: list[str]) -> str:
    """The MANIFEST the ``marker.manifest.NNNNNN.MANIFEST-XXXXXX`` marker names (else the only one)."""
    markers = sorted(n for n in names if n.startswith(_MARKER))
    if markers:
        named = markers[-1].split(".", 3)[-1]
        if named not in names:
            raise Corrupt(f"the store's marker names {named}, which the payload does not hold")
        return named
    manifests = [n for n in names if n.startswith("MANIFEST-")]
    if len(manifests) != 1:
        raise Corrupt(f"the payload holds {len(manifests)} MANIFEST files and no marker naming one")
    return manifests[0]


def _open_tables(payload: Path, names: list[str]) -> list[tuple[Table, lsm.LiveTable]]:
    manifest = (payload / _current_manifest(names)).read_bytes()
    tables: list[tuple[Table, lsm.LiveTable]] = []
    try:
        for live in lsm.replay(manifest):
            if keys.only_internal(live.smallest_key, live.largest_key):
                continue  # secondary indexes and counters: nothing a reader lists
            if live.file_name not in names:
                raise Corrupt(f"the MANIFEST references {live.file_name}, which the payload does not hold")
            tables.append((Table(payload / live.file_name, live.file_name, MAX_BLOCK_BYTES,
                                 live.synthetic_seq), live))
    except BaseException:
        for table, _ in tables:
            table.close()
        raise
    return tables


def _write(path: Path, manifest: manifest_pb2.C1ZManifestV3, payload: Path, names: list[str],
           db_path: Path) -> None:
    tables = _open_tables(payload, names)
    conn = sqlite3.connect(db_path, isolation_level=None)
    try:
        conn.execute("pragma journal_mode = off")
        conn.execute("pragma synchronous = off")
        schema.create(conn)
        c1z = C1ZFile(path, db_path, conn, writable=True, workdir=db_path.parent, owns_workdir=False)
        _Loader(c1z, manifest).load(visible(tables))
        conn.execute("pragma journal_mode = delete")
    finally:
        conn.close()
        for table, _ in tables:
            table.close()


class _Loader:
    """Routes the merged records to the v1 tables as they stream by, a batch at a time.

    Rows are written under the manifest's sync id; the sync run record comes after the
    object records in key order, and if it names another id the rows are re-keyed.
    """

    _PROVISIONAL = "pybaton-v3-unnamed-sync"

    def __init__(self, c1z: C1ZFile, manifest: manifest_pb2.C1ZManifestV3) -> None:
        self.c1z = c1z
        self.manifest = manifest
        self.run: records_pb2.SyncRunRecord | None = None
        self.stats: records_pb2.SyncStatsRecord | None = None
        self.sync_id = manifest.sync_runs[0].sync_id if manifest.sync_runs else self._PROVISIONAL
        self.warned: set[int] = set()

    def load(self, entries: Iterator[tuple[bytes, bytes]]) -> None:
        writer = SyncWriter(self.c1z, self.sync_id)
        self._put_records(writer, self._records(entries))
        self._resolve_sync_id()
        self._put_run()

    def _records(self, entries: Iterator[tuple[bytes, bytes]]) -> Iterator[tuple[int, bytes]]:
        """The object records; the sync run and its stats are kept aside, the rest skipped."""
        for key, value in entries:
            kind = keys.key_type(key)
            if kind == keys.SYNC_RUN and len(key) == 2:
                self.run = records.parse(records_pb2.SyncRunRecord, value, "sync run")
            elif key == keys.STATS_KEY:
                self.stats = records.parse(records_pb2.SyncStatsRecord, value, "sync stats")
            elif kind in keys.RECORDS and kind != keys.SYNC_RUN:
                yield kind, value
            elif kind is None or (kind not in keys.INTERNAL and kind != keys.ENGINE_META
                                  and kind != keys.SYNC_RUN):
                self._warn_unknown(kind, key)

    def _warn_unknown(self, kind: int | None, key: bytes) -> None:
        marker = -1 if kind is None else kind
        if marker not in self.warned:
            self.warned.add(marker)
            log.warning("%s: skipping keys of unknown type %s (first: %r)", self.c1z.path,
                        "?" if kind is None else f"0x{kind:02x}", key[:40])

    def _resolve_sync_id(self) -> None:
        named = self.run.sync_id if self.run is not None and self.run.sync_id else None
        if named is None and self.sync_id == self._PROVISIONAL:
            raise Corrupt("the store holds no sync run")
        if named is not None and named != self.sync_id:
            for table in schema.TABLES:
                self.c1z.conn.execute(f"update {table} set sync_id = ? where sync_id = ?", (named, self.sync_id))
            self.sync_id = named

    def _put_records(self, writer: SyncWriter, pending: Iterator[tuple[int, bytes]]) -> None:
        grants: list[GrantRow] = []
        simple: dict[int, tuple[Callable[[bytes], Any], Callable[[list[Any]], None]]] = {
            keys.RESOURCE_TYPE: (records.resource_type, writer.put_resource_types),
            keys.RESOURCE: (records.resource, writer.put_resources),
            keys.ENTITLEMENT: (records.entitlement, writer.put_entitlements),
        }
        batches: dict[int, list[Any]] = {k: [] for k in simple}
        writer.begin_bulk_grants()
        for kind, value in pending:
            if kind == keys.GRANT:
                grants.append(self._grant_row(value))
                if len(grants) >= _BATCH:
                    writer.put_grant_rows(grants)
                    grants = []
            elif kind == keys.ASSET:
                asset_id, content_type, data = records.asset(value)
                writer.put_asset(asset_id, content_type, data)
            else:
                convert, put = simple[kind]
                batches[kind].append(convert(value))
                if len(batches[kind]) >= _BATCH:
                    put(batches[kind])
                    batches[kind] = []
        for kind, (_, put) in simple.items():
            if batches[kind]:
                put(batches[kind])
        if grants:
            writer.put_grant_rows(grants)
        writer.end_bulk_grants()

    def _grant_row(self, value: bytes) -> GrantRow:
        view = records.grant(value)
        g = view.grant
        rid = g.entitlement.resource.id
        pid = g.principal.id
        return (rid.resource_type, rid.resource, g.entitlement.id, pid.resource_type, pid.resource, g.id,
                view.expansion, 1 if view.needs_expansion else 0, g.SerializeToString(), self.sync_id,
                view.discovered_at)

    def _put_run(self) -> None:
        """The ``v1_sync_runs`` row, with the columns Go's v1 writer fills."""
        run = self.run or records_pb2.SyncRunRecord(sync_id=self.sync_id)
        summary = next((s for s in self.manifest.sync_runs if s.sync_id == self.sync_id), None)
        started = run.started_at if run.HasField("started_at") else (summary.started_at if summary else None)
        ended = run.ended_at if run.HasField("ended_at") else (
            summary.ended_at if summary and summary.HasField("ended_at") else None)
        stats = self.stats or (summary.stats if summary and summary.HasField("stats") else None)
        self.c1z.conn.execute(
            "insert into v1_sync_runs (sync_id, started_at, ended_at, sync_token, sync_type, parent_sync_id, "
            "linked_sync_id, supports_diff, grants_backfilled, stats, ingest_invariant_generation, "
            "ingest_invariant_coverage, ingest_invariant_mode) values (?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?)",
            (self.sync_id, records.timestamp_text(started) if started is not None else "",
             records.timestamp_text(ended) if ended is not None else None, run.sync_token,
             _SYNC_TYPES.get(int(run.type or (summary.type if summary else 0)), "full"), run.parent_sync_id,
             run.linked_sync_id, 1 if run.supports_diff else 0, stats_json(stats),
             run.ingest_invariant_generation, _json_list(list(run.ingest_invariant_coverage)),
             run.ingest_invariant_mode))


def _json_list(items: list[str]) -> str:
    import json

    return json.dumps(items, separators=(",", ":")) if items else ""


def stats_json(stats: records_pb2.SyncStatsRecord | None) -> str | None:
    """The stats column as Go's v1 writer stores it (snake_case JSON of reader.v2.SyncStats)."""
    import json

    if stats is None:
        return None
    out: dict[str, Any] = {"resource_types": stats.resource_types, "resources": stats.resources,
                           "entitlements": stats.entitlements, "grants": stats.grants}
    if stats.assets:
        out["assets"] = stats.assets
    maps = (("resources_by_resource_type", stats.resources_by_resource_type),
            ("grants_by_resource_type", stats.grants_by_entitlement_resource_type),
            ("entitlements_by_resource_type", stats.entitlements_by_resource_type),
            ("step_durations_ms", stats.step_durations_ms))
    for name, values in maps:
        if values:
            out[name] = dict(sorted(values.items()))
    if stats.connector_call_stats:
        out["connector_call_stats"] = {
            name: {field: value for field, value in (("count", s.count), ("total_ms", s.total_ms),
                                                     ("max_ms", s.max_ms), ("errors", s.errors),
                                                     ("timeouts", s.timeouts)) if value}
            for name, s in sorted(stats.connector_call_stats.items())}
    return json.dumps(out, separators=(",", ":"))
