"""The built-in ``http`` connector: a REST API from a baton-http YAML file (see :mod:`.connector`)."""

from pybaton.connectors.http.connector import HttpConnector, HttpConnectorConfig

__all__ = ["HttpConnector", "HttpConnectorConfig"]
