"""What changed in the directory since a cursor, for ``sync --incremental``.

Works on any LDAP server: the cursor is the newest stamp seen — the
``entryCSN`` where the server keeps one (OpenLDAP does, to the microsecond,
with or without the syncprov overlay), else ``modifyTimestamp`` (whole seconds);
the server sets both on add, modify and rename/move. One search per type
fetches only DNs and stamps: entries stamped at or after the cursor are
re-read whole, and the DNs are the ``present`` list from which the engine
learns deletions. A group or role is also re-read when a user or group it names
changed since the cursor, so a member that appears (or a ``memberUid`` that
starts to match) is seen without the group being touched. The cursor also keeps
each entry's member key (uids and gidNumber, as the RFC 4533 cursor does), so only
entries whose DN or key changed count, and the groups naming their old values are
re-read too. Entries changed in
the cursor's own instant are read again next time (harmless: the engine re-reads
what it is told).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ldap3.utils.conv import escape_filter_chars

from pybaton.connectors.ldap import content, directory
from pybaton.connectors.ldap.client import Entry, Search
from pybaton.connectors.ldap.context import LdapContext
from pybaton.errors import CursorExpiredError

PREFIX = "mts:"  # a stamp alone (older runs)
TABLE_PREFIX = "mtk:"  # a stamp and every entry's member key (DN -> uids;gidNumber), see .content
EPOCH = "0"
# Above this many changed principals, every entry of a membership type is re-read (filters get too long).
MAX_REFERENCED = 200

STAMPS = ("entryCSN", "modifyTimestamp")
# What a change scan reads: the stamps, and what tells which groups name an entry (memberUid, primary group).
SCAN_ATTRIBUTES = (*STAMPS, "uid", "gidNumber")


def encode(stamp: str, keys: dict[str, str]) -> str:
    """The cursor: the newest stamp seen and each entry's member key, so the next run knows what a changed
    entry was named by before (a uid that went away, an old primary group)."""
    return content.pack(TABLE_PREFIX, stamp, ([cid, key] for cid, key in keys.items()))


def decode(cursor: str) -> tuple[str, dict[str, str] | None]:
    """The stamp, and the key table (None for a cursor of an older run, which has none)."""
    try:
        if cursor.startswith(TABLE_PREFIX):
            stamp, rows = content.unpack(TABLE_PREFIX, cursor)
            keys = {cid: key for cid, key in rows}
        elif cursor.startswith(PREFIX):
            stamp, keys = cursor[len(PREFIX):], None
        else:
            raise ValueError(cursor)
    except ValueError:
        raise CursorExpiredError(f"ldap: {cursor[:60]!r} is not a change cursor of this connector") from None
    if not (stamp == EPOCH or stamp[:14].isdigit()):
        raise CursorExpiredError(f"ldap: {cursor[:60]!r} is not a change cursor of this connector")
    return stamp, keys


def stamp_of(entry: Entry) -> str:
    return entry.first("entryCSN") or entry.first("modifyTimestamp") or ""


def at_or_after(stamp: str, since: str) -> bool:
    """Generalized times compare as text when their layout is the same (``YYYYmmddHHMMSSZ``)."""
    return since == EPOCH or (len(stamp), stamp) >= (len(since), since)


def newest(entries: Iterable[Entry], floor: str) -> str:
    best = floor
    for entry in entries:
        stamp = stamp_of(entry)
        if best == EPOCH or (len(stamp), stamp) > (len(best), best):
            best = stamp or best
    return best


def search(ctx: LdapContext, kind: str, kind_filter: str, narrower: str = "",
           attributes: Sequence[str] = STAMPS) -> list[Entry]:
    """Entries of one kind (only ``attributes``), narrowed by an extra filter when given."""
    wanted = directory.kind_filter(ctx.config, kind_filter)
    if narrower:
        wanted = f"(&{wanted}{narrower})"
    return list(ctx.client.all(Search(ctx.config.search_base(kind), wanted, "sub", tuple(attributes))))


def naming(member_attributes: Sequence[str], principals: Sequence[Entry], lost_names: bool = False) -> str:
    """A filter matching entries whose member attributes name any of ``principals``; with ``lost_names``
    also every entry naming users by uid or gidNumber (those a principal may have had before)."""
    by_uid = any(a.lower() == "memberuid" for a in member_attributes)
    terms: list[str] = ["(memberUid=*)", "(gidNumber=*)"] if lost_names and by_uid else []
    for entry in principals:
        for attr in member_attributes:
            if attr.lower() == "memberuid":
                terms.extend(f"(memberUid={escape_filter_chars(uid)})" for uid in entry.values("uid"))
            else:
                terms.append(f"({attr}={escape_filter_chars(entry.dn)})")
        gid = entry.first("gidNumber")
        if gid and any(a.lower() == "memberuid" for a in member_attributes):
            terms.append(f"(gidNumber={escape_filter_chars(gid)})")  # primary group members
    return f"(|{''.join(terms)})" if terms else ""


__all__ = [
    "EPOCH",
    "MAX_REFERENCED",
    "SCAN_ATTRIBUTES",
    "STAMPS",
    "TABLE_PREFIX",
    "at_or_after",
    "decode",
    "encode",
    "naming",
    "newest",
    "search",
    "stamp_of",
]
