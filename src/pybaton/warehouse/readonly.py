"""``warehouse sql``: one statement in a transaction the database itself keeps from writing.

SQLite: the file opened read-only (``mode=ro``) with ``PRAGMA query_only``.
PostgreSQL: a ``READ ONLY`` transaction, and the statement sent as a prepared
statement, which cannot hold a second command (no ``COMMIT; DELETE ...``).
Both are refused by the database, not by parsing the SQL; for BI tools, use
the read-only role ``docs/warehouse.md`` describes as well.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from pybaton.errors import WarehouseError
from pybaton.warehouse.engine import POSTGRESQL, connect_engine, redacted


@dataclass(frozen=True)
class SqlResult:
    """The column names and the rows (at most the limit asked for; ``truncated`` when there were more)."""

    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    truncated: bool = False


def _driver_errors() -> tuple[type[Exception], ...]:
    errors: list[type[Exception]] = [sqlite3.Error]
    try:
        import psycopg

        errors.append(psycopg.Error)
    except ImportError:
        pass
    return tuple(errors)


def _run(raw: Any, postgres: bool, statement: str, limit: int) -> SqlResult:
    cur = raw.cursor()
    try:
        if postgres:
            cur.execute("BEGIN READ ONLY")
            cur.execute(statement, prepare=True)
        else:
            cur.execute("BEGIN")
            cur.execute(statement)
        columns = tuple(d[0] for d in cur.description or ())
        rows = [tuple(r) for r in cur.fetchmany(limit + 1)] if cur.description else []
    finally:
        cur.close()
        raw.rollback()
    return SqlResult(columns, rows[:limit], truncated=len(rows) > limit)


def run_read_only(url: str, statement: str, limit: int) -> SqlResult:
    """Run ``statement`` read-only; a write, or any error, is one line naming the warehouse."""
    if not statement.strip():
        raise WarehouseError("warehouse sql: no statement given")
    engine = connect_engine(url, read_only=True)
    try:
        with engine.connect() as conn:
            raw: Any = conn.connection.driver_connection
            try:
                return _run(raw, engine.dialect.name == POSTGRESQL, statement, limit)
            except _driver_errors() as exc:
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise WarehouseError(f"warehouse {redacted(url)}: {first}") from None
    finally:
        engine.dispose()
