"""The access warehouse: every system's syncs in one database, queryable now and back in time.

:class:`Warehouse` is the whole public surface: open one (an embedded SQLite
file, or a shared PostgreSQL), load syncs into it, and ask it questions. The
CLI, the reconcile planner, the fleet and the console all go through it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from pybaton.errors import WarehouseError
from pybaton.identity import Correlation
from pybaton.warehouse import asof, people, queries
from pybaton.warehouse.asof import AsOf
from pybaton.warehouse.bulk import Row
from pybaton.warehouse.engine import (
    POSTGRESQL,
    connect_engine,
    database_url,
    migrate,
    one_line,
    redacted,
    write_transaction,
)
from pybaton.warehouse.load import LoadResult, load_file, now_utc
from pybaton.warehouse.queries import AccessEntry, Change, Person, SystemStatus
from pybaton.warehouse.readonly import SqlResult, run_read_only
from pybaton.warehouse.settings import DEFAULT_KEEP_SYNCS
from pybaton.warehouse.stored import StoredSync, SyncRef

MAX_SQL_ROWS = 100_000


class Warehouse:
    """An open warehouse. Use :meth:`open` and close it (or ``with``)."""

    def __init__(self, url: str, engine: Engine, *, keep_syncs: int) -> None:
        self.url = url
        self.engine = engine
        self.keep_syncs = keep_syncs

    @classmethod
    def open(cls, target: str | Path, *, keep_syncs: int = DEFAULT_KEEP_SYNCS) -> Warehouse:
        """Open (creating or upgrading the layout as needed) a SQLite path or a ``postgresql://`` URL."""
        url = database_url(target)
        engine = connect_engine(url)
        try:
            migrate(engine)
        except BaseException:
            engine.dispose()
            raise
        return cls(url, engine, keep_syncs=keep_syncs)

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    @property
    def display_url(self) -> str:
        return redacted(self.url)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- loading -------------------------------------------------------------------------------

    def load(self, system: str, path: Path, *, sync_id: str | None = None,
             identity_provider: bool = False) -> LoadResult:
        """Load one sync of ``path`` (default: its newest finished full sync) as ``system``'s; atomic."""
        with self._errors():
            return load_file(self.engine, system, path, keep_syncs=self.keep_syncs, sync_id=sync_id,
                             identity_provider=identity_provider)

    def store_correlation(self, correlation: Correlation, sync_ids: Mapping[str, str]) -> None:
        with self._errors(), write_transaction(self.engine, lock="people") as conn:
            people.replace_correlation(conn, correlation, sync_ids)

    def store_findings(self, findings: Iterable[Row], planned_at: dt.datetime | None = None) -> None:
        """The findings of the last plan: (kind, system, subject, message, rules) rows."""
        with self._errors(), write_transaction(self.engine, lock="findings") as conn:
            people.replace_findings(conn, findings, planned_at or now_utc())

    # -- reading -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def reading(self) -> Iterator[Connection]:
        """One read transaction: every answer inside it comes from the same moment of the warehouse."""
        with self._errors(), self.engine.connect() as conn:
            if self.backend == POSTGRESQL:
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                yield conn

    @contextlib.contextmanager
    def stored_syncs(self, as_of: AsOf | None = None) -> Iterator[dict[str, StoredSync]]:
        """System → its sync as of ``as_of`` (default: the current ones), readable like a ``.c1z``."""
        with self.reading() as conn:
            yield {name: StoredSync(conn, ref) for name, ref in asof.select_syncs(conn, as_of).items()}

    def syncs(self, as_of: AsOf | None = None) -> dict[str, SyncRef]:
        with self.reading() as conn:
            return asof.select_syncs(conn, as_of)

    def status(self) -> list[SystemStatus]:
        with self.reading() as conn:
            return queries.status(conn)

    def who_has(self, entitlement_id: str, *, system: str | None = None,
                as_of: AsOf | None = None) -> list[AccessEntry]:
        with self.reading() as conn:
            return queries.who_has(conn, asof.select_syncs(conn, as_of), entitlement_id, system)

    def person_access(self, who: str, *, as_of: AsOf | None = None) -> tuple[Person, list[AccessEntry]]:
        with self.reading() as conn:
            person = queries.find_person(conn, who)
            return person, queries.person_access(conn, asof.select_syncs(conn, as_of), person)

    def changes(self, since: dt.datetime, *, as_of: AsOf | None = None) -> list[Change]:
        with self.reading() as conn:
            target = asof.select_syncs(conn, as_of)
            return queries.changes(conn, asof.baseline_syncs(conn, since, target), target)

    def sql(self, statement: str, *, limit: int = MAX_SQL_ROWS) -> SqlResult:
        """Run one read-only statement; anything that writes is refused by the database itself."""
        return run_read_only(self.url, statement, limit)

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except DBAPIError as exc:
            raise WarehouseError(f"warehouse {self.display_url}: {one_line(exc)}") from None
