"""The change cursor of a directory that offers RFC 4533 content synchronisation.

A sync cookie alone cannot serve the engine: the refresh names deleted and
present entries by ``entryUUID``, and reports a rename or move as the same UUID
under a new DN, while Baton resources are keyed by DN. So the cursor carries,
next to the cookie, what a syncrepl consumer keeps: for each UUID of the kind,
the entry's canonical DN and its *key* — what member resolution reads of it
(a user's ``uid`` values and ``gidNumber``). Applying a refresh to it gives the
DNs that exist now (the ``present`` list the engine compacts with: deletions
and the old DNs of renamed entries fall out) and the principals whose DN or key
changed (the groups naming them are re-read); a user whose title changed
leaves every group as it was. The table is compressed (about 35-40 bytes an entry).
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from pybaton.connectors.ldap.client import Entry
from pybaton.connectors.ldap.syncrepl import Refresh
from pybaton.errors import CursorExpiredError

PREFIX = "rfc4533:"
KEY_ATTRIBUTES = ("uid", "gidNumber")  # what the keys are made of (the initial refresh reads only these)
UID_SEPARATOR = "\x1f"  # between a user's uids in its key (a character no uid holds)


@dataclass(frozen=True)
class Known:
    """An entry as the cursor remembers it: canonical DN and member-resolution key."""

    id: str
    key: str


def user_key(entry: Entry) -> str:
    """What a group's member resolution reads of a user: its uids (``memberUid``) and primary group.
    Spelled as stored (``memberUid`` matches case-exactly, so a filter for an old uid must keep its case)."""
    return UID_SEPARATOR.join(sorted(entry.values("uid"))) + ";" + (entry.first("gidNumber") or "")


def as_entry(known: Known) -> Entry:
    """An entry as the cursor last saw it (DN, uids, gidNumber): what groups named it by before a change."""
    uids, _, gid = known.key.rpartition(";")  # a gidNumber is a number: the last ";" ends the uids
    attrs = {"uid": [u for u in uids.split(UID_SEPARATOR) if u], "gidnumber": [gid] if gid else []}
    return Entry(known.id, attrs)


def no_key(entry: Entry) -> str:
    """Groups and roles are named by DN only."""
    return ""


@dataclass(frozen=True)
class SyncCursor:
    cookie: bytes
    known: dict[bytes, Known]

    def encode(self) -> str:
        return pack(PREFIX, base64.b64encode(self.cookie).decode(),
                    ([uuid.hex(), k.id, k.key] for uuid, k in self.known.items()))

    @classmethod
    def decode(cls, cursor: str) -> SyncCursor:
        try:
            cookie, rows = unpack(PREFIX, cursor)
            known = {bytes.fromhex(uuid): Known(cid, key) for uuid, cid, key in rows}
            return cls(base64.b64decode(cookie, validate=True), known)
        except (ValueError, binascii.Error):
            raise CursorExpiredError(f"ldap: {cursor[:40]!r}… is not a sync cursor of this connector") from None

    def ids(self) -> list[str]:
        return sorted({k.id for k in self.known.values()})


def pack(prefix: str, head: str, rows: Iterable[Sequence[str]]) -> str:
    """A cursor carrying a table: ``head`` and tab-separated rows, zlib-compressed (fast: written every run)."""
    lines = sorted("\t".join(_field(f) for f in row) for row in rows)
    return prefix + base64.urlsafe_b64encode(zlib.compress("\n".join([head, *lines]).encode(), 1)).decode()


def unpack(prefix: str, cursor: str) -> tuple[str, list[list[str]]]:
    """``head`` and rows of a :func:`pack` cursor (ValueError when it is not one)."""
    try:
        head, *lines = zlib.decompress(base64.urlsafe_b64decode(cursor[len(prefix):])).decode().split("\n")
    except (zlib.error, binascii.Error, UnicodeDecodeError) as exc:
        raise ValueError(str(exc)) from None
    return head, [[_unfield(f) for f in line.split("\t")] for line in lines]


def moved(before: dict[str, str], entries: Iterable[Entry], key: Callable[[Entry], str]) -> list[Entry]:
    """Entries whose DN is new or whose key changed since ``before`` (DN -> key), with their old selves."""
    found: list[Entry] = []
    for entry in entries:
        now, then = key(entry), before.get(entry.id)
        if then != now:
            found.extend([entry] if then is None else [entry, as_entry(Known(entry.id, then))])
    return found


def _field(text: str) -> str:
    """A table field: as is, or JSON-quoted when it holds a tab, a newline or starts with a quote."""
    return json.dumps(text) if any(c in text for c in '\t\n"') else text


def _unfield(text: str) -> str:
    return str(json.loads(text)) if text.startswith('"') else text


def is_sync_cursor(cursor: str) -> bool:
    return cursor.startswith(PREFIX)


def initial(refresh: Refresh, key: Callable[[Entry], str]) -> SyncCursor:
    """The cursor of a refresh without a cookie (the whole content)."""
    if not refresh.cookie:
        raise CursorExpiredError("the directory answered the content refresh without a sync cookie")
    return SyncCursor(refresh.cookie, {u: Known(e.id, key(e)) for u, e in refresh.changed.items()})


def advance(cursor: SyncCursor, refresh: Refresh, key: Callable[[Entry], str]) -> tuple[SyncCursor, list[Entry]]:
    """The cursor after ``refresh``, and the principals to follow: changed entries whose DN or key is new,
    as they are now and as they were (a group may name either: a uid that went away, the old DN)."""
    known = dict(cursor.known)
    moved: list[Entry] = []
    for uuid, entry in refresh.changed.items():
        now, before = Known(entry.id, key(entry)), known.get(uuid)
        if before != now:
            moved.extend([entry] if before is None else [entry, as_entry(before)])
        known[uuid] = now
    if refresh.refresh_deletes:
        for uuid in refresh.deleted:
            known.pop(uuid, None)
    else:  # a present phase: what the refresh did not name is gone
        kept = refresh.present | set(refresh.changed)
        known = {u: k for u, k in known.items() if u in kept}
    return SyncCursor(refresh.cookie or cursor.cookie, known), moved


__all__ = ["KEY_ATTRIBUTES", "PREFIX", "Known", "SyncCursor", "advance", "as_entry", "initial", "is_sync_cursor",
           "moved", "no_key", "pack", "unpack", "user_key"]
