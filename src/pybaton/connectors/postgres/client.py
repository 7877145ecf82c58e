"""Connections to one PostgreSQL cluster: the main database, and one per database synced.

Catalogs such as ``pg_class`` only describe the database a session is
connected to, so the connector keeps one autocommit connection per database,
opened on first use. Every failure to connect becomes one line an operator can
act on (:func:`connect_error`): which server (``host:port``), what went wrong,
never the password.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import class_row

from pybaton.errors import (
    AuthenticationError,
    ConfigError,
    PermissionDeniedError,
    ProvisioningError,
    RetryableError,
    UnreachableError,
    UserError,
)

log = logging.getLogger("pybaton.connectors.postgres")

R = TypeVar("R")
Query = str | sql.SQL | sql.Composed
Params = Sequence[Any] | Mapping[str, Any]

_AUTH_STATES = {"28P01", "28000"}
_AUTH_WORDS = ("password authentication failed", "no pg_hba.conf entry", "authentication failed",
               "role \"", "password is required")
_TLS_WORDS = ("ssl", "certificate", "tls")


class PgClient:
    """Lazily opened, shared connections; thread-safe (psycopg serialises each connection)."""

    def __init__(self, conninfo: str, connect_timeout: int) -> None:
        self._conninfo = conninfo
        self._timeout = connect_timeout
        params = conninfo_to_dict(conninfo)
        self.endpoint = _endpoint(params)
        self.user = str(params.get("user") or "")
        self.main_database = str(params.get("dbname") or self.user or "postgres")
        self._lock = threading.Lock()
        self._conns: dict[str, psycopg.Connection[Any]] = {}

    def conn(self, database: str | None = None) -> psycopg.Connection[Any]:
        """The connection to ``database`` (the DSN's database when None), opened on first use."""
        name = database or self.main_database
        with self._lock:
            conn = self._conns.get(name)
            if conn is not None and not conn.closed:
                return conn
            conn = self._connect(name)
            self._conns[name] = conn
            return conn

    def _connect(self, database: str) -> psycopg.Connection[Any]:
        info = make_conninfo(self._conninfo, dbname=database, connect_timeout=self._timeout,
                             application_name="pybaton-postgres")
        try:
            return psycopg.connect(info, autocommit=True)
        except psycopg.OperationalError as exc:
            raise connect_error(exc, self.endpoint, database) from None

    def rows(self, row_type: type[R], query: Query, params: Params = (),
             database: str | None = None) -> list[R]:
        """Run a catalog query and build one ``row_type`` per row (columns map to fields)."""
        conn = self.conn(database)
        try:
            with conn.cursor(row_factory=class_row(row_type)) as cur:
                cur.execute(query, params)
                return cur.fetchall()
        except psycopg.OperationalError as exc:
            self._forget(database)
            raise RetryableError(f"postgres at {self.endpoint}: connection lost: {_first_line(exc)}") from None
        except psycopg.errors.InsufficientPrivilege as exc:
            raise PermissionDeniedError(f"postgres at {self.endpoint}: {_first_line(exc)}") from None

    def value(self, query: Query, params: Params = (), database: str | None = None) -> Any:
        """The first column of the first row (None when there is no row)."""
        with self.conn(database).cursor() as cur:
            cur.execute(query, params)
            row = cur.fetchone()
        return None if row is None else row[0]

    def execute(self, statements: Sequence[sql.Composed], database: str | None = None) -> None:
        """Run provisioning statements in one transaction; the server's refusal becomes one line."""
        conn = self.conn(database)
        try:
            with conn.transaction(), conn.cursor() as cur:
                for statement in statements:
                    cur.execute(statement)
        except psycopg.OperationalError as exc:
            self._forget(database)
            raise RetryableError(f"postgres at {self.endpoint}: connection lost: {_first_line(exc)}") from None
        except psycopg.Error as exc:
            raise ProvisioningError(f"postgres refused: {_first_line(exc)}") from None

    def _forget(self, database: str | None) -> None:
        with self._lock:
            conn = self._conns.pop(database or self.main_database, None)
        if conn is not None:
            conn.close()

    def close(self) -> None:
        with self._lock:
            conns, self._conns = list(self._conns.values()), {}
        for conn in conns:
            conn.close()


def _endpoint(params: dict[str, Any]) -> str:
    host = str(params.get("host") or params.get("hostaddr") or "localhost")
    port = str(params.get("port") or "5432")
    return f"{host}:{port}"


def _first_line(exc: BaseException) -> str:
    """The server's primary message (psycopg adds context lines we do not want in one-line errors)."""
    diag = getattr(exc, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    text = primary or str(exc)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__


def connect_error(exc: psycopg.OperationalError, endpoint: str, database: str) -> UserError:
    """The one-line error for a failed connection, by cause: credentials, missing database, TLS, network."""
    text = str(exc)
    lowered = text.lower()
    detail = _server_detail(text)
    if exc.sqlstate in _AUTH_STATES or any(w in lowered for w in _AUTH_WORDS):
        return AuthenticationError(f"postgres at {endpoint}: authentication failed: {detail}")
    if exc.sqlstate == "3D000" or "does not exist" in lowered:
        return ConfigError(f"postgres at {endpoint}: {detail}", field="dsn")
    if any(w in lowered for w in _TLS_WORDS):
        return UnreachableError(f"postgres at {endpoint}: TLS error: {detail}")
    return UnreachableError(f"postgres at {endpoint} is unreachable (database {database!r}): {detail}")


def _server_detail(text: str) -> str:
    """libpq's reason without its ``connection to server at ... failed:`` preamble."""
    lines = [part.strip() for part in text.splitlines() if part.strip()]
    line = next((part for part in lines if "FATAL:" in part or "failed:" in part), lines[0] if lines else "")
    for marker in ("FATAL:", "failed:"):
        if marker in line:
            line = line.rsplit(marker, 1)[1].strip()
            break
    return line or "connection failed"
