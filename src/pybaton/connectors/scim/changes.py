"""What changed in a SCIM service since a cursor, for ``sync --incremental``.

The cursor is the newest ``meta.lastModified`` seen. Changed resources are
fetched whole with the filter ``meta.lastModified ge "<cursor>"`` (combined with
the syncer's own filter); deletions come from an id-only scan (``attributes=id``),
the ``present`` list. A service that does not support filtering (its
``ServiceProviderConfig`` says so) cannot list changes: the engine is told the
cursor is unusable and does a full sync.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from pybaton.connector.capabilities import Changes
from pybaton.connectors.scim.client import ScimClient
from pybaton.errors import CursorExpiredError
from pybaton.pb.c1.connector.v2 import resource_pb2

PREFIX = "lm:"
EPOCH = "1970-01-01T00:00:00Z"
SCAN_PAGE = 1000


def _stamp(item: Mapping[str, Any]) -> dt.datetime | None:
    text = str((item.get("meta") or {}).get("lastModified") or "")
    try:
        stamp = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)


def _text(stamp: dt.datetime) -> str:
    return stamp.astimezone(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def decode(cursor: str) -> dt.datetime:
    stamp = _stamp({"meta": {"lastModified": cursor[len(PREFIX):]}}) if cursor.startswith(PREFIX) else None
    if stamp is None:
        raise CursorExpiredError(f"scim: {cursor[:60]!r} is not a change cursor of this connector")
    return stamp


def newest(items: Iterable[Mapping[str, Any]], floor: dt.datetime) -> dt.datetime:
    return max([floor, *(s for s in map(_stamp, items) if s is not None)])


class ScimChanges:
    """``ChangeLister`` for a SCIM syncer (mixed into :class:`~.syncers.ScimSyncer`)."""

    client: ScimClient
    scim_type: ClassVar[str]
    filter: str

    def params(self) -> dict[str, str]:
        raise NotImplementedError

    def build(self, item: Mapping[str, Any]) -> resource_pb2.Resource:
        raise NotImplementedError

    def _scan(self) -> list[dict[str, Any]]:
        if not self.client.capabilities.filter:
            raise CursorExpiredError("scim: the service does not support filtering, so it cannot list changes")
        params = {"attributes": "id,meta", **({"filter": self.filter} if self.filter else {})}
        return list(self.client.iterate(self.scim_type, SCAN_PAGE, params=params))

    def current_cursor(self) -> str:
        return PREFIX + _text(newest(self._scan(), decode(PREFIX + EPOCH)))

    def changes(self, cursor: str) -> Changes:
        since = decode(cursor)
        scan = self._scan()
        changed_filter = f'meta.lastModified ge "{_text(since)}"'
        params = self.params()
        params["filter"] = f"({params['filter']}) and {changed_filter}" if params.get("filter") else changed_filter
        changed = [self.build(item) for item in self.client.iterate(self.scim_type, SCAN_PAGE, params=params)
                   if item.get("id")]
        return Changes(PREFIX + _text(newest(scan, since)), resources=changed,
                       present=[str(item["id"]) for item in scan if item.get("id")])


__all__ = ["ScimChanges", "decode", "newest"]
