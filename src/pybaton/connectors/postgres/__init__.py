"""The PostgreSQL connector (``pybaton sync postgres``); needs the ``postgres`` extra (psycopg 3)."""

from pybaton.connectors.postgres.config import PostgresConfig
from pybaton.connectors.postgres.connector import PostgresConnector

__all__ = ["PostgresConfig", "PostgresConnector"]
