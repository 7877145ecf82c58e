"""``pybaton events NAME [--follow]``: a connector's event feed (Baton's ``ListEvents``).

Prints grant, revoke, resource-change and usage events after ``--cursor`` (from
the oldest the system keeps by default), one per line, then the cursor to resume
from on stderr. ``--follow`` keeps polling every ``--interval`` seconds until
interrupted. ``-o json`` prints one protojson ``Event`` per line (JSON Lines).
The connector takes its usual flags, env vars and ``.baton.yaml`` keys.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterator
from typing import Annotated, Any

import typer
from google.protobuf import json_format

from pybaton.cli.external import resolve_connector
from pybaton.cli.sync import HELP_WORDS, PASS_THROUGH, show_connector_usage
from pybaton.connector.base import Connector
from pybaton.connector.capabilities import EventFeed, EventPage
from pybaton.connector.config import secret_values
from pybaton.connector.logging import configure
from pybaton.errors import UsageError, UserError
from pybaton.pb.c1.connector.v2 import event_feed_pb2, resource_pb2
from pybaton.runtime.runner import parse


def _ref(rid: resource_pb2.ResourceId) -> str:
    return f"{rid.resource_type}:{rid.resource}"


def describe(event: event_feed_pb2.Event) -> str:
    """One console line: id, time, kind and what it is about."""
    when = event.occurred_at.ToDatetime().strftime("%Y-%m-%dT%H:%M:%SZ") if event.HasField("occurred_at") else "-"
    kind = event.WhichOneof("event") or "unknown"
    if kind == "grant_event":
        grant = event.grant_event.grant
        what = f"grant   {grant.entitlement.id} -> {_ref(grant.principal.id)}"
    elif kind == "revoke_event":
        what = f"revoke  {event.revoke_event.entitlement.id} -> {_ref(event.revoke_event.principal.id)}"
    elif kind == "resource_change_event":
        what = f"change  {_ref(event.resource_change_event.resource_id)}"
    elif kind == "usage_event":
        usage = event.usage_event
        what = f"usage   {_ref(usage.actor_resource.id)} used {_ref(usage.target_resource.id)}"
    else:
        what = kind
    return f"{event.id}  {when}  {what}"


def feed(connector: EventFeed, cursor: str, *, follow: bool, interval: float, page_size: int = 100,
         sleep: Callable[[float], None] = time.sleep) -> Iterator[tuple[event_feed_pb2.Event, str]]:
    """Every event after ``cursor`` with the cursor after it; with ``follow``, forever."""
    while True:
        page: EventPage = connector.list_events(cursor, page_size)
        for event in page.events:
            yield event, page.cursor
        cursor = page.cursor or cursor
        if page.has_more:
            continue
        if not follow:
            return
        sleep(interval)


def _own_flags(args: list[str]) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(prog="pybaton events", add_help=False)
    parser.add_argument("--cursor", default="")
    parser.add_argument("--follow", action="store_true")
    parser.add_argument("--interval", type=float, default=2.0)
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("-o", "--output-format", dest="output", choices=("console", "json"), default="console")
    return parser.parse_known_args(args)


def _print(event: event_feed_pb2.Event, output: str) -> None:
    if output == "json":
        print(json.dumps(json_format.MessageToDict(event), separators=(",", ":")), flush=True)
    else:
        print(describe(event), flush=True)


def events_command(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="The connector", show_default=False)] = None,
) -> None:
    """List a connector's events: grants, revokes, resource changes, usage (`--follow` to keep watching)."""
    if name is None or name in HELP_WORDS:
        show_connector_usage("events", "[--cursor C] [--follow] [--interval S] [-o json] [CONNECTOR FLAGS]",
                             "List a connector's events (Baton's ListEvents) after a cursor.")
    own, rest = _own_flags(list(ctx.args))
    if own.interval <= 0:
        raise UsageError("pybaton events: --interval must be above 0")
    connector_class, rest = resolve_connector(name, rest)
    inv = parse(connector_class, rest, prog=f"pybaton events {name}")
    config = inv.connector_config()
    configure(inv.runtime.log_level, inv.runtime.log_format, secret_values(config))
    connector: Connector[Any] = connector_class(config)
    try:
        if not isinstance(connector, EventFeed):
            raise UserError(f"pybaton events: the {name} connector has no event feed")
        connector.validate()
        cursor, shown = own.cursor, 0
        try:
            for event, after in feed(connector, own.cursor, follow=own.follow, interval=own.interval):
                _print(event, own.output)
                cursor = after
                shown += 1
                if own.limit and shown >= own.limit:
                    break
        except KeyboardInterrupt:
            pass
        print(f"cursor: {cursor}", file=sys.stderr)
    finally:
        connector.close()


def register(app: typer.Typer) -> None:
    """Add ``events`` to the ``pybaton`` app."""
    app.command("events", context_settings=PASS_THROUGH, add_help_option=False)(events_command)


__all__ = ["describe", "events_command", "feed", "register"]
