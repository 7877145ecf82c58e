"""The SQL meta-connector over MariaDB with default settings: 100,000 users, 1,000 groups, 1,000,000 memberships.

The dataset and config shape of issue 19 (../shared/workloads): memberships are
deterministic pseudo-random unique (user, group) pairs, x = (k * 54435761 + 7)
mod 10^8, user = x mod 10^5 + 1, group = x div 10^5 + 1; users and groups are
paged by cursor and each group's members come from a per-group grants query
that binds the group id through ``vars``. ``pybaton sync sql`` runs in a child
with no page-size or other flags. Targets: <= 40 s, <= 500 MB (Go baton-sql:
1,860 s on the same server; pybaton before issue 19: 106.6 s default, 82 s with
--page-size 1000; the sql connector now asks for 5,000 rows a query by default).
The driver is mysqlclient when installed (``make native``), else PyMySQL;
``--driver pymysql`` measures the fallback. Wall time on a shared machine is
mostly waiting for a core: CPU seconds and the calibration figure are printed
beside it. Usage: python bench/bench_sql_mariadb.py [--memberships N] [--driver pymysql]
"""

from __future__ import annotations

import argparse
import os
import secrets
import tempfile
import time
from pathlib import Path

from _measure import calibration_seconds, measure_sync

from pybaton.connectors.sql.mysql import DRIVER_ENV, DRIVERS, mysql_driver
from pybaton.testing.servers import MariaDBServer

CONFIG = """\
app_name: SQL benchmark (MariaDB)
connect:
  dsn: "mysql://${DB_USER}:${DB_PASS}@127.0.0.1:${DB_PORT}/batonperf"
resource_types:
  user:
    name: User
    list:
      query: |
        SELECT id, login, email, status FROM users
        WHERE id > ?<Cursor> ORDER BY id ASC LIMIT ?<Limit>
      pagination: {strategy: cursor, primary_key: id}
      map:
        id: .id
        display_name: .login
        description: .email
        traits:
          user:
            emails: [.email]
            status: .status
            login: .login
  group:
    name: Group
    list:
      query: |
        SELECT id, name FROM `groups`
        WHERE id > ?<Cursor> ORDER BY id ASC LIMIT ?<Limit>
      pagination: {strategy: cursor, primary_key: id}
      map:
        id: .id
        display_name: .name
        traits:
          group:
            profile:
              name: .name
    static_entitlements:
      - id: member
        display_name: "resource.DisplayName + ' Member'"
        description: "'Member of ' + resource.DisplayName"
        purpose: assignment
        grantable_to: [user]
    grants:
      - query: |
          SELECT user_id, group_id FROM memberships
          WHERE group_id = ?<group_id> AND user_id > ?<Cursor>
          ORDER BY user_id ASC LIMIT ?<Limit>
        vars:
          group_id: resource.ID
        map:
          - principal_id: .user_id
            principal_type: user
            entitlement_id: member
        pagination: {strategy: cursor, primary_key: user_id}
"""


def seed(db: MariaDBServer, users: int, groups: int, memberships: int) -> None:
    db.sql(f"""
        CREATE DATABASE batonperf;
        USE batonperf;
        CREATE TABLE users (id BIGINT PRIMARY KEY, login VARCHAR(64) NOT NULL, email VARCHAR(128) NOT NULL,
                            status VARCHAR(16) NOT NULL);
        INSERT INTO users SELECT seq, CONCAT('user', LPAD(seq, 6, '0')),
               CONCAT('user', LPAD(seq, 6, '0'), '@example.com'), IF(seq % 10 = 0, 'disabled', 'active')
          FROM seq_1_to_{users};
        CREATE TABLE `groups` (id BIGINT PRIMARY KEY, name VARCHAR(64) NOT NULL);
        INSERT INTO `groups` SELECT seq, CONCAT('group', LPAD(seq, 4, '0')) FROM seq_1_to_{groups};
        CREATE TABLE memberships (user_id BIGINT NOT NULL, group_id BIGINT NOT NULL,
                                  PRIMARY KEY (group_id, user_id), KEY idx_memberships_user (user_id));
        INSERT INTO memberships SELECT (x MOD {users}) + 1, (x DIV {users}) + 1
          FROM (SELECT (seq * 54435761 + 7) MOD {users * groups} AS x FROM seq_0_to_{memberships - 1}) t;
        ANALYZE TABLE users, `groups`, memberships;
    """, timeout=1800)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memberships", type=int, default=1_000_000)
    parser.add_argument("--driver", choices=DRIVERS, help="force a MySQL driver (default: mysqlclient if installed)")
    args = parser.parse_args()
    if args.driver:
        os.environ[DRIVER_ENV] = args.driver
    driver = mysql_driver().name
    users, groups = 100_000, 1_000
    with MariaDBServer() as db, tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        seed(db, users, groups, args.memberships)
        password = secrets.token_urlsafe(16)
        db.create_user("bench", password, ["SELECT ON batonperf.*"])
        print(f"seeded {users:,} users, {groups:,} groups, {args.memberships:,} memberships "
              f"in {time.perf_counter() - started:.1f} s", flush=True)
        config = Path(tmp) / "perf.yml"
        config.write_text(CONFIG)
        env = {**os.environ, "DB_USER": "bench", "DB_PASS": password, "DB_PORT": str(db.port)}
        before = calibration_seconds()
        figures = measure_sync(["sql", "--config", str(config)], Path(tmp) / "perf.c1z", env)
        after = calibration_seconds()
    print(f"sql sync on MariaDB ({driver}), default settings: {figures.seconds:.1f} s wall [target <= 40 s], "
          f"{figures.cpu_seconds:.1f} s CPU (user+sys), peak RSS {figures.peak_rss_mb:.0f} MB [target <= 500 MB], "
          f"{figures.count('grants'):,} grants; calibration {before:.2f} / {after:.2f} s before / after "
          f"(idle ~0.2-0.3)   [Go baton-sql 1,860 s; before issue 19: 106.6 s]", flush=True)


if __name__ == "__main__":
    main()
