"""Which sync of each system a question is about: the current ones, or those of a past moment.

``--as-of`` takes a date (``2026-03-01``: the end of that day, UTC), a time
(``2026-03-01T09:30``), a duration back from now (``7d``, ``12h``) or a Baton
sync id. For a time, each system answers with its newest sync that had ended by
then; for a sync id, that system answers with that sync and every other
system with its newest sync that had ended when that one did.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sqlalchemy import Connection, select

from pybaton.errors import UsageError, WarehouseError
from pybaton.warehouse import schema as s
from pybaton.warehouse.stored import SyncRef

_DURATION = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


@dataclass(frozen=True)
class AsOf:
    """A point in time (naive UTC), or one sync id."""

    when: dt.datetime | None = None
    sync_id: str | None = None

    def __str__(self) -> str:
        return self.sync_id or (self.when.isoformat(sep=" ", timespec="seconds") if self.when else "now")


def parse_moment(text: str, *, now: dt.datetime | None = None) -> dt.datetime:
    """A date, a time or a duration back from ``now``, as naive UTC."""
    value = text.strip()
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    duration = _DURATION.match(value)
    if duration:
        return now - dt.timedelta(**{_UNITS[duration.group(2)]: int(duration.group(1))})
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            return dt.datetime.fromisoformat(value) + dt.timedelta(days=1) - dt.timedelta(microseconds=1)
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"{text!r} is not a date (2026-03-01), a time (2026-03-01T09:30) "
                         "or a duration (7d, 12h)") from None
    return parsed.astimezone(dt.UTC).replace(tzinfo=None) if parsed.tzinfo else parsed


def parse_as_of(text: str | None) -> AsOf | None:
    """``--as-of``: None (now), a moment, or anything else as a sync id."""
    if text is None or not text.strip():
        return None
    value = text.strip()
    if _DURATION.match(value) or re.match(r"^\d{4}-\d{2}-\d{2}", value):
        return AsOf(when=parse_moment(value))
    return AsOf(sync_id=value)


def _sync_rows(conn: Connection, system: str | None = None) -> list[tuple[str, str, int, dt.datetime | None, bool]]:
    query = (select(s.systems.c.name, s.syncs.c.sync_id, s.syncs.c.sync_pk, s.syncs.c.ended_at, s.syncs.c.is_current)
             .join(s.systems, s.systems.c.system_id == s.syncs.c.system_id)
             .order_by(s.systems.c.name, s.syncs.c.ended_at.desc(), s.syncs.c.sync_pk.desc()))
    if system is not None:
        query = query.where(s.systems.c.name == system)
    return [(str(n), str(i), int(pk), e, bool(c)) for n, i, pk, e, c in conn.execute(query)]


def select_syncs(conn: Connection, as_of: AsOf | None) -> dict[str, SyncRef]:
    """System → the sync that answers for it (systems with no sync by then are left out)."""
    rows = _sync_rows(conn)
    if as_of is None:
        return {name: SyncRef(name, sid, pk) for name, sid, pk, _, current in rows if current}
    when = as_of.when
    chosen: dict[str, SyncRef] = {}
    if as_of.sync_id is not None:
        named = [r for r in rows if r[1] == as_of.sync_id]
        if not named:
            raise WarehouseError(f"the warehouse holds no sync {as_of.sync_id!r} (pybaton warehouse status lists them)")
        name, sid, pk, when, _ = named[0]
        chosen[name] = SyncRef(name, sid, pk)
    for name, sid, pk, ended, _ in rows:  # newest first within each system
        if name not in chosen and ended is not None and when is not None and ended <= when:
            chosen[name] = SyncRef(name, sid, pk)
    return dict(sorted(chosen.items()))


def baseline_syncs(conn: Connection, since: dt.datetime, targets: dict[str, SyncRef]) -> dict[str, SyncRef]:
    """For each system, the sync to compare ``targets`` with: the newest ended by ``since``, else the oldest held."""
    by_system: dict[str, list[tuple[str, int, dt.datetime | None]]] = {}
    for name, sid, pk, ended, _ in _sync_rows(conn):
        by_system.setdefault(name, []).append((sid, pk, ended))
    out: dict[str, SyncRef] = {}
    for name in targets:
        held = by_system.get(name, [])
        before = [(sid, pk) for sid, pk, ended in held if ended is not None and ended <= since]
        sid, pk = before[0] if before else (held[-1][0], held[-1][1])
        out[name] = SyncRef(name, sid, pk)
    return out
