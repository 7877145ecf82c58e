"""The ``demo`` connector: Acme Corp, a fictional company, served from a local SQLite file.

It needs no credentials and no server, yet uses every feature a real connector
does: paged listing, child resource types (projects under apps), nested groups
(expandable grants), static and per-resource entitlements, targeted ``get``, and
all provisioning capabilities, which change the database so the next sync sees
the change.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path

from pydantic import Field

from pybaton.connector import Connector, ConnectorConfig, ConnectorMetadata
from pybaton.connector.capabilities import EventPage
from pybaton.connectors.demo import events
from pybaton.connectors.demo.store import DemoStore
from pybaton.connectors.demo.syncers import DemoSyncer, all_syncers


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/pybaton/demo`` (``~/.local/share/pybaton/demo``): survives between commands
    run from different directories, so a grant made today is seen by tomorrow's sync."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "pybaton" / "demo"


class DemoConfig(ConnectorConfig):
    data_dir: Path | None = Field(
        default=None, description="Directory of the demo database (default ~/.local/share/pybaton/demo, "
                                  "or $XDG_DATA_HOME/pybaton/demo); created and seeded on first use")
    max_page_size: int = Field(
        default=20, ge=1, le=1000,
        description="Largest page the demo API returns, whatever --page-size asks (like a real API's cap)")
    reset: bool = Field(default=False, description="Throw away all changes and re-seed Acme Corp on start")


class DemoConnector(Connector[DemoConfig]):
    """Acme Corp: ~50 employees, a deploy bot, nested groups, roles, apps with projects, API keys."""

    metadata = ConnectorMetadata(
        name="demo", display_name="Acme Corp (demo)",
        description="A fictional company in a local SQLite database: no credentials needed; "
                    "supports every sync feature and all provisioning actions")
    config_class = DemoConfig

    def __init__(self, config: DemoConfig) -> None:
        super().__init__(config)
        self._lock = threading.Lock()
        self._store: DemoStore | None = None
        self._syncers: list[DemoSyncer] | None = None

    @property
    def data_dir(self) -> Path:
        return (self.config.data_dir or default_data_dir()).expanduser()

    @property
    def store(self) -> DemoStore:
        """The database, opened (and seeded) on first use rather than at construction."""
        with self._lock:
            if self._store is None:
                self._store = DemoStore.open(self.data_dir, reset=self.config.reset)
            return self._store

    def syncers(self) -> Sequence[DemoSyncer]:
        if self._syncers is None:
            self._syncers = all_syncers(self.store, self.config.max_page_size)
        return self._syncers

    def list_events(self, cursor: str, page_size: int = 100) -> EventPage:
        """Baton's ``ListEvents`` over the database's change log (see :mod:`.events`)."""
        return events.list_events(self.store, cursor, page_size)

    def validate(self) -> None:
        """Opening the store is the whole check: it creates and seeds the database if needed."""
        _ = self.store

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None
                self._syncers = None
