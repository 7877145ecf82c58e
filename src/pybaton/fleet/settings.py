"""The workspace's ``fleet:`` section: the broker, where artifacts go, and each system's schedule and limits.

Kept free of Celery imports (``fleet status`` and the docs' checks read it
without a broker). The broker URL is a secret (it may carry a password), so
the file names the environment variable holding it, never the URL itself.
"""

from __future__ import annotations

import os
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from pybaton.errors import ConfigError
from pybaton.reconcile.policy import parse_duration
from pybaton.reconcile.workspace import Workspace
from pybaton.reconcile.yamlmodel import error_at

DEFAULT_QUEUE = "pybaton"
DEFAULT_BROKER_ENV = "PYBATON_BROKER_URL"


def _seconds(value: Any) -> Any:
    """``90s``/``10m``/``1h`` (or a number of seconds) → seconds."""
    if isinstance(value, str):
        return parse_duration(value).total_seconds()
    return value


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class S3Store(_Section):
    """An S3-compatible bucket (AWS, MinIO, Ceph...) through boto3; credentials from boto3's usual chain."""

    bucket: str = Field(min_length=1)
    prefix: str = ""
    endpoint_url: str | None = None
    region: str | None = None


class ArtifactStore(_Section):
    """Where finished ``.c1z`` files go: a directory (local or a shared mount), or an S3 bucket."""

    dir: str = Field(default="artifacts", description="relative to the workspace's data_dir")
    s3: S3Store | None = None


class SystemSchedule(_Section):
    """One system's place in the fleet."""

    every: float | None = Field(default=None, gt=0, description="sync this often (15m, 1h); none: on demand")
    queue: str = Field(default=DEFAULT_QUEUE, pattern=r"^[A-Za-z0-9_.:-]+$",
                       description="workers serving this queue can reach the system")
    concurrency: int = Field(default=1, ge=1, le=64, description="syncs of this system at once, fleet-wide")
    rate_limit: float | None = Field(default=None, gt=0, description="calls per second, shared by all workers")

    _every = field_validator("every", mode="before")(_seconds)


class Retries(_Section):
    """Retries of a sync that failed with a retryable error: ``backoff * 2**n``, capped."""

    max: int = Field(default=5, ge=0)
    backoff: float = Field(default=10.0, gt=0)
    backoff_max: float = Field(default=600.0, gt=0)

    _durations = field_validator("backoff", "backoff_max", mode="before")(_seconds)


class FleetSettings(_Section):
    broker_url_env: str = Field(default=DEFAULT_BROKER_ENV, description="variable holding the broker URL "
                                                                        "(redis://… or amqp://…)")
    result_backend_env: str | None = Field(default=None, description="variable holding the result backend URL "
                                                                     "(default: the broker when it is Redis)")
    redis_url_env: str | None = Field(default=None, description="variable holding the Redis URL for locks, rate "
                                                                "limits and status (default: the broker)")
    artifacts: ArtifactStore = ArtifactStore()
    visibility_timeout: float = Field(default=3600.0, gt=0, description="broker redelivery of unacknowledged tasks")
    lease: float = Field(default=60.0, gt=0, description="a system lock's lease, renewed while its sync runs")
    retries: Retries = Retries()
    defaults: SystemSchedule = SystemSchedule()
    systems: dict[str, dict[str, Any]] = Field(default_factory=dict)

    _durations = field_validator("visibility_timeout", "lease", mode="before")(_seconds)

    @model_validator(mode="after")
    def _lease_fits(self) -> FleetSettings:
        if self.lease * 2 > self.visibility_timeout:
            raise ValueError("lease must be at most half the visibility_timeout (a dead worker's lock must "
                             "expire before its task is delivered again)")
        return self

    def schedule(self, system: str) -> SystemSchedule:
        """The system's own settings over the defaults."""
        own = self.systems.get(system, {})
        return SystemSchedule.model_validate({**self.defaults.model_dump(exclude_unset=True), **own})

    def broker_url(self) -> str:
        return _required_env(self.broker_url_env, "fleet.broker_url_env")

    def redis_url(self) -> str:
        return _required_env(self.redis_url_env, "fleet.redis_url_env") if self.redis_url_env else self.broker_url()

    def result_backend(self) -> str | None:
        if self.result_backend_env:
            return _required_env(self.result_backend_env, "fleet.result_backend_env")
        broker = self.broker_url()
        return broker if broker.startswith(("redis://", "rediss://")) else None


def _required_env(variable: str, where: str) -> str:
    value = os.environ.get(variable)
    if not value:
        raise ConfigError(f"{where}: environment variable {variable} is not set", field=None)
    return value


def fleet_settings(ws: Workspace) -> FleetSettings:
    """The workspace's ``fleet:`` section (defaults when absent); errors name the line."""
    raw = ws.spec.fleet if ws.spec.fleet is not None else {}
    try:
        settings = FleetSettings.model_validate(raw)
    except ValidationError as exc:
        raise _error(ws, exc, ("fleet",)) from None
    for name in settings.systems:
        if name not in ws.systems:
            raise error_at(ws.doc, ("fleet", "systems", name), f"no system {name!r} in the workspace")
        try:
            settings.schedule(name)
        except ValidationError as exc:
            raise _error(ws, exc, ("fleet", "systems", name)) from None
    return settings


def _error(ws: Workspace, exc: ValidationError, base: tuple[str, ...]) -> ConfigError:
    err = exc.errors()[0]
    loc = tuple(str(p) for p in err["loc"])
    return error_at(ws.doc, (*base, *loc), str(err["msg"]).removeprefix("Value error, "))


