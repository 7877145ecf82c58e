"""Bulk row writes, the one place the backends load differently: ``COPY`` on PostgreSQL, executemany on SQLite.

Rows arrive as a generator and are written as they come, so a load's memory
does not grow with the size of the system.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import BigInteger, Boolean, Connection, Float, Integer, LargeBinary, Table, Text
from sqlalchemy.types import TypeEngine

from pybaton.warehouse.engine import POSTGRESQL

Row = tuple[Any, ...]


class _Counter:
    """Counts the rows a generator gives while it is consumed by the driver."""

    def __init__(self, rows: Iterable[Row]) -> None:
        self.rows = rows
        self.count = 0

    def __iter__(self) -> Iterator[Row]:
        for row in self.rows:
            self.count += 1
            yield row


_PG_TYPES = ((Boolean, "bool"), (BigInteger, "int8"), (Integer, "int4"), (Float, "float8"), (LargeBinary, "bytea"),
             (Text, "text"))


def _pg_type(column_type: TypeEngine[Any]) -> str:
    """The PostgreSQL type name binary ``COPY`` sends a column as."""
    for sa_type, name in _PG_TYPES:
        if isinstance(column_type, sa_type):
            return name
    raise TypeError(f"no COPY type for {column_type!r}")


def write_rows(conn: Connection, table: Table, columns: Sequence[str], rows: Iterable[Row]) -> int:
    """Insert ``rows`` (tuples in ``columns`` order) into ``table`` inside ``conn``'s transaction; the count."""
    counted = _Counter(rows)
    raw: Any = conn.connection.driver_connection
    names = ", ".join(columns)
    if conn.dialect.name == POSTGRESQL:
        with raw.cursor() as cur, cur.copy(f"COPY {table.name} ({names}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types([_pg_type(table.c[name].type) for name in columns])
            for row in counted:
                copy.write_row(row)
    else:
        marks = ", ".join("?" for _ in columns)
        cur = raw.cursor()
        try:
            cur.executemany(f"INSERT INTO {table.name} ({names}) VALUES ({marks})", counted)
        finally:
            cur.close()
    return counted.count
