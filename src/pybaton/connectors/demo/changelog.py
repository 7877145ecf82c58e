"""The demo system's change log: what ``sync --incremental`` asks for.

SQLite triggers record every insert, update and delete of a resource table, of
``entitlements`` and of ``access`` (a grant or revoke is logged as a change of
the resource granted on), so any write — through pybaton's provisioning, the
tests, or by hand with ``sqlite3`` — lands in the log. A cursor is the log's
last sequence number; :func:`trim` drops old entries, after which an older
cursor is reported expired, as a real system's change feed would.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from pybaton.errors import CursorExpiredError

_TABLES = (
    "create table if not exists changelog (seq integer primary key autoincrement, resource_type text not null, "
    "resource_id text not null, event text not null default 'change', slug text, principal_type text, "
    "principal_id text, changed_at text not null default (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))",
    "create table if not exists changelog_floor (id integer primary key check (id = 1), seq integer not null)",
)

# What each logged write means as a Baton event: a grant, a revoke, or "this resource changed".
_ACCESS_EVENT = {"INSERT": "grant", "DELETE": "revoke", "UPDATE": "change"}


def _trigger(name: str, table: str, when: str, row: str, rtype: str, rid: str, event: str = "change",
             access: bool = False, condition: str = "") -> str:
    columns, values = "resource_type, resource_id, event", f"{rtype}, {row}.{rid}, '{event}'"
    if access:
        columns += ", slug, principal_type, principal_id"
        values += f", {row}.slug, {row}.principal_type, {row}.principal_id"
    guard = f" when {condition}" if condition else ""
    return (f"create trigger if not exists changelog_{name}_{when.lower()} after {when} on {table}{guard} begin "
            f"insert into changelog ({columns}) values ({values}); end")


def install(conn: sqlite3.Connection, tables: dict[str, str]) -> None:
    """Create the log and its triggers (idempotent; an existing database gains them on open)."""
    script = list(_TABLES)
    for rtype, table in tables.items():
        for when, row in (("INSERT", "new"), ("UPDATE", "new"), ("DELETE", "old")):
            script.append(_trigger(table, table, when, row, f"'{rtype}'", "id"))
        script.append(_trigger(f"{table}_rekey", table, "UPDATE", "old", f"'{rtype}'", "id",
                               condition="old.id is not new.id"))
    for when, row in (("INSERT", "new"), ("UPDATE", "new"), ("DELETE", "old")):
        script.append(_trigger("access", "access", when, row, f"{row}.resource_type", "resource_id",
                               _ACCESS_EVENT[when], access=True))
        script.append(_trigger("entitlements", "entitlements", when, row, f"{row}.resource_type", "resource_id"))
    for statement in script:  # one by one: executescript would commit the caller's transaction
        conn.execute(statement)


def entries(conn: sqlite3.Connection, cursor: str, limit: int) -> list[dict[str, Any]]:
    """Log entries after ``cursor``, oldest first (the event feed's page)."""
    after = _position(conn, cursor)
    cur = conn.execute("select * from changelog where seq > ? order by seq limit ?", (after, limit))
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _position(conn: sqlite3.Connection, cursor: str) -> int:
    if not cursor:
        return 0
    try:
        after = int(cursor)
    except ValueError:
        raise CursorExpiredError(f"demo: {cursor!r} is not a change cursor of this database") from None
    floor = conn.execute("select seq from changelog_floor").fetchone()
    if floor is not None and after < int(floor[0]):
        raise CursorExpiredError(f"demo: the change log was trimmed past cursor {after}")
    return after


def head(conn: sqlite3.Connection) -> str:
    """The cursor for "now": the last sequence number written."""
    row = conn.execute("select coalesce(max(seq), 0) from changelog").fetchone()
    floor = conn.execute("select seq from changelog_floor").fetchone()
    return str(max(int(row[0]), int(floor[0]) if floor else 0))


def changed_since(conn: sqlite3.Connection, resource_type: str, cursor: str) -> tuple[list[str], str]:
    """Ids of ``resource_type`` changed after ``cursor``, and the cursor after them."""
    after = _position(conn, cursor or "0")
    top = int(head(conn))
    ids = [r[0] for r in conn.execute(
        "select distinct resource_id from changelog where seq > ? and seq <= ? and resource_type = ? "
        "order by resource_id", (after, top, resource_type))]
    return ids, str(top)


def trim(conn: sqlite3.Connection, upto: int) -> None:
    """Forget entries up to ``upto``: cursors before it expire."""
    conn.execute("delete from changelog where seq <= ?", (upto,))
    conn.execute("insert into changelog_floor (id, seq) values (1, ?) on conflict (id) do update set "
                 "seq = max(seq, excluded.seq)", (upto,))
