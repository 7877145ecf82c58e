"""What a sync run should do; filled from Baton's standard flags by the runner."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field


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
    page_size: int = 100
    # A checkpoint is committed at least this often, so kill -9 loses at most this much work.
    checkpoint_seconds: float = 5.0
    batch_rows: int = 20000
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    keep_syncs: int = field(default_factory=_keep_default)
    # Ask the connector only for what changed since the last full run (pybaton.sync.incremental).
    incremental: bool = False

    @property
    def partial(self) -> bool:
        return bool(self.sync_resources or self.sync_resource_types)
