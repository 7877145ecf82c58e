"""The ``postgres`` connector: roles, databases, schemas, tables and their privileges in a PostgreSQL cluster.

``pybaton sync postgres --dsn postgresql://baton@db/postgres`` syncs every
database of the cluster (or those named by ``--databases``); provisioning
grants and revokes role membership, role attributes and privileges, creates
LOGIN roles with generated passwords, rotates them and drops roles. See
``docs/connectors/postgres.md``.
"""

from __future__ import annotations

from collections.abc import Sequence

from pybaton.connector import Connector, ConnectorMetadata
from pybaton.connectors.postgres.config import PostgresConfig
from pybaton.connectors.postgres.source import PgSource
from pybaton.connectors.postgres.syncers import PgSyncer, all_syncers


class PostgresConnector(Connector[PostgresConfig]):
    metadata = ConnectorMetadata(
        name="postgres", display_name="PostgreSQL",
        description="Roles, memberships, role attributes and privileges on databases, schemas, tables, "
                    "views, sequences and functions of a PostgreSQL cluster; provisioning included")
    config_class = PostgresConfig

    def __init__(self, config: PostgresConfig) -> None:
        super().__init__(config)
        self.source = PgSource(config)
        self._syncers = all_syncers(self.source)

    def syncers(self) -> Sequence[PgSyncer]:
        return self._syncers

    def validate(self) -> None:
        """Connect and read the shared catalogs: bad credentials or a down server fail here, in one line,
        before anything is written; a fresh snapshot for this run."""
        self.source.invalidate()
        self.source.cluster()
        self.source.databases()

    def close(self) -> None:
        self.source.close()
