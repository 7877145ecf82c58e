"""Talking to the directory with ldap3: bound connections, paged searches, writes, one-line errors.

Paged results (RFC 2696) tie their cookie to the connection — OpenLDAP keeps
one paged search per connection, so a second paged search on it cancels the
first. Each listing therefore owns a connection for as long as it pages
(:class:`_Cursor`), and other searches borrow an idle one from a small pool.
A page token records the cookie *and* how many entries were served, so a run
resumed in a new process (where the cookie means nothing) restarts the search
and skips what was already written.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import re
import secrets
import ssl
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import ldap3
from ldap3.core import exceptions as ldap_errors

from pybaton.connectors.ldap import dn as dnlib
from pybaton.connectors.ldap.config import LdapConfig
from pybaton.errors import AuthenticationError, ConfigError, FatalError, RetryableError, UnreachableError

log = logging.getLogger("pybaton.connectors.ldap")

PAGED_RESULTS_OID = "1.2.840.113556.1.4.319"
SCOPES = {"base": ldap3.BASE, "one": ldap3.LEVEL, "sub": ldap3.SUBTREE}
BULK_PAGE = 1000

# LDAP result codes the connector acts on (RFC 4511).
SUCCESS, SIZE_LIMIT, NO_SUCH_ATTRIBUTE, NO_SUCH_OBJECT = 0, 4, 16, 32
INVALID_CREDENTIALS, OBJECT_CLASS_VIOLATION, NOT_ALLOWED_ON_NON_LEAF = 49, 65, 66
ATTRIBUTE_OR_VALUE_EXISTS, ENTRY_ALREADY_EXISTS = 20, 68

_TLS_REASON = re.compile(r"\]\s*([^(\]]+?)\s*\(_ssl")


@dataclass(frozen=True)
class Entry:
    """A search result: the DN as the server wrote it and the attributes (lower-case names)."""

    dn: str
    attrs: dict[str, list[str]]

    @cached_property
    def id(self) -> str:
        return dnlib.canonical(self.dn)

    def values(self, name: str) -> list[str]:
        return self.attrs.get(name.lower(), [])

    def first(self, name: str) -> str | None:
        found = self.attrs.get(name.lower())
        return found[0] if found else None

    def has_class(self, object_class: str) -> bool:
        return object_class.lower() in (v.lower() for v in self.values("objectClass"))


@dataclass(frozen=True)
class Search:
    base: str
    filter: str
    scope: str = "sub"
    attributes: tuple[str, ...] = ()


@dataclass
class _Cursor:
    conn: ldap3.Connection
    cookie: bytes


@dataclass(frozen=True)
class _Token:
    cursor: str
    cookie: bytes
    served: int

    def encode(self) -> str:
        return json.dumps({"cursor": self.cursor, "cookie": base64.b64encode(self.cookie).decode(),
                           "served": self.served}, separators=(",", ":"))

    @classmethod
    def decode(cls, token: str) -> _Token | None:
        if not token:
            return None
        try:
            raw = json.loads(token)
            return cls(str(raw["cursor"]), base64.b64decode(raw["cookie"]), int(raw["served"]))
        except (ValueError, KeyError, TypeError):
            raise FatalError(f"malformed page token {token[:60]!r}") from None


@dataclass(frozen=True)
class Result:
    """What a write did: the LDAP result code and the server's words for it."""

    code: int
    description: str = ""
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.code == SUCCESS

    def text(self) -> str:
        return f"{self.description or self.code}" + (f": {self.message}" if self.message else "")


