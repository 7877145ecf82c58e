"""What a sync run should do; filled from Baton's standard flags by the runner."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field

DEFAULT_PAGE_SIZE = 100
"""Baton's page size when neither the operator nor the connector chooses one."""


def _keep_default() -> int:
    raw = os.environ.get("BATON_KEEP_SYNC_COUNT", "")
    return int(raw) if raw.isdigit() and int(raw) > 0 else 2


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff for retryable connector errors: ``base * 2**attempt``, capped, at most ``attempts`` tries."""

    attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_rate_limit_wait: float = 300.0


@dataclass(frozen=True)
class SyncOptions:
    workers: int = 1
    skip_entitlements_and_grants: bool = False
    skip_grants: bool = False
    # Targeted sync ("type:id" each): a partial run holding just these resources.
    sync_resources: Sequence[str] = ()
    # Only these resource types (a partial run).
    sync_resource_types: Sequence[str] = ()
    expand: bool = True
    expansion_max_depth: int = 20
    integrity_check: bool = True
    # Items asked for per connector call. None: the operator gave no --page-size, so the connector's
    # preferred size applies (Connector.preferred_page_size), else Baton's default of 100.
    page_size: int | None = None
    # A checkpoint is committed at least this often, so kill -9 loses at most this much work.
    checkpoint_seconds: float = 5.0
    batch_rows: int = 20000
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    keep_syncs: int = field(default_factory=_keep_default)
    # Ask the connector only for what changed since the last full run (pybaton.sync.incremental).
    incremental: bool = False

    def page_size_for(self, preferred: int | None) -> int:
        """The page size to ask for: the operator's when given, else the connector's preference, else 100.

        An explicit ``--page-size`` always wins (Baton's documented behaviour); only
        the default is the connector's choice, since the best default depends on the
        system (a database answers 5,000 rows as fast as 100; a rate-limited API does not).
        """
        return self.page_size or preferred or DEFAULT_PAGE_SIZE

    @property
    def partial(self) -> bool:
        return bool(self.sync_resources or self.sync_resource_types)
