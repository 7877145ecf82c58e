"""Full sync of the ``postgres`` connector against a real PostgreSQL: 5,000 roles, 200 tables with grants.

Starts a throw-away server (pybaton.testing.servers), builds the cluster, then
times ``pybaton sync postgres`` in a child process (wall time, peak RSS),
expansion of nested roles and of PUBLIC included.

Shape (defaults): 4,500 LOGIN roles and 500 group roles; every user in 3
groups, 100 groups nested inside others; one database with 4 schemas and 200
tables, each granting SELECT to 5 groups, INSERT/UPDATE to 2 groups and
SELECT to 3 users directly (with a grant option for one of them).
Usage: python bench/bench_postgres.py [--users N --groups N --tables N --workers N --no-expand-public]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from _measure import measure_sync

from pybaton.testing.servers import PostgresServer


def cluster_sql(users: int, groups: int, rng: random.Random) -> str:
    """Roles and memberships, as one script (a few seconds for psql)."""
    lines = [f"CREATE ROLE g{g:04d} NOLOGIN;" for g in range(groups)]
    lines += [f"CREATE ROLE u{u:05d} LOGIN;" for u in range(users)]
    lines += [f"GRANT g{g:04d} TO g{rng.randrange(g):04d};" for g in range(groups // 5 + 1, groups // 5 * 2)]
    for u in range(users):
        chosen = ", ".join(f"g{g:04d}" for g in rng.sample(range(groups), 3))
        lines.append(f"GRANT {chosen} TO u{u:05d};")
    return "\n".join(lines)


def database_sql(tables: int, users: int, groups: int, rng: random.Random) -> str:
    lines = [f"CREATE SCHEMA s{s};" for s in range(4)]
    for t in range(tables):
        name = f"s{t % 4}.t{t:04d}"
        lines.append(f"CREATE TABLE {name} (id int primary key, payload text);")
        lines.append(f"GRANT SELECT ON {name} TO {', '.join(f'g{g:04d}' for g in rng.sample(range(groups), 5))};")
        lines.append(f"GRANT INSERT, UPDATE ON {name} TO {', '.join(f'g{g:04d}' for g in rng.sample(range(groups), 2))};")
        direct = [f"u{u:05d}" for u in rng.sample(range(users), 3)]
        lines.append(f"GRANT SELECT ON {name} TO {', '.join(direct[1:])};")
        lines.append(f"GRANT SELECT ON {name} TO {direct[0]} WITH GRANT OPTION;")
    lines += [f"GRANT USAGE ON SCHEMA s{s} TO {', '.join(f'g{g:04d}' for g in range(s, groups, 4))};"
              for s in range(4)]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--users", type=int, default=4500)
    ap.add_argument("--groups", type=int, default=500)
    ap.add_argument("--tables", type=int, default=200)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--no-expand-public", action="store_true", help="pass --no-expand-public to the connector")
    args = ap.parse_args()
    rng = random.Random(6)
    with PostgresServer() as pg, tempfile.TemporaryDirectory() as tmp:
        began = time.perf_counter()
        pg.psql(cluster_sql(args.users, args.groups, rng))
        pg.create_database("benchdb")
        pg.psql(database_sql(args.tables, args.users, args.groups, rng), "benchdb")
        setup = time.perf_counter() - began
        out = Path(tmp) / "pg.c1z"
        extra = ["--no-expand-public"] if args.no_expand_public else []
        fig = measure_sync(["postgres", "--dsn", pg.dsn(), "--workers", str(args.workers), *extra], out)
        print(f"sync postgres ({args.users + args.groups:,} roles, {args.tables} tables with grants, "
              f"workers {args.workers}{', no PUBLIC expansion' if args.no_expand_public else ''}; setup {setup:.0f} s): "
              f"{fig.seconds:.1f} s (CPU {fig.cpu_seconds:.1f} s), peak RSS {fig.peak_rss_mb:.0f} MB, "
              f"{fig.count('resources'):,} resources, {fig.count('grants'):,} grants stored "
              f"(expansion included)   [target: seconds]")

if __name__ == "__main__":
    main()
