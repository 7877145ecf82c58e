"""Loading one sync run of one system from its ``.c1z`` into the warehouse, atomically.

The whole load is one transaction: the sync's rows are written next to the
system's other syncs, the new sync becomes the current one, and syncs beyond
``keep_syncs`` are pruned — then it commits. A reader sees the system before
the load or after it, never half of it; a file that turns out to be corrupt
half-way, an error or a ``kill -9`` rolls everything back, and the warehouse is
exactly as it was. Loading a sync the warehouse already holds does nothing.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from google.protobuf.message import DecodeError
from sqlalchemy import Connection, Engine, delete, insert, select, update

from pybaton.c1z import C1ZFile, SyncReader, SyncRun
from pybaton.c1z.syncs import parse_time
from pybaton.errors import C1ZError, C1ZFormatError, WarehouseLoadError
from pybaton.pb.c1.connector.v2 import grant_pb2, resource_pb2
from pybaton.warehouse import schema as s
from pybaton.warehouse.bulk import Row, write_rows
from pybaton.warehouse.engine import write_transaction

VIA_SEPARATOR = ", "


@dataclass(frozen=True)
class LoadResult:
    """What one load did: ``loaded`` is False when the warehouse already held that sync."""

    system: str
    sync_id: str
    loaded: bool
    seconds: float = 0.0
    grants: int = 0
    pruned: tuple[str, ...] = ()


def _naive_utc(text: str | None) -> dt.datetime | None:
    when = parse_time(text)
    return when.replace(tzinfo=None) if when is not None else None


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _is_loaded(conn: Connection, system: str, sync_id: str) -> bool:
    query = (select(s.syncs.c.sync_pk).join(s.systems, s.systems.c.system_id == s.syncs.c.system_id)
             .where(s.systems.c.name == system, s.syncs.c.sync_id == sync_id))
    return conn.execute(query).first() is not None


def _system_id(conn: Connection, system: str, identity_provider: bool) -> int:
    found = conn.execute(select(s.systems.c.system_id).where(s.systems.c.name == system)).scalar()
    if found is not None:
        conn.execute(update(s.systems).where(s.systems.c.system_id == found)
                     .values(identity_provider=identity_provider))
        return int(found)
    result = conn.execute(insert(s.systems).values(name=system, identity_provider=identity_provider))
    assert result.inserted_primary_key is not None
    return int(result.inserted_primary_key[0])


# -- rows ----------------------------------------------------------------------------------------


def _resource_type_rows(reader: SyncReader, sync_pk: int) -> Iterator[Row]:
    for seq, rt in enumerate(reader.resource_types()):
        traits = ",".join(resource_pb2.ResourceType.Trait.Name(t).removeprefix("TRAIT_").lower() for t in rt.traits)
        yield sync_pk, rt.id, rt.display_name, traits, rt.SerializeToString(), seq


def _resource_rows(reader: SyncReader, sync_pk: int) -> Iterator[Row]:
    for res in reader.resources():
        parent = res.parent_resource_id if res.HasField("parent_resource_id") else None
        yield (sync_pk, res.id.resource_type, res.id.resource, res.display_name,
               parent.resource_type if parent else None, parent.resource if parent else None,
               res.SerializeToString())


def _entitlement_rows(reader: SyncReader, sync_pk: int) -> Iterator[Row]:
    for ent in reader.entitlements():
        rid = ent.resource.id
        yield sync_pk, ent.id, rid.resource_type, rid.resource, ent.slug, ent.display_name, ent.SerializeToString()


GRANT_BATCH = 50_000


# A serialized Grant's ``sources`` field (number 5, length-delimited) starts with this tag byte. A grant
# without it in its bytes has no sources (held directly) and is not decoded at all; one with the byte
# somewhere (maybe inside a string) is decoded to be sure.
_SOURCES_TAG = b"\x2a"


def _sources(grant_id: str, entitlement_id: str, data: bytes) -> tuple[bool, tuple[str, ...]]:
    """(held directly, the entitlements it comes through), Baton's reading of the grant's sources."""
    if _SOURCES_TAG not in data:
        return True, ()
    try:
        sources = grant_pb2.Grant.FromString(data).sources.sources
    except DecodeError as exc:
        raise C1ZFormatError(f"grant {grant_id}: corrupt protobuf data ({exc})") from None
    via = tuple(sorted(key for key in sources if key != entitlement_id))
    return len(sources) == 0 or entitlement_id in sources, via


def _grant_batches(reader: SyncReader, sync_pk: int) -> Iterator[tuple[list[Row], list[Row]]]:
    """Grant rows and the sources of the derived ones, a bounded batch at a time, copied without re-encoding."""
    grants: list[Row] = []
    sources: list[Row] = []
    for grant_id, ent_id, rtype, rid, ptype, pid, data in reader.grant_records():
        direct, via = _sources(grant_id, ent_id, data)
        if via:
            sources.extend((sync_pk, grant_id, source) for source in via)
        grants.append((sync_pk, grant_id, ent_id, rtype, rid, ptype, pid, direct, VIA_SEPARATOR.join(via), data))
        if len(grants) >= GRANT_BATCH:
            yield grants, sources
            grants, sources = [], []
    if grants:
        yield grants, sources


_GRANT_COLUMNS = ("sync_pk", "grant_id", "entitlement_id", "resource_type_id", "resource_id", "principal_type",
                  "principal_id", "is_direct", "via", "data")


_EXPANSION_COLUMNS = ("sync_pk", "grant_id", "entitlement_id", "principal_type", "principal_id", "data")


def _copy_sync(conn: Connection, reader: SyncReader, sync_pk: int) -> dict[str, int]:
    """Write every row of the run; the counts per table."""
    counts = {
        "resource_types": write_rows(conn, s.resource_types, ("sync_pk", "resource_type_id", "display_name",
                                                              "traits", "data", "seq"),
                                     _resource_type_rows(reader, sync_pk)),
        "resources": write_rows(conn, s.resources, ("sync_pk", "resource_type_id", "resource_id", "display_name",
                                                    "parent_resource_type_id", "parent_resource_id", "data"),
                                _resource_rows(reader, sync_pk)),
        "entitlements": write_rows(conn, s.entitlements, ("sync_pk", "entitlement_id", "resource_type_id",
                                                          "resource_id", "slug", "display_name", "data"),
                                   _entitlement_rows(reader, sync_pk)),
    }
    counts["grants"] = 0
    for grants, sources in _grant_batches(reader, sync_pk):
        counts["grants"] += write_rows(conn, s.grants, _GRANT_COLUMNS, grants)
        write_rows(conn, s.grant_sources, ("sync_pk", "grant_id", "source_entitlement_id"), sources)
    write_rows(conn, s.grant_expansions, _EXPANSION_COLUMNS,
               ((sync_pk, *record) for record in reader.expansion_records()))
    return counts


# -- current sync and pruning --------------------------------------------------------------------


def _newest_first(conn: Connection, system_id: int) -> list[tuple[int, str]]:
    rows = conn.execute(select(s.syncs.c.sync_pk, s.syncs.c.sync_id).where(s.syncs.c.system_id == system_id)
                        .order_by(s.syncs.c.ended_at.desc(), s.syncs.c.sync_pk.desc()))
    return [(int(pk), str(sid)) for pk, sid in rows]


def delete_syncs(conn: Connection, sync_pks: list[int]) -> None:
    """Remove syncs and every row that belongs to them."""
    if not sync_pks:
        return
    for table in s.SYNC_TABLES:
        conn.execute(delete(table).where(table.c.sync_pk.in_(sync_pks)))
    conn.execute(delete(s.syncs).where(s.syncs.c.sync_pk.in_(sync_pks)))


def _settle(conn: Connection, system_id: int, keep_syncs: int) -> tuple[str, ...]:
    """Make the newest sync current and prune beyond ``keep_syncs``; the pruned sync ids."""
    ordered = _newest_first(conn, system_id)
    kept, dropped = ordered[:keep_syncs], ordered[keep_syncs:]
    delete_syncs(conn, [pk for pk, _ in dropped])
    conn.execute(update(s.syncs).where(s.syncs.c.system_id == system_id)
                 .values(is_current=s.syncs.c.sync_pk == kept[0][0]))
    return tuple(sid for _, sid in dropped)


# -- the load ------------------------------------------------------------------------------------


def _resolve(c1z: C1ZFile, sync_id: str | None) -> SyncRun:
    return c1z.resolve_sync(sync_id, sync_type="full")


def load_file(engine: Engine, system: str, path: Path, *, keep_syncs: int, sync_id: str | None = None,
              identity_provider: bool = False) -> LoadResult:
    """Load ``sync_id`` (default: the newest finished full sync) of ``path`` as ``system``'s."""
    started = time.monotonic()
    try:
        with C1ZFile.open(path) as c1z:
            c1z.conn.execute("pragma mmap_size = 0")  # read through the page cache: RSS must not grow with the file
            run = _resolve(c1z, sync_id)
            with engine.connect() as probe:
                if _is_loaded(probe, system, run.sync_id):
                    return LoadResult(system, run.sync_id, False)
            return _load_run(engine, system, SyncReader(c1z, run), keep_syncs=keep_syncs,
                             identity_provider=identity_provider, started=started)
    except C1ZError as exc:
        raise WarehouseLoadError(f"{system}: not loaded, the warehouse is unchanged: {exc}") from None
    except sqlite3.DatabaseError as exc:  # a damaged file can fail anywhere SQLite reads it
        raise WarehouseLoadError(f"{system}: not loaded, the warehouse is unchanged: {path}: "
                                 f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None


def _load_run(engine: Engine, system: str, reader: SyncReader, *, keep_syncs: int, identity_provider: bool,
              started: float) -> LoadResult:
    run = reader.run
    with write_transaction(engine, lock=f"system:{system}") as conn:
        if _is_loaded(conn, system, run.sync_id):  # a racing load got there first
            return LoadResult(system, run.sync_id, False)
        system_id = _system_id(conn, system, identity_provider)
        inserted = conn.execute(insert(s.syncs).values(
            system_id=system_id, sync_id=run.sync_id, kind=run.sync_type, started_at=_naive_utc(run.started_at),
            ended_at=_naive_utc(run.ended_at), source_file=str(reader.c1z.path), is_current=False,
            loaded_at=now_utc(), load_seconds=0.0, has_expansions=True, resource_types=0, resources=0,
            entitlements=0, grants=0))
        assert inserted.inserted_primary_key is not None
        sync_pk = int(inserted.inserted_primary_key[0])
        counts = _copy_sync(conn, reader, sync_pk)
        pruned = _settle(conn, system_id, keep_syncs)
        seconds = time.monotonic() - started
        conn.execute(update(s.syncs).where(s.syncs.c.sync_pk == sync_pk)
                     .values(load_seconds=seconds, loaded_at=now_utc(), **counts))
    return LoadResult(system, run.sync_id, True, seconds, counts["grants"], pruned)

