"""RFC 4533 content synchronisation, refreshOnly: the LDAP Sync controls and what a refresh returned.

ldap3 sends any control as ``(oid, criticality, value)`` and hands back the
raw value of controls it does not know, so the BER values are encoded and
decoded here with pyasn1 (which ldap3 itself is built on):

- Sync Request control (``1.3.6.1.4.1.4203.1.9.1.1``) on the search: mode
  refreshOnly and the cookie of the previous refresh (none: the whole content);
- Sync State control (``…1.2``) on each entry: present / add / modify / delete and
  the entry's ``entryUUID``;
- Sync Info intermediate messages (``…1.4``): a new cookie, the end of a refresh
  phase, or a ``syncIdSet`` — many UUIDs at once, deleted (``refreshDeletes``) or
  present;
- Sync Done control (``…1.3``) on the search result: the new cookie and whether
  the refresh named the deletions (``refreshDeletes``) or only what is present.

An expired or unknown cookie is the result code ``e-syncRefreshRequired`` (4096).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pyasn1.codec.ber import decoder, encoder
from pyasn1.error import PyAsn1Error
from pyasn1.type import namedtype, namedval, tag, univ

from pybaton.connectors.ldap.client import NO_SUCH_OBJECT, SUCCESS, Entry, LdapClient, Search, to_entry
from pybaton.errors import CursorExpiredError, FatalError

SYNC_REQUEST_OID = "1.3.6.1.4.1.4203.1.9.1.1"
SYNC_STATE_OID = "1.3.6.1.4.1.4203.1.9.1.2"
SYNC_DONE_OID = "1.3.6.1.4.1.4203.1.9.1.3"
SYNC_INFO_OID = "1.3.6.1.4.1.4203.1.9.1.4"
E_SYNC_REFRESH_REQUIRED = 4096
UNWILLING_TO_PERFORM = 53
REFRESH_ONLY = 1
PRESENT, ADD, MODIFY, DELETE = 0, 1, 2, 3


def _sequence(*fields: Any) -> Any:
    return univ.Sequence(componentType=namedtype.NamedTypes(*fields))


def _enumerated(*names: tuple[str, int]) -> Any:
    return univ.Enumerated(namedValues=namedval.NamedValues(*names))


def _context(number: int, constructed: bool) -> Any:
    return tag.Tag(tag.tagClassContext, tag.tagFormatConstructed if constructed else tag.tagFormatSimple, number)


def _cookie() -> Any:
    return namedtype.OptionalNamedType("cookie", univ.OctetString())


# The ASN.1 of RFC 4533 section 2 (IMPLICIT TAGS), as pyasn1 specifications.
SYNC_REQUEST = _sequence(
    namedtype.NamedType("mode", _enumerated(("refreshOnly", 1), ("refreshAndPersist", 3))),
    _cookie(),
    namedtype.DefaultedNamedType("reloadHint", univ.Boolean(False)))
SYNC_STATE = _sequence(
    namedtype.NamedType("state", _enumerated(("present", 0), ("add", 1), ("modify", 2), ("delete", 3))),
    namedtype.NamedType("entryUUID", univ.OctetString()),
    _cookie())
SYNC_DONE = _sequence(_cookie(), namedtype.DefaultedNamedType("refreshDeletes", univ.Boolean(False)))


def _phase_end(number: int) -> Any:
    """refreshDelete [1] / refreshPresent [2]: the end of a refresh phase, with a cookie."""
    return _sequence(_cookie(), namedtype.DefaultedNamedType("refreshDone", univ.Boolean(True))).subtype(
        implicitTag=_context(number, True))


SYNC_INFO = univ.Choice(componentType=namedtype.NamedTypes(
    namedtype.NamedType("newcookie", univ.OctetString().subtype(implicitTag=_context(0, False))),
    namedtype.NamedType("refreshDelete", _phase_end(1)),
    namedtype.NamedType("refreshPresent", _phase_end(2)),
    namedtype.NamedType("syncIdSet", _sequence(
        _cookie(),
        namedtype.DefaultedNamedType("refreshDeletes", univ.Boolean(False)),
        namedtype.NamedType("syncUUIDs", univ.SetOf(componentType=univ.OctetString()))).subtype(
        implicitTag=_context(3, True)))))


def request_control(cookie: bytes | None) -> tuple[str, bool, bytes]:
    """The Sync Request control (critical: a server that cannot honour it must refuse the search)."""
    value = SYNC_REQUEST.clone()
    value["mode"] = REFRESH_ONLY
    if cookie:
        value["cookie"] = cookie
    return SYNC_REQUEST_OID, True, encoder.encode(value)


def _decode(raw: bytes, spec: Any, what: str) -> Any:
    try:
        decoded, rest = decoder.decode(raw, asn1Spec=spec)
    except PyAsn1Error as exc:
        raise FatalError(f"ldap: the server sent a malformed {what}: {exc}") from None
    if rest:
        raise FatalError(f"ldap: the server sent a malformed {what}: {len(rest)} trailing bytes")
    return decoded


def _optional(value: Any, name: str) -> bytes | None:
    component = value[name]
    return bytes(component) if component.isValue else None


@dataclass
class Refresh:
    """What one refreshOnly search returned, keyed by ``entryUUID`` (16 raw bytes).

    ``changed`` entries come whole (added, modified, renamed or moved: the same
    UUID under a new DN). When ``refresh_deletes`` is true the refresh named the
    deleted UUIDs (``deleted``); otherwise it named what is still there
    (``present``) and every entry it did not name is gone.
    """

    changed: dict[bytes, Entry] = field(default_factory=dict)
    present: set[bytes] = field(default_factory=set)
    deleted: set[bytes] = field(default_factory=set)
    cookie: bytes | None = None
    refresh_deletes: bool = False

    def entry(self, entry: Entry, control: bytes) -> None:
        state = _decode(control, SYNC_STATE, "Sync State control")
        uuid, kind = bytes(state["entryUUID"]), int(state["state"])
        self._cookie(_optional(state, "cookie"))
        if kind == PRESENT:
            self.present.add(uuid)
        elif kind == DELETE:
            self.deleted.add(uuid)
        else:
            self.changed[uuid] = entry

    def info(self, raw: bytes) -> None:
        """A Sync Info message: a cookie, the end of a phase, or a set of UUIDs deleted or present."""
        value = _decode(raw, SYNC_INFO, "Sync Info message")
        name = value.getName()
        if name == "newcookie":
            self._cookie(bytes(value["newcookie"]))
            return
        body = value[name]
        self._cookie(_optional(body, "cookie"))
        if name == "syncIdSet":
            uuids: Iterable[bytes] = (bytes(u) for u in body["syncUUIDs"])
            (self.deleted if bool(body["refreshDeletes"]) else self.present).update(uuids)

    def done(self, control: bytes | None) -> None:
        """The Sync Done control; no control (or no flag) means the refresh listed what is present."""
        if control is None:
            return
        value = _decode(control, SYNC_DONE, "Sync Done control")
        self._cookie(_optional(value, "cookie"))
        self.refresh_deletes = bool(value["refreshDeletes"])

    def _cookie(self, cookie: bytes | None) -> None:
        if cookie:
            self.cookie = cookie


class SyncUnavailableError(FatalError):
    """The server refused a refresh (no syncprov on this database, access denied, limits)."""


def refresh(client: LdapClient, search: Search, cookie: bytes | None) -> Refresh:
    """One refreshOnly search: the content matching ``search`` (with a cookie: what changed since it)."""
    responses, result = client.controlled(search, [request_control(cookie)])
    code = result.get("result")
    if code == E_SYNC_REFRESH_REQUIRED:
        raise CursorExpiredError("the directory no longer knows the sync cookie (e-syncRefreshRequired)")
    if cookie and code == UNWILLING_TO_PERFORM:  # e.g. "consumer state is newer than provider" (a restore)
        raise CursorExpiredError(f"the directory refused the sync cookie: {result.get('message') or code}")
    found = Refresh(cookie=cookie)
    if code == NO_SUCH_OBJECT:  # no search base: nothing is there (a listing says the same)
        return found
    if code != SUCCESS:
        raise SyncUnavailableError(f"ldap: content synchronisation under {search.base!r} refused: "
                                   f"{result.get('description')} {result.get('message') or ''}".rstrip())
    for message in responses:
        kind = message.get("type")
        if kind == "searchResEntry":
            control = _control(message, SYNC_STATE_OID)
            if control is None:
                raise SyncUnavailableError(f"ldap: {message.get('dn')!r} came without a Sync State control")
            found.entry(to_entry(message), control)
        elif kind == "intermediateResponse" and message.get("responseName") == SYNC_INFO_OID:
            found.info(bytes(message.get("responseValue") or b""))
    found.done(_control(result, SYNC_DONE_OID))
    return found


def _control(message: dict[str, Any], oid: str) -> bytes | None:
    value = ((message.get("controls") or {}).get(oid) or {}).get("value")
    return bytes(value) if value is not None else None


def csn_of(cookie: bytes) -> str:
    """The oldest change sequence number an OpenLDAP cookie carries (``rid=001,csn=…#…;…``), or ``""``.

    A CSN starts with a generalized time, so it compares with ``entryCSN`` values.
    """
    text = cookie.decode("utf-8", "replace")
    found = [part[4:] for item in text.split(",") for part in [item.strip()] if part.startswith("csn=")]
    csns = [c for value in found for c in value.split(";") if c]
    return min(csns) if csns else ""


__all__ = [
    "E_SYNC_REFRESH_REQUIRED",
    "SYNC_DONE_OID",
    "SYNC_INFO_OID",
    "SYNC_REQUEST_OID",
    "SYNC_STATE_OID",
    "Refresh",
    "SyncUnavailableError",
    "csn_of",
    "refresh",
    "request_control",
]
