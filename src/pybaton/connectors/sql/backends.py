"""Database backends: where a baton-sql ``connect`` section leads, and how to talk to it.

Three engines are supported, each through its maintained Python driver:
PostgreSQL (psycopg 3), MySQL/MariaDB (mysqlclient, else PyMySQL) and SQLite (the standard
library). Connections run in autocommit; provisioning opens explicit
transactions with ``BEGIN``/``COMMIT``/``ROLLBACK``, which every one of them
accepts in that mode. SQL Server, Oracle and the other engines baton-sql knows
are refused with a clear message rather than half-supported.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from pybaton.connectors.sql import tokens
from pybaton.connectors.sql.config import Connect
from pybaton.connectors.sql.mysql import MySQLDriver, mysql_driver
from pybaton.errors import AuthenticationError, ConfigError, UnreachableError, UserError
from pybaton.yamldoc import expand_env

log = logging.getLogger("pybaton.connectors.sql")

MIN_INT64 = -(2**63)

_SCHEMES = {"postgres": "postgres", "postgresql": "postgres", "pgx": "postgres", "mysql": "mysql",
            "mariadb": "mysql", "sqlite": "sqlite", "sqlite3": "sqlite", "file": "sqlite"}
_REFUSED = {"sqlserver": "SQL Server", "mssql": "SQL Server", "azuresql": "SQL Server", "oracle": "Oracle",
            "hdb": "SAP HANA", "db2": "IBM Db2", "vertica": "Vertica", "snowflake": "Snowflake"}


@dataclass(frozen=True)
class Target:
    """Where to connect, after ``${ENV}`` expansion and the structured fields' overrides."""

    engine: str
    host: str = ""
    port: str = ""
    database: str = ""
    user: str = ""
    password: str = field(default="", repr=False)
    params: Mapping[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        """For messages: engine, user, host, port, database; never the password."""
        if self.engine == "sqlite":
            return f"sqlite database {self.database}"
        who = f"{self.user}@" if self.user else ""
        return f"{self.engine} {who}{self.host}:{self.port or 'default'}/{self.database}"


def _engine(scheme: str) -> str:
    scheme = scheme.lower()
    if scheme in _REFUSED:
        raise ConfigError(f"connect: {_REFUSED[scheme]} ({scheme}://) is not supported by pybaton yet; "
                          "supported: postgres://, mysql:// (MySQL and MariaDB), sqlite:///path")
    engine = _SCHEMES.get(scheme)
    if engine is None:
        raise ConfigError(f"connect: unknown database scheme {scheme!r}; "
                          "supported: postgres://, mysql:// (MySQL and MariaDB), sqlite:///path")
    return engine


_HIDDEN = re.compile(r"PYBATONENV(\d+)X")
_ENV_REF = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


class _DsnText:
    """A DSN template whose ``${NAME}`` references are expanded per component, after parsing.

    Expanding first (as baton-sql does) breaks the URL as soon as a password
    contains ``@``, ``:`` or ``/``; here the template is parsed with the
    references hidden, and each part gets its environment values verbatim.
    """

    def __init__(self, template: str, env: Mapping[str, str] | None) -> None:
        self.refs: list[str] = []
        self.env = env
        self.hidden = _ENV_REF.sub(self._hide, template)

    def _hide(self, match: re.Match[str]) -> str:
        self.refs.append(match.group(0))
        return f"PYBATONENV{len(self.refs) - 1}X"

    def reveal(self, text: str, what: str) -> str:
        """``text`` with literal parts URL-unquoted and hidden references expanded (not unquoted)."""
        out = []
        for index, piece in enumerate(_HIDDEN.split(text)):
            out.append(unquote(piece) if index % 2 == 0 else expand_env(self.refs[int(piece)], what, self.env))
        return "".join(out)


def _split_netloc(netloc: str) -> tuple[str, str, str, str]:
    userinfo, _, hostport = netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    if hostport.startswith("["):
        host, _, rest = hostport[1:].partition("]")
        return user, password, host, rest.lstrip(":")
    host, _, port = hostport.partition(":")
    return user, password, host, port


def _from_dsn(template: str, env: Mapping[str, str] | None) -> Target:
    dsn = _DsnText(template, env)
    parts = urlsplit(dsn.hidden)
    if not parts.scheme:
        raise ConfigError("connect.dsn: expected a URL such as postgres://user@host:5432/db or sqlite:///path")
    engine = _engine(dsn.reveal(parts.scheme, "connect.dsn"))
    params = {k: dsn.reveal(v, f"connect.dsn parameter {k}") for k, v in parse_qsl(parts.query)}
    if engine == "sqlite":
        # Everything after "sqlite://" is the file: sqlite:///abs/path, sqlite://relative.db.
        path = re.sub(r"^/+", "/", dsn.reveal(parts.netloc + parts.path, "connect.dsn"))
        return Target(engine, database=path or ":memory:", params=params)
    user, password, host, port = (dsn.reveal(p, "connect.dsn") for p in _split_netloc(parts.netloc))
    if port and not port.isdigit():
        raise ConfigError(f"connect.dsn: the port {port!r} is not a number")
    return Target(engine, host, port, dsn.reveal(parts.path.lstrip("/"), "connect.dsn"), user, password, params)


def resolve(connect: Connect, env: Mapping[str, str] | None = None) -> Target:
    """The connection target of a ``connect`` section; structured fields override the DSN's parts."""
    def field_value(name: str) -> str:
        return expand_env(str(getattr(connect, name)), f"connect.{name}", env)

    dsn = connect.dsn
    scheme = field_value("scheme")
    if not dsn and not scheme:
        raise ConfigError("connect: set dsn, or scheme with host/port/database/user/password")
    target = _from_dsn(dsn, env) if dsn else Target(_engine(scheme))
    if dsn and scheme and _engine(scheme) != target.engine:
        raise ConfigError(f"connect: scheme {scheme!r} contradicts the DSN's {target.engine}")
    overrides = {name: field_value(name) for name in ("host", "port", "database", "user", "password")}
    params = {**target.params, **{k: expand_env(v, f"connect.params.{k}", env) for k, v in connect.params.items()}}
    return replace(target, params=params, **{k: v for k, v in overrides.items() if v})


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:500] or type(exc).__name__


