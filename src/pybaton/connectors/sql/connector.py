"""The SQL meta-connector: a baton-sql YAML file turned into a pybaton connector.

``pybaton sync sql --config app.yml`` and ``pybaton-sql --config app.yml``
both land here. The file is read and compiled when the connector is built
(every error at once, with lines), the database is reached on first use, and
:meth:`SqlConnector.validate` connects early so a wrong password is one clean
line before any sync work starts.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import Field, model_validator

from pybaton.connector.base import Connector, ConnectorMetadata, ResourceSyncer
from pybaton.connector.config import ConnectorConfig
from pybaton.connectors.sql import config as cfg
from pybaton.connectors.sql import paging
from pybaton.connectors.sql.backends import Backend, open_backend, resolve
from pybaton.connectors.sql.compiled import CompiledConfig, compile_config
from pybaton.connectors.sql.queries import QueryRunner
from pybaton.connectors.sql.syncer import syncer_for
from pybaton.errors import UserError

log = logging.getLogger("pybaton.connectors.sql")


class SqlConnectorConfig(ConnectorConfig):
    """Where the baton-sql file is; ``--config-path`` is accepted too, as baton-sql names it."""

    config: str = Field("", description="the baton-sql YAML file")
    config_path: str = Field("", description="same as --config (baton-sql's name for it)")
    strict: bool = Field(False, description="treat unknown keys in the YAML file as errors")

    @model_validator(mode="after")
    def _one_file(self) -> SqlConnectorConfig:
        if not (self.config or self.config_path):
            raise ValueError("the baton-sql YAML file is required: --config app.yml (or BATON_CONFIG)")
        return self

    @property
    def path(self) -> str:
        return self.config or self.config_path


class SqlConnector(Connector[SqlConnectorConfig]):
    """Resource types, entitlements and grants from SQL queries, as a baton-sql file describes them."""

    metadata = ConnectorMetadata("sql", "SQL database", "any PostgreSQL, MySQL/MariaDB or SQLite database, "
                                 "described by a baton-sql YAML file")
    config_class = SqlConnectorConfig
    # A database returns 5,000 rows about as fast as 100; at Baton's default of 100 a sync of 1M
    # memberships spends three quarters of its time waiting on ~12,000 round trips. A query's own
    # pagination.page_size and an explicit --page-size still win.
    preferred_page_size = paging.PREFERRED_PAGE_SIZE

    def __init__(self, config: SqlConnectorConfig) -> None:
        super().__init__(config)
        self.compiled: CompiledConfig = compile_config(cfg.load(config.path, strict=config.strict))
        self._backend: Backend | None = None
        self._runner: QueryRunner | None = None
        self._syncers: list[ResourceSyncer] | None = None

    @property
    def runner(self) -> QueryRunner:
        if self._runner is None:
            self._backend = open_backend(resolve(self.compiled.config.connect))
            self._runner = QueryRunner(self._backend)
        return self._runner

    def syncers(self) -> Sequence[ResourceSyncer]:
        if self._syncers is None:
            self._syncers = [syncer_for(spec, self.runner) for spec in self.compiled.types.values()]
        return self._syncers

    def validate(self) -> None:
        """Connect now: bad credentials or an unreachable server fail before the sync starts."""
        backend = self.runner.backend
        _ = backend.conn
        log.info("connected to %s for %s", backend.target.describe(), self.compiled.config.app_name or "the app")

    def close(self) -> None:
        if self._backend is not None:
            self._backend.close()

    def actions(self) -> list[dict[str, Any]]:
        return [spec.describe() for spec in self.compiled.actions.values()]

    def run_action(self, name: str, arguments: Mapping[str, Any]) -> dict[str, Any]:
        """Run the config's action ``name`` with ``arguments`` (checked against its declared types)."""
        spec = self.compiled.actions.get(name)
        if spec is None:
            raise UserError(f"no action {name!r} in the config; actions: {', '.join(self.compiled.actions) or 'none'}")
        return spec.run(self.runner, arguments)

    def plan_action(self, name: str, arguments: Mapping[str, Any]) -> list[tuple[str, list[Any]]]:
        """The statements ``run_action`` would execute, with their values; nothing is run."""
        spec = self.compiled.actions.get(name)
        if spec is None:
            raise UserError(f"no action {name!r} in the config; actions: {', '.join(self.compiled.actions) or 'none'}")
        dialect = open_backend(resolve(self.compiled.config.connect)).dialect
        return spec.plan(dialect, arguments)


def main(argv: Sequence[str] | None = None) -> None:
    """The ``pybaton-sql`` command: Baton's standard connector flags plus ``--config``."""
    from pybaton.connector import run

    run(SqlConnector, list(argv) if argv is not None else None, prog="pybaton-sql")
