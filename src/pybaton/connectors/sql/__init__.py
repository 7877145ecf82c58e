"""The SQL meta-connector: any database described by a baton-sql YAML file, unchanged.

See docs/connectors/sql.md. Entry points: :class:`SqlConnector` (the
``sql`` connector of ``pybaton sync``) and :func:`main` (``pybaton-sql``).
"""

from pybaton.connectors.sql.connector import SqlConnector, SqlConnectorConfig, main

__all__ = ["SqlConnector", "SqlConnectorConfig", "main"]