class Backend:
    """One connection to one database; not thread-safe (the query runner serialises calls)."""

    dialect: tokens.Dialect
    first_cursors: Sequence[Any] = ("",)

    def __init__(self, target: Target) -> None:
        self.target = target
        self._conn: Any = None

    # -- subclass hooks

    def _open(self) -> Any:
        raise NotImplementedError

    def driver_errors(self) -> tuple[type[BaseException], ...]:
        raise NotImplementedError

    def _connect_error(self, exc: BaseException) -> UserError:
        return UnreachableError(f"cannot connect to {self.target.describe()}: {_one_line(exc)}")

    def is_type_mismatch(self, exc: BaseException) -> bool:
        """Whether ``exc`` says a bound value has the wrong type for its column (first-page cursors)."""
        return False

    # -- the connection

    @property
    def conn(self) -> Any:
        if self._conn is None:
            try:
                self._conn = self._open()
            except self.driver_errors() as exc:
                raise self._connect_error(exc) from None
            log.debug("connected to %s", self.target.describe())
        return self._conn

    def query(self, sql: str, params: Sequence[Any]) -> tuple[list[str], list[tuple[Any, ...]]]:
        cur = self.conn.cursor()
        try:
            cur.execute(sql, tuple(params))
            if cur.description is None:
                return [], []
            return [str(d[0]) for d in cur.description], list(cur.fetchall())
        finally:
            cur.close()

    def execute(self, sql: str, params: Sequence[Any]) -> int:
        """Run a statement; the number of rows it changed (-1 when the driver cannot tell)."""
        cur = self.conn.cursor()
        try:
            cur.execute(sql, tuple(params))
            return int(cur.rowcount)
        finally:
            cur.close()

    def statement(self, sql: str) -> None:
        cur = self.conn.cursor()
        try:
            cur.execute(sql)
        finally:
            cur.close()

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None


