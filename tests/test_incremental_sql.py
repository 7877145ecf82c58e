"""The SQL meta-connector's ``changes:`` extension: incremental sync from a change-log table (SQLite)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

pytest.importorskip("cel")

from incremental_support import COMPACTED_RUNS, assert_same_as_full, run_types, sync_once
from sql_support import connector

from pybaton.errors import ConfigError

SCHEMA = """
create table users (id integer primary key, username text unique not null, full_name text);
create table groups_ (id integer primary key, name text not null);
create table members (group_id integer not null, username text not null, primary key (group_id, username));
create table nested (outer_id integer not null, inner_id integer not null, primary key (outer_id, inner_id));
create table changes (seq integer primary key autoincrement, kind text not null, key text not null);
create trigger u_i after insert on users begin insert into changes (kind, key) values ('user', new.username); end;
create trigger u_u after update on users begin insert into changes (kind, key) values ('user', new.username),
    ('user', old.username); end;
create trigger u_d after delete on users begin insert into changes (kind, key) values ('user', old.username); end;
create trigger g_i after insert on groups_ begin insert into changes (kind, key) values ('group', new.id); end;
create trigger g_u after update on groups_ begin insert into changes (kind, key) values ('group', new.id); end;
create trigger g_d after delete on groups_ begin insert into changes (kind, key) values ('group', old.id); end;
create trigger m_i after insert on members begin insert into changes (kind, key) values ('group', new.group_id); end;
create trigger m_d after delete on members begin insert into changes (kind, key) values ('group', old.group_id); end;
create trigger n_i after insert on nested begin insert into changes (kind, key) values ('group', new.outer_id); end;
create trigger n_d after delete on nested begin insert into changes (kind, key) values ('group', old.outer_id); end;
insert into users (username, full_name) values ('ada', 'Ada L'), ('bob', 'Bob B'), ('cy', null), ('dee', 'Dee D');
insert into groups_ (name) values ('eng'), ('ops'), ('all');
insert into members values (1, 'ada'), (1, 'bob'), (2, 'cy'), (3, 'dee');
insert into nested values (3, 1), (3, 2);
"""

CONFIG = """
app_name: Changes test
connect:
  dsn: "sqlite://${CHANGES_DB}"
resource_types:
  user:
    name: User
    list:
      query: SELECT username AS id, full_name, 0 AS deleted FROM users ORDER BY username
      map:
        id: .id
        display_name: ".full_name != null ? .full_name : .id"
        traits:
          user:
            login: .id
    changes:
      query: |
        SELECT c.seq, c.key AS id, u.full_name, u.id IS NULL AS deleted
        FROM changes c LEFT JOIN users u ON u.username = c.key
        WHERE c.kind = 'user' AND c.seq > ?<cursor> ORDER BY c.seq LIMIT ?<limit>
      pagination:
        strategy: cursor
        primary_key: seq
        page_size: 2
      deleted: deleted
      head: SELECT max(seq) FROM changes
  group:
    name: Group
    list:
      query: SELECT id, name FROM groups_ ORDER BY id
      map:
        id: string(.id)
        display_name: .name
        traits:
          group: {}
    changes:
      query: |
        SELECT c.seq, c.key AS id, g.name, g.id IS NULL AS deleted
        FROM changes c LEFT JOIN groups_ g ON g.id = c.key
        WHERE c.kind = 'group' AND c.seq > ?<cursor> ORDER BY c.seq LIMIT ?<limit>
      pagination:
        strategy: cursor
        primary_key: seq
      deleted: deleted
    static_entitlements:
      - id: member
        display_name: "'Member'"
        purpose: assignment
        grantable_to: [user, group]
    grants:
      - vars:
          group_id: resource.ID
        query: SELECT username FROM members WHERE group_id = ?<group_id> ORDER BY username
        map:
          - principal_id: .username
            principal_type: user
            entitlement_id: member
      - vars:
          group_id: resource.ID
        query: SELECT inner_id FROM nested WHERE outer_id = ?<group_id> ORDER BY inner_id
        map:
          - principal_id: string(.inner_id)
            principal_type: group
            entitlement_id: member
            expandable:
              entitlement_ids:
                - "'group:' + string(.inner_id) + ':member'"
"""

CHANGES = [
    "update users set full_name = 'Ada Lovelace' where username = 'ada'",
    "insert into users (username, full_name) values ('eve', 'Eve E')",
    "insert into members values (2, 'eve')",
    "delete from members where group_id = 1 and username = 'bob'",
    "delete from nested where outer_id = 3 and inner_id = 2",
    "delete from users where username = 'cy'; delete from members where username = 'cy'",
    "update groups_ set name = 'Engineering' where id = 1",
    "insert into groups_ (name) values ('new'); insert into nested values (3, 4); insert into members values (4, 'dee')",
    "delete from groups_ where id = 2; delete from members where group_id = 2; delete from nested where inner_id = 2",
]


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    db = tmp_path / "app.db"
    with sqlite3.connect(db) as conn:
        conn.executescript(SCHEMA)
    monkeypatch.setenv("CHANGES_DB", str(db))
    config = tmp_path / "app.yml"
    config.write_text(CONFIG)
    return db, config


def synced(config: Path, out: Path, incremental: bool) -> None:
    sync_once(lambda: connector(config), out, incremental=incremental)


def test_changes_query_gives_the_same_as_a_full_sync(world: tuple[Path, Path], tmp_path: Path) -> None:
    db, config = world
    path = tmp_path / "inc.c1z"
    synced(config, path, incremental=False)
    for change in CHANGES:
        with sqlite3.connect(db) as conn:
            conn.executescript(change)
        synced(config, path, incremental=True)
        assert run_types(path)[-3:] == COMPACTED_RUNS
        assert_same_as_full(lambda: connector(config), path, tmp_path)


def test_changes_needs_cursor_pagination(world: tuple[Path, Path], tmp_path: Path) -> None:
    _, config = world
    config.write_text(CONFIG.replace("      pagination:\n        strategy: cursor\n        primary_key: seq\n      deleted",
                                     "      deleted", 1))
    with pytest.raises(ConfigError, match=r"'group', changes.pagination \(.*app.yml:36\): needs pagination with "
                                          "strategy cursor"):
        connector(config).validate()
