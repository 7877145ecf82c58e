"""What provisioning knows about a system before writing to it: the latest sync of a ``.c1z``.

Targets are resolved and validated against the latest finished full sync,
overlaid by the targeted (partial) syncs that re-read single resources after
earlier writes, newest first, so an account created a minute ago can be
granted access without a full re-sync in between.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from pybaton.c1z import C1ZFile, SyncReader, SyncRun
from pybaton.c1z.syncs import parse_time
from pybaton.errors import SyncNotFoundError, UserError
from pybaton.pb.c1.connector.v2 import entitlement_pb2, grant_pb2, resource_pb2

T = TypeVar("T")


def _newer_partials(c1z: C1ZFile, base: SyncRun) -> list[SyncRun]:
    """Finished targeted syncs that ended after ``base``, newest first."""
    floor = parse_time(base.ended_at) or dt.datetime.min.replace(tzinfo=dt.UTC)

    def ended(run: SyncRun) -> dt.datetime:
        return parse_time(run.ended_at) or floor

    newer = [r for r in c1z.sync_runs() if r.finished and r.sync_type == "partial" and ended(r) > floor]
    return sorted(newer, key=ended, reverse=True)


class Snapshot:
    """Lookups over the latest sync (full sync + newer targeted syncs). Use :meth:`open`."""

    def __init__(self, c1z: C1ZFile) -> None:
        self.path = c1z.path
        base = c1z.resolve_sync()
        self.readers = [SyncReader(c1z, run) for run in (*_newer_partials(c1z, base), base)]

    @classmethod
    @contextlib.contextmanager
    def open(cls, path: Path, connector: str) -> Iterator[Snapshot]:
        """Open read-only; a missing or unsynced file is a one-line error saying how to sync it."""
        hint = f"sync it first (pybaton sync {connector} -f {path}) so targets can be resolved and validated"
        if not path.exists():
            raise UserError(f"{path}: no such file; {hint}")
        with C1ZFile.open(path) as c1z:
            try:
                snapshot = cls(c1z)
            except SyncNotFoundError:
                raise UserError(f"{path} holds no finished sync; {hint}") from None
            yield snapshot

    def _first(self, lookup: Callable[[SyncReader], T | None]) -> T | None:
        for reader in self.readers:
            found = lookup(reader)
            if found is not None:
                return found
        return None

    def resource(self, resource_type: str, resource_id: str) -> resource_pb2.Resource | None:
        return self._first(lambda r: r.resource(resource_type, resource_id))

    def entitlement(self, entitlement_id: str) -> entitlement_pb2.Entitlement | None:
        return self._first(lambda r: r.entitlement(entitlement_id))

    def grant(self, grant_id: str) -> grant_pb2.Grant | None:
        return self._first(lambda r: r.grant(grant_id))

    def resource_type(self, type_id: str) -> resource_pb2.ResourceType | None:
        return self._first(lambda r: r.resource_type(type_id))

    def grant_count(self, principal: tuple[str, str]) -> int:
        """Grants the principal holds in the full sync (for the dry run of a delete)."""
        return sum(1 for _ in self.readers[-1].grants(principal=principal))

    def describe(self, resource_type: str, resource_id: str) -> str:
        """``user:ada (Ada Lovelace)``, or just the reference when the resource is unknown."""
        ref = f"{resource_type}:{resource_id}"
        res = self.resource(resource_type, resource_id)
        return f"{ref} ({res.display_name})" if res is not None and res.display_name else ref

