"""The SQL meta-connector over PostgreSQL: 100,000 users, 1,000 groups, 1,000,000 memberships.

Seeds a throw-away PostgreSQL (``generate_series``, so seeding is not what is
measured), writes a baton-sql config of three resource types (users, groups,
roles), every query paginated by cursor, then runs ``pybaton sync sql`` in a
child process and prints the wall and CPU time, peak RSS and what was stored,
with the calibration figure before and after (on a shared machine wall time is
mostly waiting for a core). Default settings: no page size in the config nor
from the engine, so the connector's preferred page (5,000 rows) applies.
Target (issue 19): ≤ 20 s, ≤ 500 MB on this 2-core machine; the Go baton-sql is
the peer.

Usage: python bench/bench_sql.py [--users N --groups N --per-group N --page-size N]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from _measure import calibration_seconds, measure_sync

from pybaton.testing.servers import PostgresServer

CONFIG = """\
app_name: SQL benchmark
connect:
  dsn: "postgres://${{BENCH_USER}}:${{BENCH_PASSWORD}}@127.0.0.1:${{BENCH_PORT}}/bench"
resource_types:
  user:
    name: User
    list:
      query: |
        SELECT id, username, email, status FROM users
        WHERE id > ?<cursor> ORDER BY id LIMIT ?<limit>
      pagination: {{strategy: cursor, primary_key: id, page_size: {page}}}
      map:
        id: .id
        display_name: .username
        traits:
          user:
            emails: [.email]
            login: .username
            status: .status
            profile:
              username: .username
  group:
    name: Group
    list:
      query: SELECT id, name FROM groups WHERE id > ?<cursor> ORDER BY id LIMIT ?<limit>
      pagination: {{strategy: cursor, primary_key: id, page_size: {page}}}
      map:
        id: .id
        display_name: .name
        traits:
          group:
            profile:
              name: .name
    static_entitlements:
      - id: member
        display_name: "resource.DisplayName + ' member'"
        purpose: assignment
        grantable_to: [user]
    grants:
      - vars:
          group_id: resource.ID
        query: |
          SELECT user_id FROM memberships
          WHERE group_id = ?<group_id>::int AND user_id > ?<cursor>
          ORDER BY user_id LIMIT ?<limit>
        pagination: {{strategy: cursor, primary_key: user_id, page_size: {page}}}
        map:
          - principal_id: .user_id
            principal_type: user
            entitlement_id: member
  role:
    name: Role
    list:
      query: SELECT id, name FROM roles WHERE id > ?<cursor> ORDER BY id LIMIT ?<limit>
      pagination: {{strategy: cursor, primary_key: id, page_size: {page}}}
      map:
        id: .name
        display_name: titleCase(.name)
        traits:
          role: {{}}
    static_entitlements:
      - id: assigned
        display_name: "resource.DisplayName + ' (assigned)'"
        purpose: assignment
        grantable_to: [user, group]
    grants:
      - vars:
          role: resource.ID
        query: |
          SELECT g.id FROM groups g JOIN roles r ON r.id = g.role_id
          WHERE r.name = ?<role> AND g.id > ?<cursor> ORDER BY g.id LIMIT ?<limit>
        pagination: {{strategy: cursor, primary_key: id, page_size: {page}}}
        map:
          - principal_id: .id
            principal_type: group
            entitlement_id: assigned
"""


def seed(pg: PostgresServer, users: int, groups: int, per_group: int) -> None:
    pg.psql("DROP DATABASE IF EXISTS bench;")
    pg.create_database("bench")
    pg.psql(f"""
        CREATE TABLE roles (id int PRIMARY KEY, name text NOT NULL);
        INSERT INTO roles SELECT i, 'role' || i FROM generate_series(1, 10) i;
        CREATE TABLE users (id int PRIMARY KEY, username text NOT NULL, email text NOT NULL, status text NOT NULL);
        INSERT INTO users SELECT i, 'user' || i, 'user' || i || '@example.org',
               CASE WHEN i % 50 = 0 THEN 'disabled' ELSE 'active' END FROM generate_series(1, {users}) i;
        CREATE TABLE groups (id int PRIMARY KEY, name text NOT NULL, role_id int NOT NULL);
        INSERT INTO groups SELECT i, 'group' || i, 1 + i % 10 FROM generate_series(1, {groups}) i;
        CREATE TABLE memberships (group_id int NOT NULL, user_id int NOT NULL, PRIMARY KEY (group_id, user_id));
        INSERT INTO memberships
          SELECT g, 1 + (g * 7919 + s) % {users} FROM generate_series(1, {groups}) g, generate_series(0, {per_group - 1}) s;
        ANALYZE;
    """, db="bench", timeout=900)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--groups", type=int, default=1_000)
    parser.add_argument("--per-group", type=int, default=1_000)
    parser.add_argument("--page-size", type=int, default=0, help="a page_size in the config (0: none)")
    args = parser.parse_args()
    with PostgresServer(settings={"shared_buffers": "256MB"}) as pg, tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        seed(pg, args.users, args.groups, args.per_group)
        print(f"seeded {args.users:,} users, {args.groups:,} groups, {args.groups * args.per_group:,} memberships "
              f"in {time.perf_counter() - started:.1f} s", flush=True)
        config = Path(tmp) / "bench.yml"
        config.write_text(CONFIG.format(page=args.page_size))
        env = {**os.environ, "BENCH_USER": pg.superuser, "BENCH_PASSWORD": pg.superuser_password,
               "BENCH_PORT": str(pg.port)}
        before = calibration_seconds()
        figures = measure_sync(["sql", "--config", str(config)], Path(tmp) / "bench.c1z", env)
        after = calibration_seconds()
    pages = f"pages of {args.page_size}" if args.page_size else "default settings"
    print(f"sql sync on PostgreSQL (3 resource types, cursor {pages}): {figures.seconds:.1f} s wall "
          f"[target <= 20 s], {figures.cpu_seconds:.1f} s CPU (user+sys), peak RSS {figures.peak_rss_mb:.0f} MB "
          f"[target <= 500 MB]; calibration {before:.2f} / {after:.2f} s before / after (idle ~0.2-0.3)")
    print(f"  stored {figures.count('resources'):,} resources, {figures.count('entitlements'):,} entitlements, "
          f"{figures.count('grants'):,} grants; .c1z {figures.file_mb:.1f} MB; "
          f"{figures.count('grants') / figures.seconds:,.0f} grants/s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
