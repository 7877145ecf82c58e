"""Incremental sync: ask the connector what changed, fold it into the last full run.

One run writes a diff pair into the working copy, the way Baton's diff syncs lay
them out, and compacts it into the previous full run in place:

- a ``partial_upserts`` run: the resources the connector reported changed, each
  with its entitlements and grants re-read, plus any finer upserts it reported;
- a ``partial_deletions`` run: the rows of the previous full run that are gone
  (deleted resources with their children, their entitlements, the grants on them
  and the grants they held; entitlements and grants a re-read no longer lists);
- the previous ``full`` run minus the deletions plus the upserts, in place
  (:mod:`pybaton.sync.inplace`), its expansion brought up to date where the
  changes reach (:mod:`pybaton.sync.expand_incremental`), ended again so it is
  the latest finished run. It lists what a full sync of the same state lists.

The compaction, the new change cursors (in the full run's ``sync_token``) and the
finish of the diff runs are one transaction, and the ``.c1z`` itself is replaced
(atomically) only after that. A run killed at any point leaves the file as it
was; the next run finds the unfinished diff runs in the working copy, drops them
and asks again from the old cursor: the cursor never passes uncommitted data.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from google.protobuf.message import DecodeError

from pybaton.c1z import C1ZFile, SyncReader, SyncWriter, schema, syncs
from pybaton.c1z.merge import prune_runs
from pybaton.connector.capabilities import ChangeLister, Changes
from pybaton.errors import CursorExpiredError
from pybaton.pb.c1.connector.v2 import entitlement_pb2, grant_pb2, resource_pb2
from pybaton.sync import expand_store, inplace, integrity
from pybaton.sync.engine import SyncEngine, SyncResult, _transaction
from pybaton.sync.expand_incremental import Runs, before_compaction, expand_changes
from pybaton.sync.retry import call_with_retry
from pybaton.sync.state import SyncState

log = logging.getLogger("pybaton.sync")

# The sync_token of the runs an incremental sync writes while it works: not a
# resumable checkpoint (an interrupted incremental sync starts over from its cursor).
WORK_TOKEN = json.dumps({"format": "pybaton/incremental-1"})


@dataclass
class NetChanges:
    """Changes folded to their net effect: a later report about the same object wins."""

    resources: dict[tuple[str, str], resource_pb2.Resource | None] = field(default_factory=dict)
    entitlements: dict[str, entitlement_pb2.Entitlement | None] = field(default_factory=dict)
    grants: dict[str, grant_pb2.Grant | None] = field(default_factory=dict)
    # resource type -> every id that exists now (from an id-only scan), when the connector gave it
    present: dict[str, set[str]] = field(default_factory=dict)

    def add(self, changes: Changes, resource_type: str) -> None:
        if changes.present is not None:
            self.present[resource_type] = set(changes.present)
        for rid in changes.deleted_resources:
            self.resources[(rid.resource_type, rid.resource)] = None
        for res in changes.resources:
            self.resources[(res.id.resource_type, res.id.resource)] = res
        for eid in changes.deleted_entitlements:
            self.entitlements[eid] = None
        for ent in changes.entitlements:
            self.entitlements[ent.id] = ent
        for gid in changes.deleted_grants:
            self.grants[gid] = None
        for grant in changes.grants:
            self.grants[grant.id] = grant

    def __len__(self) -> int:
        return len(self.resources) + len(self.entitlements) + len(self.grants)


def is_work_run(run: syncs.SyncRun) -> bool:
    """A run an interrupted incremental sync left behind (never one to resume)."""
    return not run.finished and (run.sync_token == WORK_TOKEN or run.sync_type in ("partial_upserts",
                                                                                   "partial_deletions"))


def saved_cursors(run: syncs.SyncRun | None) -> dict[str, str]:
    """The change cursors a finished full run recorded (none for Go's runs or older files)."""
    state = SyncState.from_token(run.sync_token) if run is not None else None
    return dict(state.cursors) if state is not None else {}


def grant_is_derived(blob: bytes, entitlement_id: str) -> bool:
    """Baton's rule: a grant is derived when it has sources and its own entitlement is not one of them."""
    try:
        sources = grant_pb2.Grant.FromString(blob).sources.sources
    except DecodeError:
        return False
    return len(sources) > 0 and entitlement_id not in sources


def connector_form(blob: bytes, entitlement_id: str) -> bytes | None:
    """A grant as its connector gave it: None for a derived grant; expansion's merged sources removed."""
    grant = grant_pb2.Grant.FromString(blob)
    sources = grant.sources.sources
    if len(sources) == 0:
        return blob
    if entitlement_id not in sources:
        return None
    grant.ClearField("sources")
    return grant.SerializeToString(deterministic=True)


def _register_functions(conn: sqlite3.Connection) -> None:
    conn.create_function("pybaton_derived", 2, lambda data, ent: int(grant_is_derived(bytes(data), ent)),
                         deterministic=True)
    conn.create_function("pybaton_connector_form", 2, lambda data, ent: connector_form(bytes(data), ent),
                         deterministic=True)


class IncrementalSync(SyncEngine):
    """``sync --incremental``: changes since the last full run, folded into that run in place.

    Falls back to a full sync (saying why, in one line) when there is no full run
    with saved cursors, the connector cannot list changes, a cursor expired, or an
    interrupted full sync is waiting to be resumed.
    """

    def run(self) -> SyncResult:
        started = time.monotonic()
        conn = self.c1z.conn
        self._discard_work_runs()
        base = syncs.latest_finished(conn, "full")
        cursors = saved_cursors(base)
        reason = self._why_not(base, cursors)
        net: NetChanges | None = None
        new_cursors: dict[str, str] = {}
        if reason is None:
            try:
                net, new_cursors = self._collect(cursors)
            except CursorExpiredError as exc:
                reason = f"the change cursor expired ({exc})"
        if reason is not None or base is None or net is None:
            log.warning("incremental sync of %s not possible: %s; doing a full sync",
                        self.connector.metadata.name, reason)
            return super().run()
        return self._apply(base, net, new_cursors, started)

    # -- deciding ------------------------------------------------------------------------------

    def _listers(self) -> dict[str, ChangeLister]:
        return {t: s for t, s in self._syncers.items() if isinstance(s, ChangeLister)}

    def _why_not(self, base: syncs.SyncRun | None, cursors: dict[str, str]) -> str | None:
        listers = self._listers()
        unfinished = syncs.latest_unfinished(self.c1z.conn)
        if unfinished is not None and unfinished.sync_type == "full":
            return "an interrupted full sync is waiting to be resumed"
        if not listers:
            return "the connector cannot list changes"
        if base is None:
            return "no previous full sync in the file"
        missing = sorted(set(listers) - set(cursors))
        if missing:
            return f"no saved change cursor for {', '.join(missing)}"
        return None

    def _discard_work_runs(self) -> None:
        conn = self.c1z.conn
        leftovers = [r for r in syncs.list_runs(conn) if is_work_run(r)]
        if leftovers:
            log.warning("discarding an interrupted incremental sync (%d runs); asking for the changes again",
                        len(leftovers))
            with _transaction(conn):
                for run in leftovers:
                    syncs.delete_run(conn, run.sync_id)

    def _collect(self, cursors: dict[str, str]) -> tuple[NetChanges, dict[str, str]]:
        net = NetChanges()
        new: dict[str, str] = {}
        for rtype, lister in self._listers().items():
            cursor = cursors[rtype]
            while True:
                changes = call_with_retry(lambda c=cursor, s=lister: s.changes(c),  # type: ignore[misc]
                                          what=f"changes of {rtype}", policy=self.options.retry,
                                          on_not_found=lambda c=cursor: Changes(c))  # type: ignore[misc]
                net.add(changes, rtype)
                cursor = changes.cursor
                if not changes.has_more:
                    break
            new[rtype] = cursor
        log.info("incremental sync: %d changed objects", len(net))
        return net, new

    # -- writing -------------------------------------------------------------------------------

    def _apply(self, base: syncs.SyncRun, net: NetChanges, cursors: dict[str, str], started: float) -> SyncResult:
        conn = self.c1z.conn
        _register_functions(conn)
        above = inplace.floors(conn)
        with _transaction(conn):
            upserts = syncs.start_run(conn, "partial_upserts", parent_sync_id=base.sync_id)
            deletions = syncs.start_run(conn, "partial_deletions", parent_sync_id=base.sync_id)
            link_diff_pair(conn, upserts.sync_id, deletions.sync_id)
            for run in (upserts, deletions):
                syncs.checkpoint(conn, run.sync_id, WORK_TOKEN)
        self.progress.phase("changes")
        mark_gone(conn, base.sync_id, net)
        relisted = self._write_upserts(SyncWriter(self.c1z, upserts.sync_id), net,
                                       holders_of_gone(conn, base.sync_id))
        self.writer = SyncWriter(self.c1z, deletions.sync_id)
        with self.writer.transaction():
            _write_deletions(conn, base.sync_id, upserts.sync_id, deletions.sync_id, net, relisted)
        self.progress.phase("compaction")
        # The previous full run becomes the new full state, in one transaction with the finish of the runs:
        # a crash anywhere in it leaves the previous run as it was (and the diff runs unfinished, discarded).
        self.writer = SyncWriter(self.c1z, base.sync_id)
        runs = Runs(base.sync_id, upserts.sync_id, deletions.sync_id, above["v1_grants"])
        expanding = self.options.expand and not (self.options.skip_grants
                                                 or self.options.skip_entitlements_and_grants)
        with self.writer.transaction():
            before = before_compaction(conn, runs) if expanding else None
            inplace.start_tracking(conn, base.sync_id)
            compact(conn, runs, above, expanded=expanding)
            if before is not None:
                self.progress.phase("grant expansion")
                expand_changes(conn, self.writer, runs, before, max_depth=self.options.expansion_max_depth)
            # After expansion: until then the run still holds derived grants the changes remove.
            violations = self._integrity_by_difference(base)
            self.progress.close()
            clean = self.options.integrity_check and not violations  # unchecked is not clean
            stats = self._finish((upserts, deletions), base, cursors, above, clean)
            inplace.stop_tracking(conn)
        self._save()
        return SyncResult(base.sync_id, self.c1z.path, stats, False, time.monotonic() - started, violations,
                          changes=len(net))

    def _integrity_by_difference(self, base: syncs.SyncRun) -> list[integrity.Violation]:
        """The findings a full sync's integrity check would give, from the rows the compaction touched when the
        previous run was clean (from every row otherwise)."""
        if not self.options.integrity_check:
            return []
        state = SyncState.from_token(base.sync_token)
        clean = state is not None and state.integrity_clean
        violations = inplace.integrity_by_difference(self.c1z.conn, base.sync_id, whole=not clean)
        for v in violations:
            log.warning("integrity: %s", v.describe())
        return violations

    def _write_upserts(self, writer: SyncWriter, net: NetChanges,
                       holders: Sequence[resource_pb2.Resource]) -> list[resource_pb2.Resource]:
        """The ``partial_upserts`` run; returns the resources whose entitlements and grants were re-read.

        Those are the changed resources and ``holders``: unchanged resources that listed a grant to a
        deleted principal (whether the system still lists it is the system's to say).
        """
        writer.put_resource_types([s.resource_type for s in self._syncers.values()])
        changed = [r for r in net.resources.values() if r is not None and r.id.resource_type in self._syncers]
        writer.put_resources(changed)
        keys = {(r.id.resource_type, r.id.resource) for r in changed}
        relisted = changed + [r for r in holders if (r.id.resource_type, r.id.resource) not in keys
                              and r.id.resource_type in self._syncers]
        if not self.options.skip_entitlements_and_grants:
            writer.put_entitlements(self._reread(relisted, "entitlements"))
            writer.put_entitlements(e for e in net.entitlements.values() if e is not None)
            if not self.options.skip_grants:
                writer.put_grants(self._reread(relisted, "grants"))
                writer.put_grants(g for g in net.grants.values() if g is not None)
        self.progress.advance(len(net))
        return relisted

    def _reread(self, resources: Iterable[resource_pb2.Resource], kind: str) -> Iterator[Any]:
        """Entitlements or grants of each changed resource, as a full sync lists them (skips honoured)."""
        skip_urls = self._skip_urls(kind)
        skip_types = self._skipped_types(kind)
        pages = self._entitlement_pages if kind == "entitlements" else self._grant_pages
        never = threading.Event()
        for res in resources:
            if res.id.resource_type in skip_types or any(a.type_url in skip_urls for a in res.annotations):
                continue
            for page in pages(self._syncers[res.id.resource_type], res, "", never):
                yield from page.items

    def _finish(self, partials: Sequence[syncs.SyncRun], compacted: syncs.SyncRun, cursors: dict[str, str],
                above: dict[str, int], clean: bool) -> dict[str, Any]:
        """End the diff runs, then the compacted run (counts by difference, new cursors, ingest marker).

        Runs inside the compaction's transaction. The compacted run keeps its sync id and is ended again (now),
        last, so that Go's "latest finished sync" (by ``ended_at``) is it; diff pairs beyond what
        ``keep_syncs`` keeps are dropped by their row-id ranges.
        """
        conn = self.c1z.conn
        run = syncs.get_run(conn, compacted.sync_id)
        reader = SyncReader(self.c1z, run)
        stats = inplace.stats_by_difference(run.stats or {}, inplace.deltas(conn),
                                            [rt.id for rt in reader.resource_types()]) or reader.stats()
        conflicts = integrity.exclusion_group_conflicts(conn, compacted.sync_id)
        for conflict in conflicts:
            log.warning("integrity: %s", conflict)
        for part in partials:
            syncs.end_run(conn, part.sync_id, DiffRunReader(self.c1z, syncs.get_run(conn, part.sync_id),
                                                            above).stats())
            syncs.checkpoint(conn, part.sync_id, "")
        previous = SyncState.from_token(run.sync_token)
        diffs = (previous.diffs if previous is not None else []) + [
            {"runs": [p.sync_id for p in partials], "above": above}]
        keep = max(1, self.options.keep_syncs - 1)
        for old in diffs[:-keep]:
            drop_diff_pair(conn, old)
        state = SyncState(phase="done", cursors=cursors, integrity_clean=clean, diffs=diffs[-keep:])
        reended(conn, compacted.sync_id, stats, state.to_token())
        if conflicts:
            clear_ingest_verified(conn, compacted.sync_id)
        else:  # the same verification marker a full sync records
            syncs.mark_ingest_verified(conn, compacted.sync_id)
        return stats

    def _save(self) -> None:
        """Drop the runs ``keep_syncs`` no longer keeps, then pack the file.

        Packing a vacuumed copy costs as much as the file is big, so it is done only when a full run was
        dropped or free pages pass :data:`VACUUM_FREE_SHARE` of the file: until then the rows an incremental
        sync removed (a few) can stay in free pages of the ``.c1z`` (docs/incremental.md).
        """
        with self.writer.transaction():
            deleted = prune_runs(self.c1z, self.options.keep_syncs)
        self.c1z.save(vacuum=deleted > 0 or free_share(self.c1z.conn) > VACUUM_FREE_SHARE)


class DiffRunReader(SyncReader):
    """A diff run's reader that counts its rows by a range of row ids (they were all written after the
    previous full run's, above ``above[table]``): the tables have no index by run, and counting a few
    rows should not cost a scan of millions."""

    def __init__(self, c1z: C1ZFile, run: syncs.SyncRun, above: dict[str, int]) -> None:
        super().__init__(c1z, run)
        self._above = above

    def _count_by(self, table: str) -> Counter[str]:
        return Counter(dict(self._conn.execute(
            f"select resource_type_id, count(*) from {table} where id > ? and sync_id = ? "
            "group by resource_type_id", (self._above.get(table, 0), self.sync_id))))

    def _count(self, table: str) -> int:
        return int(self._conn.execute(f"select count(*) from {table} where id > ? and sync_id = ?",
                                      (self._above.get(table, 0), self.sync_id)).fetchone()[0])


def last_changes(conn: sqlite3.Connection) -> set[str] | None:
    """The resources (``type:id``) the last incremental run wrote or removed, principals of the grants it wrote
    or removed included; None when the latest full run was a full read (no diff pair folded into it since).

    Read from the newest diff pair the latest full run's checkpoint records, by its row-id ranges.
    """
    latest = syncs.latest_finished(conn, "full")
    state = SyncState.from_token(latest.sync_token) if latest is not None else None
    if state is None or not state.diffs:
        return None
    pair = state.diffs[-1]
    above = {str(k): int(v) for k, v in (pair.get("above") or {}).items()}
    found: set[str] = set()
    for sync_id in pair.get("runs") or []:
        found.update(str(r[0]) for r in conn.execute(
            "select external_id from v1_resources where id > ? and sync_id = ?",
            (above.get("v1_resources", 0), sync_id)))
        found.update(f"{t}:{i}" for t, i in conn.execute(
            "select principal_resource_type_id, principal_resource_id from v1_grants where id > ? and sync_id = ?",
            (above.get("v1_grants", 0), sync_id)))
    return found


def link_diff_pair(conn: sqlite3.Connection, upserts: str, deletions: str) -> None:
    """Mark a diff pair as Go's ``GenerateSyncDiff`` writes it: each run's ``linked_sync_id`` names the other,
    and neither claims ``supports_diff`` (Go sets that marker only on runs its grant expansion ran on)."""
    for sync_id, other in ((upserts, deletions), (deletions, upserts)):
        conn.execute("update v1_sync_runs set linked_sync_id = ?, supports_diff = 0 where sync_id = ?",
                     (other, sync_id))


# -- SQL over the runs --------------------------------------------------------------------------------


def _keys_table(conn: sqlite3.Connection, name: str, columns: str, rows: Iterable[tuple[str, ...]]) -> None:
    conn.execute(f"create temp table if not exists {name} ({columns}, primary key ({columns}))")
    conn.execute(f"delete from temp.{name}")
    width = columns.count(",") + 1
    conn.executemany(f"insert or ignore into temp.{name} values ({', '.join('?' * width)})", rows)


def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return sorted(schema.columns_of(conn, table) - {"id", "sync_id"})


def _copy_rows(conn: sqlite3.Connection, table: str, source: str, target: str, where: str = "1",
               data: str = "data", args: tuple[Any, ...] = ()) -> None:
    """Copy rows of run ``source`` matching ``where`` into run ``target`` (``data`` may transform the blob)."""
    cols = _columns(conn, table)
    picked = ", ".join(data if c == "data" else c for c in cols)
    conn.execute(f"insert into {table} ({', '.join(cols)}, sync_id) select {picked}, ? from {table} "
                 f"where sync_id = ? and ({where}) order by id", (target, source, *args))


_NOT_DERIVED = "(instr(data, ?) = 0 or pybaton_derived(data, entitlement_id) = 0)"


def mark_gone(conn: sqlite3.Connection, base: str, net: NetChanges) -> None:
    """``temp.inc_gone``: the resources of ``base`` the changes delete (with their children)."""
    _keys_table(conn, "inc_gone", "rtype, rid", (k for k, v in net.resources.items() if v is None))
    # Resources an id-only scan no longer finds are gone too.
    _keys_table(conn, "inc_present", "rtype, rid", ((t, i) for t, ids in net.present.items() for i in ids))
    for rtype in net.present:
        conn.execute("insert or ignore into temp.inc_gone select resource_type_id, substr(external_id, ?) "
                     "from v1_resources where sync_id = ? and resource_type_id = ? and "
                     "substr(external_id, ?) not in (select rid from temp.inc_present where rtype = ?)",
                     (len(rtype) + 2, base, rtype, len(rtype) + 2, rtype))
    # Children of a deleted resource go with it (a full sync lists them under their parent).
    conn.execute(
        "with recursive tree(rtype, rid) as (select rtype, rid from temp.inc_gone union "
        "select r.resource_type_id, substr(r.external_id, length(r.resource_type_id) + 2) from v1_resources r "
        "join tree on r.parent_resource_type_id = tree.rtype and r.parent_resource_id = tree.rid "
        "where r.sync_id = ?) insert or ignore into temp.inc_gone select rtype, rid from tree", (base,))


def holders_of_gone(conn: sqlite3.Connection, base: str) -> list[resource_pb2.Resource]:
    """Resources of ``base`` with grants to a deleted principal: re-read, the system says what they hold now."""
    return [resource_pb2.Resource.FromString(bytes(blob)) for (blob,) in conn.execute(
        "select data from v1_resources where sync_id = ? and (resource_type_id, substr(external_id, "
        "length(resource_type_id) + 2)) in (select distinct resource_type_id, resource_id from v1_grants "
        "where sync_id = ? and (principal_resource_type_id, principal_resource_id) in "
        "(select rtype, rid from temp.inc_gone)) and (resource_type_id, substr(external_id, "
        "length(resource_type_id) + 2)) not in (select rtype, rid from temp.inc_gone) order by id",
        (base, base))]


def _write_deletions(conn: sqlite3.Connection, base: str, upserts: str, deletions: str, net: NetChanges,
                     relisted: Iterable[resource_pb2.Resource]) -> None:
    """The rows of ``base`` that the changes remove, copied into the ``partial_deletions`` run.

    Expects :func:`mark_gone`; ``relisted`` are the resources whose entitlements and grants were re-read.
    """
    _keys_table(conn, "inc_relisted", "rtype, rid", ((r.id.resource_type, r.id.resource) for r in relisted))
    _keys_table(conn, "inc_gone_ents", "id", ((k,) for k, v in net.entitlements.items() if v is None))
    _keys_table(conn, "inc_gone_grants", "id", ((k,) for k, v in net.grants.items() if v is None))
    kept = "external_id not in (select external_id from {table} where sync_id = ?)"
    _copy_rows(conn, "v1_resources", base, deletions,
               "external_id in (select rtype || ':' || rid from temp.inc_gone) and "
               + kept.format(table="v1_resources"), args=(upserts,))
    _copy_rows(conn, "v1_entitlements", base, deletions,
               "((resource_type_id, resource_id) in (select rtype, rid from temp.inc_gone) "
               "or external_id in (select id from temp.inc_gone_ents) "
               "or (resource_type_id, resource_id) in (select rtype, rid from temp.inc_relisted)) and "
               + kept.format(table="v1_entitlements"), args=(upserts,))
    _copy_rows(conn, "v1_grants", base, deletions,
               "((resource_type_id, resource_id) in (select rtype, rid from temp.inc_gone) "
               "or (principal_resource_type_id, principal_resource_id) in (select rtype, rid from temp.inc_gone) "
               "or entitlement_id in (select external_id from v1_entitlements where sync_id = ?) "
               "or external_id in (select id from temp.inc_gone_grants) "
               "or (resource_type_id, resource_id) in (select rtype, rid from temp.inc_relisted)) and "
               + kept.format(table="v1_grants") + " and " + _NOT_DERIVED,
               args=(deletions, upserts, expand_store.IMMUTABLE_MARK))


def compact(conn: sqlite3.Connection, runs: Runs, above: dict[str, int], *, expanded: bool) -> None:
    """Turn the previous full run into the previous run minus ``partial_deletions`` plus ``partial_upserts``,
    in place (:func:`pybaton.sync.inplace.apply_diff`): only the rows the diff names are touched.

    With ``expanded`` the grants keep their expansion (derived grants, merged sources) for
    :func:`~pybaton.sync.expand_incremental.expand_changes` to bring up to date where the changes reach;
    without it they are put back as the connector gave them (nothing will expand them).
    """
    if not expanded:
        destinations = "entitlement_id in (select entitlement_id from v1_grants where sync_id = ? " \
                       "and expansion is not null)"
        conn.execute(f"delete from v1_grants where sync_id = ? and {destinations} and not {_NOT_DERIVED}",
                     (runs.base, runs.base, expand_store.IMMUTABLE_MARK))
        conn.execute(f"update v1_grants set data = pybaton_connector_form(data, entitlement_id) "
                     f"where sync_id = ? and {destinations}", (runs.base, runs.base))
    inplace.apply_diff(conn, runs.base, runs.upserts, runs.deletions, above)


def drop_diff_pair(conn: sqlite3.Connection, pair: dict[str, Any]) -> None:
    """Delete a diff pair recorded in a full run's checkpoint by the row-id ranges its rows lie in."""
    above = {str(k): int(v) for k, v in (pair.get("above") or {}).items()}
    for sync_id in pair.get("runs") or []:
        for table in inplace.TABLES:
            where = f"id > {above[table]:d} and " if table in above else ""
            conn.execute(f"delete from {table} where {where}sync_id = ?", (sync_id,))
        for table in ("v1_connector_sessions", "v1_sync_runs"):
            conn.execute(f"delete from {table} where sync_id = ?", (sync_id,))


def reended(conn: sqlite3.Connection, sync_id: str, stats: dict[str, Any], token: str) -> None:
    """End a finished run again: now, with new counts and checkpoint (the run compacted in place)."""
    conn.execute("update v1_sync_runs set ended_at = ?, stats = ?, sync_token = ? where sync_id = ?",
                 (syncs.now_text(), json.dumps(stats, separators=(",", ":")), token, sync_id))


def clear_ingest_verified(conn: sqlite3.Connection, sync_id: str) -> None:
    """Withdraw the ingest-invariant marker (the compacted run no longer passes Go's invariants)."""
    conn.execute("update v1_sync_runs set ingest_invariant_generation = '', ingest_invariant_coverage = '', "
                 "ingest_invariant_mode = '' where sync_id = ?", (sync_id,))


# Share of free pages in the working database past which saving packs a vacuumed copy anyway.
VACUUM_FREE_SHARE = 0.25


def free_share(conn: sqlite3.Connection) -> float:
    """Free pages / all pages of the working database."""
    free = int(conn.execute("pragma freelist_count").fetchone()[0])
    total = int(conn.execute("pragma page_count").fetchone()[0])
    return free / total if total else 0.0


__all__ = [
    "WORK_TOKEN",
    "IncrementalSync",
    "NetChanges",
    "compact",
    "connector_form",
    "drop_diff_pair",
    "grant_is_derived",
    "is_work_run",
    "last_changes",
    "link_diff_pair",
    "saved_cursors",
]
