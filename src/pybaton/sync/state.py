"""The checkpoint a sync run carries in ``v1_sync_runs.sync_token``.

It is committed in the same transaction as the rows it describes, so after a
crash the database and the checkpoint always agree: resuming redoes at most the
work since the last commit, and upserts make redone pages harmless.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

PHASES = ("resource_types", "resources", "entitlements", "grants", "expansion", "done")
FORMAT = "pybaton/1"


@dataclass
class ListTask:
    """List resources of ``resource_type`` under a parent, from ``token``."""

    resource_type: str
    parent_type: str = ""
    parent_id: str = ""
    token: str = ""


@dataclass
class ScanState:
    """Progress through the resources when collecting entitlements or grants.

    Every resource row id ``<= watermark`` is finished; ``done`` holds finished
    ids above it (workers finish out of order); ``tokens`` the next page token of
    resources in flight, so even one huge resource resumes mid-way.
    """

    watermark: int = 0
    done: list[int] = field(default_factory=list)
    tokens: dict[str, str] = field(default_factory=dict)


@dataclass
class SyncState:
    phase: str = "resource_types"
    queue: list[ListTask] = field(default_factory=list)
    scan: ScanState = field(default_factory=ScanState)
    expansion: dict[str, Any] = field(default_factory=dict)
    # Change cursors (resource type -> cursor) taken when the run started: where the next
    # incremental sync asks from. Kept in the finished run's token (see docs/incremental.md).
    cursors: dict[str, str] = field(default_factory=dict)
    # True when the finished run's referential integrity check found nothing: an incremental sync
    # compacting it in place then checks only the rows it touched (pybaton.sync.inplace).
    integrity_clean: bool = False
    # The diff pairs (partial_upserts, partial_deletions) compacted into this full run, oldest first, with
    # the row ids their rows lie above (table -> id): dropping an old pair deletes a range, not a scan.
    diffs: list[dict[str, Any]] = field(default_factory=list)

    def to_token(self) -> str:
        raw = asdict(self)
        raw["format"] = FORMAT
        return json.dumps(raw, separators=(",", ":"))

    @classmethod
    def from_token(cls, token: str) -> SyncState | None:
        """Parse our own checkpoint; None for empty or foreign (Go) tokens."""
        if not token:
            return None
        try:
            raw = json.loads(token)
        except ValueError:
            return None
        if not isinstance(raw, dict) or raw.get("format") != FORMAT or raw.get("phase") not in PHASES:
            return None
        scan = raw.get("scan") or {}
        return cls(
            phase=raw["phase"],
            queue=[ListTask(**t) for t in raw.get("queue") or []],
            scan=ScanState(watermark=int(scan.get("watermark", 0)), done=list(scan.get("done") or []),
                           tokens=dict(scan.get("tokens") or {})),
            expansion=dict(raw.get("expansion") or {}),
            cursors={str(k): str(v) for k, v in (raw.get("cursors") or {}).items()},
            integrity_clean=bool(raw.get("integrity_clean", False)),
            diffs=[dict(d) for d in raw.get("diffs") or [] if isinstance(d, dict)],
        )
