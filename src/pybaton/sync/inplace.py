"""Compacting an incremental sync in place: work proportional to the change, not to the file.

The previous full run *becomes* the new full state: the rows the ``partial_deletions``
run names leave it, the ``partial_upserts`` rows replace or join it, and grant
expansion is brought up to date where the changes reach. Nothing else is copied,
re-indexed or re-read. Two things a full run's finish used to learn by reading the
whole run are carried forward by difference instead:

- the counts (``stats``): temporary triggers count every row inserted into or
  deleted from the run while it is compacted, by table and resource type, and the
  new counts are the previous run's stored counts plus those deltas;
- the referential integrity check: the triggers also note every row written and
  every key removed, and when the previous run was clean (recorded in its
  checkpoint), only those rows and the rows naming a removed key are checked. The
  findings are those :func:`pybaton.sync.integrity.check` would report (same
  queries, restricted to the candidates, in the same row order).

All of it runs inside one transaction with the diff runs' finish, so a crash
leaves the previous full run exactly as it was.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any

from pybaton.c1z import schema
from pybaton.sync.expand_store import IMMUTABLE_MARK
from pybaton.sync.integrity import Violation, check_candidates

# Every table a run's rows live in (the catalog, the three counted tables, assets).
TABLES = ("v1_resource_types", "v1_resources", "v1_entitlements", "v1_grants", "v1_assets")
_COUNTED = ("v1_resources", "v1_entitlements", "v1_grants")


def floors(conn: sqlite3.Connection) -> dict[str, int]:
    """The largest row id of each table: rows written after this are above it (a range of the key)."""
    return {t: int(conn.execute(f"select coalesce(max(id), 0) from {t}").fetchone()[0]) for t in TABLES}


def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return sorted(schema.columns_of(conn, table) - {"id", "sync_id"})


def apply_diff(conn: sqlite3.Connection, target: str, upserts: str, deletions: str,
               above: Mapping[str, int]) -> None:
    """Fold a diff pair into run ``target``: its rows named by either diff run leave it, the upserts join it.

    The diff runs' rows are found by a range of row ids (``above``: they were written after it), the target's
    rows by the unique ``(external_id, sync_id)`` index: no statement scans the table. Replaced rows get new
    row ids after every other row, as a copy of the previous run followed by the upserts would place them.
    """
    for table in TABLES:
        floor = int(above[table])
        conn.execute(f"delete from {table} where sync_id = ? and external_id in (select external_id from {table} "
                     f"where id > {floor:d} and sync_id in (?, ?))", (target, deletions, upserts))
        cols = ", ".join(_columns(conn, table))
        conn.execute(f"insert into {table} ({cols}, sync_id) select {cols}, ? from {table} "
                     f"where id > {floor:d} and sync_id = ? order by id", (target, upserts))


# -- tracking what the compaction touches --------------------------------------------------------------


def _trigger_sql(table: str) -> list[str]:
    # Names in a trigger's body cannot be qualified; the inc_ tables exist only in temp.
    # Plain appends: a conflict clause inside a trigger gives way to the outer statement's (an upsert's).
    count = "insert into inc_delta (tbl, rtype, n) values ('{t}', {side}.resource_type_id, {n});"
    on_target = "{side}.sync_id = (select sync_id from inc_target)"
    return [
        f"create temp trigger inc_ins_{table} after insert on main.{table} when {on_target.format(side='new')} "
        f"begin {count.format(t=table, side='new', n=1)} "
        f"insert into inc_written (tbl, id) values ('{table}', new.id); end",
        f"create temp trigger inc_del_{table} after delete on main.{table} when {on_target.format(side='old')} "
        f"begin {count.format(t=table, side='old', n=-1)} "
        f"insert into inc_removed (tbl, key, rtype) "
        f"values ('{table}', old.external_id, old.resource_type_id); end",
        f"create temp trigger inc_upd_{table} after update on main.{table} when {on_target.format(side='new')} "
        f"begin {count.format(t=table, side='old', n=-1)} {count.format(t=table, side='new', n=1)} "
        f"insert into inc_written (tbl, id) values ('{table}', new.id); end",
    ]


def start_tracking(conn: sqlite3.Connection, sync_id: str) -> None:
    """Count and note what is written to and removed from run ``sync_id`` from now on (temp triggers)."""
    stop_tracking(conn)
    conn.execute("create temp table inc_target (sync_id text not null)")
    conn.execute("insert into temp.inc_target values (?)", (sync_id,))
    conn.execute("create temp table inc_delta (tbl text, rtype text, n integer)")
    conn.execute("create temp table inc_written (tbl text, id integer)")
    conn.execute("create temp table inc_removed (tbl text, key text, rtype text)")
    for table in _COUNTED:
        for sql in _trigger_sql(table):
            conn.execute(sql)


def stop_tracking(conn: sqlite3.Connection) -> None:
    for table in _COUNTED:
        for kind in ("ins", "del", "upd"):
            conn.execute(f"drop trigger if exists temp.inc_{kind}_{table}")
    for name in ("inc_target", "inc_delta", "inc_written", "inc_removed"):
        conn.execute(f"drop table if exists temp.{name}")


def deltas(conn: sqlite3.Connection) -> dict[str, dict[str, int]]:
    """table -> resource type -> rows added minus rows removed, since :func:`start_tracking`."""
    out: dict[str, dict[str, int]] = {t: {} for t in _COUNTED}
    for table, rtype, n in conn.execute("select tbl, rtype, sum(n) from temp.inc_delta group by tbl, rtype"):
        out[table][rtype] = int(n)
    return out


def stats_by_difference(previous: Mapping[str, Any], delta: Mapping[str, Mapping[str, int]],
                        type_ids: list[str]) -> dict[str, Any] | None:
    """The run's counts as :meth:`SyncReader.stats` gives them: ``previous`` (the stored counts before the
    compaction) plus ``delta``. None when ``previous`` is not a full set of counts (a Go-written or older run):
    the caller counts instead."""
    wanted = ("resources_by_resource_type", "grants_by_resource_type", "entitlements_by_resource_type")
    if not previous or any(not isinstance(previous.get(k), dict) for k in wanted):
        return None

    def add(stored: Mapping[str, Any], changes: Mapping[str, int]) -> dict[str, int]:
        merged = {k: int(v) for k, v in stored.items()}
        for rtype, n in changes.items():
            merged[rtype] = merged.get(rtype, 0) + n
        return merged

    resources = add(previous["resources_by_resource_type"], delta["v1_resources"])
    by_type = {t: resources.get(t, 0) for t in type_ids}
    # By type id, as counting (``group by``) lists them; types left with no row drop out, as there.
    grants = {t: n for t, n in sorted(add(previous["grants_by_resource_type"], delta["v1_grants"]).items()) if n}
    ents = {t: n for t, n in sorted(add(previous["entitlements_by_resource_type"],
                                         delta["v1_entitlements"]).items()) if n}
    return {"resource_types": len(type_ids), "resources": sum(by_type.values()), "resources_by_resource_type":
            by_type, "entitlements": sum(ents.values()), "grants": sum(grants.values()),
            "grants_by_resource_type": grants, "entitlements_by_resource_type": ents}




def integrity_by_difference(conn: sqlite3.Connection, sync_id: str, *, whole: bool = False) -> list[Violation]:
    """What a full sync's integrity check reports for the state run ``sync_id`` now holds.

    A full sync checks the connector's rows (before grant expansion), so derived grants are left out. When
    the run was clean before :func:`start_tracking`, only rows written since and rows naming a key removed
    since can be in violation, and only those are checked; ``whole`` checks every row (a run not known clean).
    Needs ``pybaton_derived`` registered (:mod:`pybaton.sync.incremental`).
    """
    conn.execute("create temp table if not exists inc_candidates (tbl text, id integer, primary key (tbl, id))")
    conn.execute("delete from temp.inc_candidates")
    if whole:
        conn.execute("insert into temp.inc_candidates select 'v1_grants', id from v1_grants where sync_id = ?",
                     (sync_id,))
        conn.execute("insert into temp.inc_candidates select 'v1_entitlements', id from v1_entitlements "
                     "where sync_id = ?", (sync_id,))
    else:
        _touched_candidates(conn, sync_id)
    conn.execute("delete from temp.inc_candidates where tbl = 'v1_grants' and id in (select id from v1_grants "
                 "where id in (select id from temp.inc_candidates where tbl = 'v1_grants') and instr(data, ?) > 0 "
                 "and pybaton_derived(data, entitlement_id) = 1)", (IMMUTABLE_MARK,))
    return check_candidates(conn, sync_id, "temp.inc_candidates")


def _touched_candidates(conn: sqlite3.Connection, sync_id: str) -> None:
    """Rows written since :func:`start_tracking`; grants naming a removed entitlement or principal and
    entitlements on a removed resource (found by their indexes)."""
    conn.execute("insert or ignore into temp.inc_candidates select tbl, id from temp.inc_written")
    conn.execute("insert or ignore into temp.inc_candidates select 'v1_grants', g.id from temp.inc_removed r "
                 "join v1_grants g on g.entitlement_id = r.key and g.sync_id = ? where r.tbl = 'v1_entitlements'",
                 (sync_id,))
    conn.execute("insert or ignore into temp.inc_candidates select 'v1_grants', g.id from temp.inc_removed r "
                 "join v1_grants g on g.principal_resource_type_id = r.rtype "
                 "and g.principal_resource_id = substr(r.key, length(r.rtype) + 2) and g.sync_id = ? "
                 "where r.tbl = 'v1_resources'", (sync_id,))
    conn.execute("insert or ignore into temp.inc_candidates select 'v1_entitlements', e.id from temp.inc_removed r "
                 "join v1_entitlements e on e.resource_type_id = r.rtype "
                 "and e.resource_id = substr(r.key, length(r.rtype) + 2) and e.sync_id = ? "
                 "where r.tbl = 'v1_resources'", (sync_id,))


__all__ = ["TABLES", "apply_diff", "deltas", "floors", "integrity_by_difference", "start_tracking",
           "stats_by_difference", "stop_tracking"]
