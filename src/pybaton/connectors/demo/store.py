"""The demo system's database: a small SQLite file seeded with Acme Corp on first use.

It plays the part a real API plays for other connectors: the syncers read it a
page at a time and the provisioning capabilities write to it, so a grant made
through pybaton shows up in the next sync. One connection guarded by a lock
(the sync engine may call from several worker threads); WAL and a busy
timeout let a provisioning command and a sync share the file.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pybaton.connectors.demo import changelog, credentials, seed

SCHEMA_VERSION = "1"
DB_NAME = "acme.sqlite"

# Resource type → table. Table names are never taken from input, only from here.
TABLES = {"user": "users", "group": "groups", "role": "roles", "app": "apps", "project": "projects",
          "api_key": "api_keys"}

_SCHEMA = """
create table if not exists meta (key text primary key, value text not null);
create table if not exists users (
    id text primary key, display_name text not null, email text not null, department text not null,
    team text, title text not null, manager_id text, employee_id text not null, status text not null,
    account_type text not null, created_at text not null);
create table if not exists groups (id text primary key, display_name text not null, description text not null);
create table if not exists roles (id text primary key, display_name text not null, description text not null);
create table if not exists apps (
    id text primary key, display_name text not null, description text not null, help_url text not null);
create table if not exists projects (
    id text primary key, app_id text not null, display_name text not null, description text not null);
create table if not exists api_keys (
    id text primary key, display_name text not null, owner_id text not null, created_by_id text not null,
    created_at text not null, expires_at text not null);
create table if not exists entitlements (
    seq integer primary key, resource_type text not null, resource_id text not null, slug text not null,
    display_name text not null, purpose text not null, unique (resource_type, resource_id, slug));
create table if not exists access (
    seq integer primary key, resource_type text not null, resource_id text not null, slug text not null,
    principal_type text not null, principal_id text not null,
    unique (resource_type, resource_id, slug, principal_type, principal_id));
create index if not exists access_principal on access (principal_type, principal_id);
create table if not exists credentials (
    resource_type text not null, resource_id text not null, hash text not null,
    primary key (resource_type, resource_id));
