"""The workspace's ``warehouse:`` section (kept free of database imports: every workspace reads it)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_KEEP_SYNCS = 30
DEFAULT_FILE = "warehouse.sqlite"


class WarehouseSettings(BaseModel):
    """The workspace's ``warehouse:`` section. No URL: the embedded SQLite file in ``data_dir``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url_env: str | None = Field(default=None, description="environment variable holding a postgresql:// URL")
    path: str = Field(default=DEFAULT_FILE, description="the embedded SQLite file (relative to data_dir)")
    keep_syncs: int = Field(default=DEFAULT_KEEP_SYNCS, ge=1, description="full syncs kept per system")
