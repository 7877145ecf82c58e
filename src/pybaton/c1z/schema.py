"""The SQLite layout of a v1 ``.c1z``, as Baton's Go SDK (v0.25) writes and reads it.

Table, column and index names are a compatibility contract: the Go ``baton`` CLI
opens files we write, and we open files written by every Go SDK since v0.2.
Older files lack some columns and tables; :func:`migrate` adds them (with the
defaults Go uses) to our private working copy, never to the packed original.
"""

from __future__ import annotations

import sqlite3

TABLES = (
    "v1_resource_types",
    "v1_resources",
    "v1_entitlements",
    "v1_grants",
    "v1_sync_runs",
    "v1_assets",
    "v1_connector_sessions",
)

_CREATE_TABLES = """
create table if not exists v1_resource_types (
    id integer primary key,
    external_id text not null,
    data blob not null,
    sync_id text not null,
    discovered_at datetime not null
);
create table if not exists v1_resources (
    id integer primary key,
    resource_type_id text not null,
    external_id text not null,
    parent_resource_type_id text,
    parent_resource_id text,
    data blob not null,
    sync_id text not null,
    discovered_at datetime not null
);
create table if not exists v1_entitlements (
    id integer primary key,
    resource_type_id text not null,
    resource_id text not null,
    external_id text not null,
    data blob not null,
    sync_id text not null,
    discovered_at datetime not null
);
create table if not exists v1_sync_runs (
    id integer primary key,
    sync_id text not null,
    started_at datetime not null,
    ended_at datetime,
    sync_token text not null,
    sync_type text not null default 'full',
    parent_sync_id text not null default '',
    linked_sync_id text not null default '',
    supports_diff integer not null default 0,
    grants_backfilled integer not null default 0,
    stats text,
    ingest_invariant_generation text not null default '',
    ingest_invariant_coverage text not null default '',
    ingest_invariant_mode text not null default ''
);
create table if not exists v1_grants (
    id integer primary key,
    resource_type_id text not null,
    resource_id text not null,
    entitlement_id text not null,
    principal_resource_type_id text not null,
    principal_resource_id text not null,
    external_id text not null,
    expansion blob,
    needs_expansion integer not null default 0,
    data blob not null,
    sync_id text not null,
    discovered_at datetime not null
);
create table if not exists v1_assets (
    id integer primary key,
    external_id text not null,
    content_type text not null,
    data blob not null,
    sync_id text not null,
    discovered_at datetime not null
);
create table if not exists v1_connector_sessions (
    id integer primary key,
    sync_id text not null,
    key text not null,
    value blob not null
);
"""

# (name, table, columns, unique, where). Names are Go's, including its swapped ones.
INDEXES: tuple[tuple[str, str, str, bool, str], ...] = (
    ("idx_resource_types_external_sync_v1", "v1_resource_types", "external_id, sync_id", True, ""),
    ("idx_resources_resource_type_id_v1", "v1_resources", "resource_type_id", False, ""),
    ("idx_resources_external_sync_v1", "v1_resources", "parent_resource_type_id, parent_resource_id", False, ""),
    ("idx_resources_parent_resource_id_v1", "v1_resources", "external_id, sync_id", True, ""),
    ("idx_entitlements_resource_id_v1", "v1_entitlements", "resource_type_id, resource_id", False, ""),
    ("idx_entitlements_external_sync_v1", "v1_entitlements", "external_id, sync_id", True, ""),
    ("idx_sync_runs_sync_id_v1", "v1_sync_runs", "sync_id", True, ""),
    ("idx_grants_resource_type_id_resource_id_v1", "v1_grants", "resource_type_id, resource_id", False, ""),
    ("idx_grants_principal_id_v1", "v1_grants", "principal_resource_type_id, principal_resource_id", False, ""),
    ("idx_grants_entitlement_id_principal_id_v1", "v1_grants",
     "entitlement_id, principal_resource_type_id, principal_resource_id", False, ""),
    ("idx_grants_external_sync_v1", "v1_grants", "external_id, sync_id", True, ""),
    ("idx_grants_entitlement_sync_grant_v1", "v1_grants", "entitlement_id, sync_id, id", False, ""),
    ("idx_grants_sync_expansion_v1", "v1_grants", "sync_id", False, "expansion is not null"),
    ("idx_grants_sync_needs_expansion_v1", "v1_grants", "sync_id", False, "needs_expansion = 1"),
    ("idx_assets_external_sync_v1", "v1_assets", "external_id, sync_id", True, ""),
    ("idx_session_store_sync_key_v1", "v1_connector_sessions", "sync_id, key", True, ""),
)

# Columns newer SDKs added to older tables: (table, column, declaration).
_ADDED_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("v1_sync_runs", "sync_type", "text not null default 'full'"),
    ("v1_sync_runs", "parent_sync_id", "text not null default ''"),
    ("v1_sync_runs", "linked_sync_id", "text not null default ''"),
    ("v1_sync_runs", "supports_diff", "integer not null default 0"),
    ("v1_sync_runs", "grants_backfilled", "integer not null default 0"),
    ("v1_sync_runs", "stats", "text"),
    ("v1_sync_runs", "ingest_invariant_generation", "text not null default ''"),
    ("v1_sync_runs", "ingest_invariant_coverage", "text not null default ''"),
    ("v1_sync_runs", "ingest_invariant_mode", "text not null default ''"),
    ("v1_grants", "expansion", "blob"),
    ("v1_grants", "needs_expansion", "integer not null default 0"),
)


def index_sql(name: str, table: str, columns: str, unique: bool, where: str) -> str:
    kind = "unique index" if unique else "index"
    tail = f" where {where}" if where else ""
    return f"create {kind} if not exists {name} on {table} ({columns}){tail}"


def create(conn: sqlite3.Connection) -> None:
    """Create every table and index of the current layout (idempotent)."""
    conn.executescript(_CREATE_TABLES)
    for spec in INDEXES:
        conn.execute(index_sql(*spec))


def columns_of(conn: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in conn.execute(f"pragma table_info({table})")}


def migrate(conn: sqlite3.Connection, *, indexes: bool = True) -> bool:
    """Bring an older layout up to the current one; return True if anything changed.

    Readers pass ``indexes=False``: building an index Go's older SDKs did not
    create costs seconds on a big file and only pays off for writers.
    """
    changed = False
    for table, column, decl in _ADDED_COLUMNS:
        if column not in columns_of(conn, table):
            conn.execute(f"alter table {table} add column {column} {decl}")
            changed = True
    if not indexes:
        return changed
    existing = {row[0] for row in conn.execute("select name from sqlite_master where type='table'")}
    missing_tables = [t for t in TABLES if t not in existing]
    existing_idx = {row[0] for row in conn.execute("select name from sqlite_master where type='index'")}
    if missing_tables or any(spec[0] not in existing_idx for spec in INDEXES):
        create(conn)
        changed = True
    return changed
