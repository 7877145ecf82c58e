"""The built-in ``demo`` connector (Acme Corp in a local SQLite database)."""

from pybaton.connectors.demo.connector import DemoConfig, DemoConnector, default_data_dir
from pybaton.connectors.demo.store import DemoStore

__all__ = ["DemoConfig", "DemoConnector", "DemoStore", "default_data_dir"]
