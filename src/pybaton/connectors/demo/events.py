"""The demo system's event feed (Baton's ``ListEvents``), read from its change log.

Every logged write becomes one event: an ``access`` row added is a
``GrantEvent``, one removed a ``RevokeEvent``, anything else a
``ResourceChangeEvent`` naming the resource. The cursor is the log's sequence
number, so a feed resumes exactly where it stopped.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pybaton import model
from pybaton.connector.capabilities import EventPage
from pybaton.connectors.demo.store import DemoStore
from pybaton.connectors.demo.syncers import access_grant
from pybaton.pb.c1.connector.v2 import event_feed_pb2, resource_pb2


def _event(entry: dict[str, Any]) -> event_feed_pb2.Event:
    event = event_feed_pb2.Event(id=str(entry["seq"]))
    event.occurred_at.FromDatetime(dt.datetime.fromisoformat(str(entry["changed_at"]).replace("Z", "+00:00")))
    target = model.resource_id(entry["resource_type"], entry["resource_id"])
    if entry["event"] == "grant":
        event.grant_event.grant.CopyFrom(
            access_grant(target, entry["slug"], entry["principal_type"], entry["principal_id"]))
    elif entry["event"] == "revoke":
        event.revoke_event.entitlement.CopyFrom(model.entitlement_ref(target, entry["slug"]))
        event.revoke_event.principal.CopyFrom(resource_pb2.Resource(
            id=model.resource_id(entry["principal_type"], entry["principal_id"])))
    else:
        event.resource_change_event.resource_id.CopyFrom(target)
    return event


def list_events(store: DemoStore, cursor: str, page_size: int) -> EventPage:
    """Up to ``page_size`` events after ``cursor``; ``has_more`` when the log holds more."""
    rows = store.change_entries(cursor, page_size + 1)
    page = rows[:page_size]
    after = str(page[-1]["seq"]) if page else (cursor or "0")
    return EventPage([_event(r) for r in page], after, has_more=len(rows) > page_size)
