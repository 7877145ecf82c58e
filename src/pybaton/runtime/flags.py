"""The standard flags of every connector command, declared as config models.

Each group is a pydantic model; the runner (:mod:`pybaton.runtime.runner`)
turns them all, and the connector's own config, into one command line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import Field, field_validator

from pybaton.connector.config import ConnectorConfig
from pybaton.model.ids import split_resource_ref
from pybaton.provision.oneshot import ProvisioningFlags


class RuntimeFlags(ConnectorConfig):
    """Where the sync goes and how the run logs."""

    file: str = Field("sync.c1z", description="the .c1z file to write", json_schema_extra={"short": "-f"})
    log_level: Literal["debug", "info", "warn", "error"] = Field("info", description="log level")
    log_format: Literal["console", "json"] = Field("console", description="log format on stderr")


class SyncFlags(ConnectorConfig):
    """What to sync and how hard to push the system."""

    sync_resources: list[str] = Field(default_factory=list,
                                      description="sync only these resources, TYPE:ID (repeatable or comma list)")
    sync_resource_types: list[str] = Field(default_factory=list,
                                           description="sync only these resource types (repeatable or comma list)")
    skip_entitlements_and_grants: bool = Field(False, description="sync resources only")
    skip_grants: bool = Field(False, description="sync resources and entitlements, not grants")
    workers: int = Field(1, ge=1, le=64, description="connector calls in parallel for entitlements and grants")
    page_size: int | None = Field(None, ge=1, le=10_000,
                                  description="items asked for per connector call (default: the connector's "
                                              "preferred size, else 100)")
    incremental: bool = Field(False, description="ask only for changes since the last full sync "
                                                 "(a full sync when that is not possible)")

    @field_validator("sync_resources")
    @classmethod
    def _resource_refs(cls, refs: list[str]) -> list[str]:
        for ref in refs:
            split_resource_ref(ref)
        return refs


@dataclass(frozen=True)
class FlagGroup:
    """A titled set of standard flags, declared as a config model."""

    title: str
    model: type[ConnectorConfig]


# The one table of standard flags.
FLAG_GROUPS: tuple[FlagGroup, ...] = (
    FlagGroup("runtime", RuntimeFlags),
    FlagGroup("sync", SyncFlags),
    FlagGroup("provisioning", ProvisioningFlags),
)

CONFIG_FILE_FLAG = "config_file"