@dataclass
class LdapClient:
    config: LdapConfig
    _idle: list[ldap3.Connection] = field(default_factory=list)
    _cursors: dict[str, _Cursor] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- connections ---------------------------------------------------------------------------------

    def _server(self) -> ldap3.Server:
        cfg = self.config
        tls = ldap3.Tls(validate=ssl.CERT_NONE if cfg.insecure_skip_verify else ssl.CERT_REQUIRED,
                        ca_certs_file=cfg.ca_cert)
        return ldap3.Server(cfg.host, port=cfg.port, use_ssl=cfg.use_ssl, tls=tls, get_info=ldap3.NONE,
                            connect_timeout=cfg.timeout)

    def _open(self) -> ldap3.Connection:
        """A new bound connection; connection, TLS and bind failures become one-line errors."""
        cfg = self.config
        password = cfg.password.get_secret_value() if cfg.password is not None else None
        conn = ldap3.Connection(self._server(), user=cfg.bind_dn, password=password,
                                authentication=ldap3.SIMPLE if cfg.bind_dn else ldap3.ANONYMOUS,
                                receive_timeout=cfg.timeout, raise_exceptions=False, auto_referrals=False)
        try:
            conn.open()
            if cfg.starttls and not conn.start_tls():
                raise UnreachableError(f"ldap at {cfg.endpoint}: StartTLS failed: {conn.result.get('description')}")
            if not conn.bind():
                raise self._bind_error(conn.result)
        except ldap_errors.LDAPException as exc:
            raise self._connect_error(exc) from None
        return conn

    def _bind_error(self, result: dict[str, Any]) -> AuthenticationError:
        who = f"as {self.config.bind_dn!r}" if self.config.bind_dn else "anonymously"
        reason = "invalid credentials" if result.get("result") == INVALID_CREDENTIALS else \
            str(result.get("description") or result.get("result"))
        return AuthenticationError(f"ldap at {self.config.endpoint}: bind {who} failed: {reason}")

    def _connect_error(self, exc: Exception) -> UnreachableError:
        """``[Errno 111] Connection refused`` or the TLS reason, out of ldap3's wrapped messages."""
        text = str(exc.args[0] if exc.args else exc)
        if isinstance(exc, ssl.SSLError | ldap_errors.LDAPStartTLSError) or "ssl" in text.lower():
            match = _TLS_REASON.search(text)
            reason = match.group(1) if match else text.strip("()',")
            return UnreachableError(f"ldap at {self.config.endpoint}: TLS error: {reason}")
        reason = text.rsplit(":", 1)[-1].strip() if ":" in text else text
        return UnreachableError(f"ldap at {self.config.endpoint} is unreachable: {reason}")

    def _borrow(self) -> ldap3.Connection:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        return self._open()

    def _give_back(self, conn: ldap3.Connection) -> None:
        with self._lock:
            self._idle.append(conn)

    @contextlib.contextmanager
    def connection(self) -> Iterator[ldap3.Connection]:
        """An idle bound connection for one operation; dropped (not reused) if the operation broke it."""
        conn = self._borrow()
        try:
            yield conn
        except ldap_errors.LDAPException as exc:
            _unbind(conn)
            raise RetryableError(f"ldap at {self.config.endpoint}: connection lost: {exc}") from None
        except BaseException:
            _unbind(conn)
            raise
        self._give_back(conn)

    def check(self) -> None:
        """Connect, bind and make sure the base DN exists (the config's one early, clear failure)."""
        with self.connection() as conn:
            found, _ = self._fetch(conn, Search(self.config.base_dn, "(objectClass=*)", "base", ("1.1",)), b"", 0)
        if not found:
            raise ConfigError(f"no entry {self.config.base_dn!r} on {self.config.endpoint}", field="base_dn")

    def close(self) -> None:
        with self._lock:
            conns = [*self._idle, *(c.conn for c in self._cursors.values())]
            self._idle, self._cursors = [], {}
        for conn in conns:
            _unbind(conn)

    # -- searching -----------------------------------------------------------------------------------

    def _fetch(self, conn: ldap3.Connection, search: Search, cookie: bytes,
               size: int) -> tuple[list[Entry], bytes]:
        """One page of ``search`` (size 0: unpaged); a missing base is an empty result."""
        conn.search(search.base, search.filter, search_scope=SCOPES[search.scope],
                    attributes=list(search.attributes) or ldap3.NO_ATTRIBUTES,
                    paged_size=size or None, paged_cookie=cookie or None)
        result = conn.result
        code = result.get("result")
        if code == NO_SUCH_OBJECT:
            return [], b""
        if code == SIZE_LIMIT:
            # A silently shortened listing would read as deleted accounts downstream: stop instead.
            raise FatalError(f"ldap at {self.config.endpoint}: the server's size limit cut the search under "
                             f"{search.base!r} short; raise the limit for the bind DN (e.g. OpenLDAP "
                             "'limits dn.exact=<bind dn> size.prtotal=unlimited') or narrow the search")
        if code != SUCCESS:
            raise FatalError(f"ldap at {self.config.endpoint}: search under {search.base!r} failed: "
                             f"{result.get('description')} {result.get('message') or ''}".rstrip())
        entries = [to_entry(r) for r in conn.response or [] if r.get("type") == "searchResEntry"]
        control = (result.get("controls") or {}).get(PAGED_RESULTS_OID) or {}
        return entries, bytes(control.get("value", {}).get("cookie") or b"")

    def page(self, search: Search, token: str, size: int) -> tuple[list[Entry], str]:
        """One page of a paged search and the token of the next (``""`` when done)."""
        state = _Token.decode(token)
        cursor = self._resume(state)
        conn = cursor.conn if cursor else self._borrow()
        cookie, skip = (cursor.cookie, 0) if cursor else (b"", state.served if state else 0)
        served = state.served if state else 0
        try:
            entries, cookie = self._read_page(conn, search, cookie, size, skip)
        except ldap_errors.LDAPException as exc:
            _unbind(conn)
            raise RetryableError(f"ldap at {self.config.endpoint}: connection lost: {exc}") from None
        if not cookie:
            self._give_back(conn)
            return entries, ""
        cursor_id = state.cursor if state else secrets.token_hex(8)
        with self._lock:
            self._cursors[cursor_id] = _Cursor(conn, cookie)
        return entries, _Token(cursor_id, cookie, served + len(entries)).encode()

    def _resume(self, state: _Token | None) -> _Cursor | None:
        """The live cursor a token continues, if this process still holds it."""
        if state is None:
            return None
        with self._lock:
            cursor = self._cursors.pop(state.cursor, None)
        if cursor is not None and cursor.cookie != state.cookie:
            _unbind(cursor.conn)
            return None
        return cursor

    def _read_page(self, conn: ldap3.Connection, search: Search, cookie: bytes, size: int,
                   skip: int) -> tuple[list[Entry], bytes]:
        """Read a page, first skipping ``skip`` entries (a search restarted after a resume)."""
        entries, cookie = self._fetch(conn, search, cookie, size)
        while skip:
            dropped = min(skip, len(entries))
            entries, skip = entries[dropped:], skip - dropped
            if entries or not cookie:
                break
            entries, cookie = self._fetch(conn, search, cookie, size)
        return entries, cookie

    def all(self, search: Search) -> Iterator[Entry]:
        """Every entry of a search, paging in large pages on a borrowed connection."""
        with self.connection() as conn:
            cookie = b""
            while True:
                entries, cookie = self._fetch(conn, search, cookie, BULK_PAGE)
                yield from entries
                if not cookie:
                    return

    def controlled(self, search: Search,
                   controls: Sequence[tuple[str, bool, bytes]]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """One unpaged search with request ``controls``: every response message (entries, intermediate
        messages, with their controls) and the result, for the caller to read (RFC 4533 refreshes).
        Aliases are not dereferenced: a sync search must not (OpenLDAP's syncprov refuses it)."""
        with self.connection() as conn:
            conn.search(search.base, search.filter, search_scope=SCOPES[search.scope],
                        dereference_aliases=ldap3.DEREF_NEVER,
                        attributes=list(search.attributes) or ldap3.NO_ATTRIBUTES, controls=list(controls))
            return list(conn.response or []), dict(conn.result or {})

    def supported_controls(self) -> frozenset[str]:
        """The ``supportedControl`` OIDs of the root DSE (empty when the server does not say)."""
        with self.connection() as conn:
            found, _ = self._fetch(conn, Search("", "(objectClass=*)", "base", ("supportedControl",)), b"", 0)
        return frozenset(found[0].values("supportedControl")) if found else frozenset()

    def read(self, dn: str, attributes: Sequence[str]) -> Entry | None:
        """The entry at ``dn`` (None when there is none)."""
        with self.connection() as conn:
            found, _ = self._fetch(conn, Search(dn, "(objectClass=*)", "base", tuple(attributes)), b"", 0)
        return found[0] if found else None

    # -- writing -------------------------------------------------------------------------------------

    def modify(self, dn: str, changes: dict[str, list[tuple[str, list[str]]]]) -> Result:
        with self.connection() as conn:
            conn.modify(dn, changes)
            return _result(conn)

    def add(self, dn: str, object_classes: Sequence[str], attributes: dict[str, Any]) -> Result:
        with self.connection() as conn:
            conn.add(dn, list(object_classes), attributes)
            return _result(conn)

    def delete(self, dn: str) -> Result:
        with self.connection() as conn:
            conn.delete(dn)
            return _result(conn)

    def modify_password(self, dn: str, password: str) -> Result:
        """RFC 3062 password modify: the server hashes the new password with its own scheme."""
        with self.connection() as conn:
            conn.extend.standard.modify_password(user=dn, new_password=password)
            return _result(conn)


def to_entry(raw: dict[str, Any]) -> Entry:
    """An ldap3 response message as an :class:`Entry` (values as text, attribute names lower-case)."""
    attrs: dict[str, list[str]] = {}
    for name, values in (raw.get("attributes") or {}).items():
        listed = values if isinstance(values, list) else [values]
        attrs[name.lower()] = [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in listed]
    return Entry(str(raw.get("dn", "")), attrs)


def _result(conn: ldap3.Connection) -> Result:
    result = conn.result or {}
    return Result(int(result.get("result", -1)), str(result.get("description") or ""),
                  str(result.get("message") or ""))


def _unbind(conn: ldap3.Connection) -> None:
    with contextlib.suppress(Exception):
        conn.unbind()