"""

Row = sqlite3.Row


class DemoStore:
    """Typed queries over the demo database. Open with :meth:`open`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("pragma journal_mode=wal")

    @classmethod
    def open(cls, data_dir: Path, *, reset: bool = False) -> DemoStore:
        """Open (creating and seeding on first use) the database under ``data_dir``."""
        data_dir.mkdir(parents=True, exist_ok=True)
        store = cls(data_dir / DB_NAME)
        store.ensure_seeded(reset=reset)
        return store

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One immediate transaction: concurrent writers (two processes) queue instead of interleaving."""
        with self._lock:
            self._conn.execute("begin immediate")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("rollback")
                raise
            self._conn.execute("commit")

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        with self._lock:
            return list(self._conn.execute(sql, params))

    def _one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        with self._lock:
            row: Row | None = self._conn.execute(sql, params).fetchone()
            return row

    # -- seeding -------------------------------------------------------------------------------

    def ensure_seeded(self, *, reset: bool = False) -> None:
        """Create the schema and load Acme Corp once (or again, with ``reset``)."""
        with self._write() as conn:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            changelog.install(conn, TABLES)
            seeded = conn.execute("select value from meta where key = 'schema'").fetchone()
            if seeded is not None and not reset:
                return
            for table in (*TABLES.values(), "entitlements", "access", "credentials", "meta"):
                conn.execute(f"delete from {table}")
            _seed(conn)
            conn.execute("insert into meta (key, value) values ('schema', ?)", (SCHEMA_VERSION,))

    # -- reads ---------------------------------------------------------------------------------

    def page(self, resource_type: str, *, after: str, size: int,
             parent: tuple[str, str] | None = None) -> list[Row]:
        """Up to ``size`` rows of a type with id > ``after``, in id order (keyset pagination).

        ``parent`` is ``(column, value)`` for child types (projects of one app).
        """
        table = TABLES[resource_type]
        where, params = "id > ?", [after]
        if parent is not None:
            where += f" and {parent[0]} = ?"
            params.append(parent[1])
        return self._all(f"select * from {table} where {where} order by id limit ?", [*params, size])

    def get(self, resource_type: str, resource_id: str) -> Row | None:
        table = TABLES.get(resource_type)
        if table is None:
            return None
        return self._one(f"select * from {table} where id = ?", (resource_id,))

    def exists(self, resource_type: str, resource_id: str) -> bool:
        return self.get(resource_type, resource_id) is not None

    def entitlements(self, resource_type: str, resource_id: str, *, after: int, size: int) -> list[Row]:
        return self._all("select * from entitlements where resource_type = ? and resource_id = ? and seq > ? "
                         "order by seq limit ?", (resource_type, resource_id, after, size))

    def has_entitlement(self, resource_type: str, resource_id: str, slug: str) -> bool:
        return self._one("select 1 from entitlements where resource_type = ? and resource_id = ? and slug = ?",
                         (resource_type, resource_id, slug)) is not None

    def access(self, resource_type: str, resource_id: str, *, after: int, size: int) -> list[Row]:
        """Direct grants on one resource, in insertion order (keyset on ``seq``)."""
        return self._all("select * from access where resource_type = ? and resource_id = ? and seq > ? "
                         "order by seq limit ?", (resource_type, resource_id, after, size))

    def group_contains(self, outer: str, inner: str) -> bool:
        """Whether group ``inner`` is ``outer`` or nested inside it at any depth."""
        row = self._one("""
            with recursive inside(id) as (
                select ? union
                select a.principal_id from access a join inside on a.resource_id = inside.id
                where a.resource_type = 'group' and a.slug = 'member' and a.principal_type = 'group')
            select 1 from inside where id = ?""", (outer, inner))
        return row is not None

    def change_cursor(self) -> str:
        with self._lock:
            return changelog.head(self._conn)

    def changed_since(self, resource_type: str, cursor: str) -> tuple[list[str], str]:
        """Ids of ``resource_type`` changed after ``cursor`` (see :mod:`changelog`), and the new cursor."""
        with self._lock:
            return changelog.changed_since(self._conn, resource_type, cursor)

    def change_entries(self, cursor: str, limit: int) -> list[dict[str, Any]]:
        with self._lock:
            return changelog.entries(self._conn, cursor, limit)

    def trim_changelog(self, upto: int) -> None:
        with self._write() as conn:
            changelog.trim(conn, upto)

    # -- writes --------------------------------------------------------------------------------

    def add_access(self, resource_type: str, resource_id: str, slug: str, principal_type: str,
                   principal_id: str) -> bool:
        """Grant; False when it was already there (idempotent)."""
        with self._write() as conn:
            cur = conn.execute("insert or ignore into access (resource_type, resource_id, slug, principal_type, "
                               "principal_id) values (?, ?, ?, ?, ?)",
                               (resource_type, resource_id, slug, principal_type, principal_id))
            return cur.rowcount > 0

    def remove_access(self, resource_type: str, resource_id: str, slug: str, principal_type: str,
                      principal_id: str) -> bool:
        """Revoke; False when it was already gone (idempotent)."""
        with self._write() as conn:
            cur = conn.execute("delete from access where resource_type = ? and resource_id = ? and slug = ? "
                               "and principal_type = ? and principal_id = ?",
                               (resource_type, resource_id, slug, principal_type, principal_id))
            return cur.rowcount > 0

    def create_user(self, person: seed.Person, password_hash: str | None) -> bool:
        """Insert a user (and its credential); False when the id is taken."""
        with self._write() as conn:
            if conn.execute("select 1 from users where id = ?", (person.id,)).fetchone():
                return False
            _insert_person(conn, person)
            if password_hash is not None:
                _set_credential(conn, "user", person.id, password_hash)
            return True

    def set_credential(self, resource_type: str, resource_id: str, secret_hash: str) -> None:
        with self._write() as conn:
            _set_credential(conn, resource_type, resource_id, secret_hash)

    def check_secret(self, resource_type: str, resource_id: str, value: str) -> bool:
        row = self._one("select hash from credentials where resource_type = ? and resource_id = ?",
                        (resource_type, resource_id))
        return row is not None and credentials.verify(value, str(row["hash"]))

    def check_password(self, login: str, password: str) -> bool:
        """Whether ``password`` is the current password of the user ``login`` (tests, demos)."""
        return self.check_secret("user", login, password)

    def delete(self, resource_type: str, resource_id: str) -> bool:
        """Delete a resource and everything that refers to it; False when already gone."""
        with self._write() as conn:
            return _delete(conn, resource_type, resource_id)


def _delete(conn: sqlite3.Connection, resource_type: str, resource_id: str) -> bool:
    table = TABLES[resource_type]
    if conn.execute(f"delete from {table} where id = ?", (resource_id,)).rowcount == 0:
        return False
    conn.execute("delete from access where (resource_type = ? and resource_id = ?) "
                 "or (principal_type = ? and principal_id = ?)",
                 (resource_type, resource_id, resource_type, resource_id))
    conn.execute("delete from credentials where resource_type = ? and resource_id = ?",
                 (resource_type, resource_id))
    if resource_type == "user":
        conn.execute("update users set manager_id = null where manager_id = ?", (resource_id,))
        for (key_id,) in conn.execute("select id from api_keys where owner_id = ?", (resource_id,)).fetchall():
            _delete(conn, "api_key", key_id)
    return True


def _set_credential(conn: sqlite3.Connection, resource_type: str, resource_id: str, secret_hash: str) -> None:
    conn.execute("insert into credentials (resource_type, resource_id, hash) values (?, ?, ?) "
                 "on conflict (resource_type, resource_id) do update set hash = excluded.hash",
                 (resource_type, resource_id, secret_hash))


def _insert_person(conn: sqlite3.Connection, p: seed.Person) -> None:
    conn.execute("insert into users values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                 (p.id, p.display_name, p.email, p.department, p.team, p.title, p.manager_id, p.employee_id,
                  p.status, p.account_type, p.created_at))


def _seed(conn: sqlite3.Connection) -> None:
    for person in seed.people():
        _insert_person(conn, person)
    conn.executemany("insert into groups values (?, ?, ?)",
                     [(g.id, g.display_name, g.description) for g in seed.groups()])
    conn.executemany("insert into roles values (?, ?, ?)", seed.ROLES)
    conn.executemany("insert into apps values (?, ?, ?, ?)",
                     [(a.id, a.display_name, a.description, a.help_url) for a in seed.APPS])
    conn.executemany("insert into projects values (?, ?, ?, ?)",
                     [(p.id, p.app_id, p.display_name, p.description) for p in seed.PROJECTS])
    conn.executemany("insert into api_keys values (?, ?, ?, ?, ?, ?)",
                     [(k.id, k.display_name, k.owner_id, k.created_by_id, k.created_at, k.expires_at)
                      for k in seed.api_keys()])
    conn.executemany("insert into entitlements (resource_type, resource_id, slug, display_name, purpose) "
                     "values (?, ?, ?, ?, ?)",
                     [(e.resource_type, e.resource_id, e.slug, e.display_name, e.purpose)
                      for e in seed.entitlement_rows()])
    conn.executemany("insert into access (resource_type, resource_id, slug, principal_type, principal_id) "
                     "values (?, ?, ?, ?, ?)",
                     [(a.resource_type, a.resource_id, a.slug, a.principal_type, a.principal_id)
                      for a in seed.access()])