class PostgresBackend(Backend):
    dialect = tokens.POSTGRES
    # PostgreSQL will not compare an integer key with '' (baton-sql's empty first cursor): try the
    # smallest bigint next. Which one worked is remembered per query by the runner.
    first_cursors = ("", MIN_INT64)

    def _open(self) -> Any:
        import psycopg
        from psycopg.conninfo import make_conninfo

        t = self.target
        parts = {"host": t.host, "port": t.port, "dbname": t.database, "user": t.user, "password": t.password}
        options = {"connect_timeout": "10", **t.params, **{k: v for k, v in parts.items() if v}}
        return psycopg.connect(make_conninfo(**options), autocommit=True)

    def driver_errors(self) -> tuple[type[BaseException], ...]:
        import psycopg

        return (psycopg.Error,)

    def _connect_error(self, exc: BaseException) -> UserError:
        text = _one_line(exc)
        if re.search(r"password authentication failed|authentication failed|no password supplied", text):
            return AuthenticationError(f"{self.target.describe()}: login refused: {text}")
        return super()._connect_error(exc)

    def is_type_mismatch(self, exc: BaseException) -> bool:
        return getattr(exc, "sqlstate", None) in ("22P02", "42883", "42804")


_MYSQL_AUTH_CODES = {1044, 1045, 1698}


class MySQLBackend(Backend):
    """MySQL/MariaDB through mysqlclient when installed, else PyMySQL (see :mod:`.mysql`)."""

    dialect = tokens.MYSQL

    def __init__(self, target: Target) -> None:
        super().__init__(target)
        self._driver: MySQLDriver | None = None

    @property
    def driver(self) -> MySQLDriver:
        if self._driver is None:
            self._driver = mysql_driver()
            log.debug("MySQL driver: %s", self._driver.name)
        return self._driver

    def _open(self) -> Any:
        return self.driver.connect(self.target)

    def driver_errors(self) -> tuple[type[BaseException], ...]:
        return self.driver.errors

    def _connect_error(self, exc: BaseException) -> UserError:
        code = exc.args[0] if exc.args else None
        if code in _MYSQL_AUTH_CODES:
            return AuthenticationError(f"{self.target.describe()}: login refused: {_one_line(exc)}")
        return super()._connect_error(exc)


class SQLiteBackend(Backend):
    dialect = tokens.SQLITE
    # In SQLite every integer sorts before every text value, so the smallest integer is below any key.
    first_cursors = (MIN_INT64,)

    def _open(self) -> Any:
        path = self.target.database
        if path == ":memory:":
            return sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        return sqlite3.connect(f"file:{quote(path)}?mode={self.target.params.get('mode', 'rw')}", uri=True,
                               isolation_level=None, check_same_thread=False)

    def driver_errors(self) -> tuple[type[BaseException], ...]:
        return (sqlite3.Error,)

    def _connect_error(self, exc: BaseException) -> UserError:
        return ConfigError(f"connect: cannot open {self.target.describe()}: {_one_line(exc)}")


_BACKENDS: dict[str, type[Backend]] = {"postgres": PostgresBackend, "mysql": MySQLBackend, "sqlite": SQLiteBackend}


def open_backend(target: Target) -> Backend:
    """A backend for ``target``; the connection is made on first use."""
    return _BACKENDS[target.engine](target)


def error_text(exc: BaseException) -> str:
    """A driver error as one line (drivers put hints and carets on extra lines)."""
    return _one_line(exc)
