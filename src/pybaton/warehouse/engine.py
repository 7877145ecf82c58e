"""Connecting to a warehouse database, bringing its layout up to date, and the locks loads take.

One code path for both backends through SQLAlchemy Core; the few places they
differ are here: SQLite runs in WAL mode (readers never wait for a load), takes
the database write lock at the start of a write transaction (``BEGIN
IMMEDIATE``), so two loads queue instead of failing half-way, and waits for it
(``busy_timeout``); PostgreSQL serialises loads of one system with a
transaction-scoped advisory lock, so loads of different systems run side by side.
Migrations (Alembic, shipped in the package) run when a warehouse is opened.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from pybaton.errors import WarehouseError

SQLITE = "sqlite"
POSTGRESQL = "postgresql"
MIGRATIONS = Path(__file__).parent / "migrations"
BUSY_TIMEOUT_MS = 600_000  # a load of a big system holds the SQLite write lock for a while
_WRITE = "pybaton_write"


def database_url(target: str | Path) -> str:
    """A SQLAlchemy URL for a path (an embedded SQLite file) or a ``postgresql://`` URL."""
    value = str(target)
    if "://" not in value:
        return f"sqlite:///{Path(value).expanduser().resolve()}"
    for prefix in ("postgres://", "postgresql://"):
        if value.startswith(prefix):
            return "postgresql+psycopg://" + value[len(prefix):]
    return value


def redacted(url: str) -> str:
    """The URL with its password hidden (for messages and ``warehouse status``)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(unparsable URL)"


def _require_psycopg() -> None:
    try:
        import psycopg  # noqa: F401
    except ImportError:
        raise WarehouseError("a PostgreSQL warehouse needs psycopg: pip install 'pybaton[postgres]'") from None


def _sqlite_hooks(engine: Engine, *, read_only: bool) -> None:
    """Our own transactions (pysqlite's implicit ones cannot take the write lock up front)."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, record: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"pragma busy_timeout = {BUSY_TIMEOUT_MS}")
        if read_only:
            cur.execute("pragma query_only = on")
        else:
            cur.execute("pragma journal_mode = wal")
            cur.execute("pragma synchronous = normal")
        cur.execute("pragma cache_size = -65536")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(_WRITE) else "BEGIN")


def connect_engine(url: str, *, read_only: bool = False) -> Engine:
    """An engine for ``url``; ``read_only`` SQLite engines open the file read-only as well."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise WarehouseError(f"warehouse URL is not valid: {exc}") from None
    backend = parsed.get_backend_name()
    if backend == SQLITE:
        database = parsed.database or ""
        if not database or database == ":memory:":
            raise WarehouseError("the warehouse needs a SQLite file, not an in-memory database")
        if read_only:
            if not Path(database).exists():
                raise WarehouseError(f"{database}: no warehouse here yet (pybaton warehouse load)")
            url = f"sqlite:///file:{database}?mode=ro&uri=true"
        else:
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False})
        _sqlite_hooks(engine, read_only=read_only)
        return engine
    if backend == POSTGRESQL:
        _require_psycopg()
        return create_engine(url, pool_pre_ping=True)
    raise WarehouseError(f"unsupported warehouse database {backend!r} (use a SQLite path or postgresql://)")


@contextlib.contextmanager
def write_transaction(engine: Engine, lock: str | None = None) -> Iterator[Connection]:
    """One write transaction: SQLite's write lock, or (PostgreSQL) the advisory lock named ``lock``."""
    with engine.connect() as conn:
        conn = conn.execution_options(**{_WRITE: True})
        with conn.begin():
            if lock is not None and engine.dialect.name == POSTGRESQL:
                conn.execute(text("select pg_advisory_xact_lock(:key)"), {"key": lock_key(lock)})
            yield conn


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for an advisory lock (the same in every process)."""
    return int.from_bytes(hashlib.sha256(f"pybaton.warehouse:{name}".encode()).digest()[:8], "big", signed=True)


def _alembic_config(conn: Connection) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = conn
    return cfg


def head_revision() -> str:
    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    assert head is not None
    return head


def current_revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the database to ``revision`` (default: this version's layout), one process at a time."""
    head = head_revision()
    known = {s.revision for s in ScriptDirectory(str(MIGRATIONS)).walk_revisions()}
    try:
        with engine.connect() as probe:
            found = current_revision(probe)
            probe.rollback()
        if found == head and revision == "head":
            return
        if found is not None and found not in known:
            raise WarehouseError(f"the warehouse was written by a newer pybaton (layout {found}; this version "
                                 f"knows up to {head}): upgrade pybaton")
        with write_transaction(engine, lock="migrate") as conn:
            command.upgrade(_alembic_config(conn), revision)
    except DBAPIError as exc:
        where = engine.url.render_as_string(hide_password=True)
        raise WarehouseError(f"cannot open the warehouse {where}: {one_line(exc)}") from None


def one_line(exc: DBAPIError) -> str:
    """The driver's message, first line only (no SQL, no parameters: they may be long)."""
    return str(exc.orig).strip().splitlines()[0] if exc.orig is not None else type(exc).__name__
