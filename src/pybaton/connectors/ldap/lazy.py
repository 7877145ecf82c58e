"""Member resolution for a handful of groups, asking the directory only about the members they name.

A full sync builds :class:`~.directory.DirectoryIndex` — every user with its
uid and gidNumber, every group — because it resolves every group. An
incremental run re-reads a few groups; reading 10,000 users for them costs
more than the rest of the run. :class:`LazyIndex` answers the same questions
(is this DN a synced user or group? which user has this uid? who has this
primary gidNumber? is this parent a synced OU?) with searches limited to what
a group names — one OR-filter per kind for its DNs (by their first RDN, the
answers matched back by canonical DN), one for its uids — with the same kind
filters and search bases as the index, so the answers are the same. Past
:data:`LAZY_GROUPS` groups the whole index is cheaper: it is built then and
answers from there on.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence

from ldap3.utils.conv import escape_filter_chars

from pybaton import model
from pybaton.connectors.ldap import dn as dnlib
from pybaton.connectors.ldap.client import Entry, LdapClient, Search
from pybaton.connectors.ldap.config import DEFAULT_OU_FILTER, LdapConfig
from pybaton.connectors.ldap.directory import (
    GROUP,
    USER,
    DirectoryIndex,
    build_index,
    kind_filter,
    unique_member_dn,
)
from pybaton.pb.c1.connector.v2 import resource_pb2

CHUNK = 100  # terms per OR filter
LAZY_GROUPS = 25  # groups resolved lazily before the whole index is built instead


class LazyIndex:
    """A :class:`~.directory.Resolver` that looks members up on demand and remembers the answers."""

    def __init__(self, client: LdapClient, config: LdapConfig) -> None:
        self._client = client
        self._config = config
        self._lock = threading.RLock()  # the engine's worker threads share it
        self._kinds: dict[str, str | None] = {}  # canonical DN -> "user" / "group" / None
        self._uids: dict[str, str | None] = {}
        self._gids: dict[str, tuple[str, ...]] = {}
        self._units: dict[str, bool] = {}
        self._prepared = 0
        self._whole: DirectoryIndex | None = None
        self._base = dnlib.canonical(config.base_dn)  # parent_of runs once per built entry

    def prepare(self, entry: Entry, attributes: Sequence[str]) -> None:
        with self._lock:
            self._prepared += 1
            if self._whole is None and self._prepared > LAZY_GROUPS:
                self._whole = build_index(self._client, self._config)
            if self._whole is not None:
                return
        dns = [unique_member_dn(v) for a in attributes if a.lower() != "memberuid" for v in entry.values(a)]
        uids = [v for a in attributes if a.lower() == "memberuid" for v in entry.values(a)]
        with self._lock:
            self._resolve_dns(dns)
            self._resolve_uids(uids)

    def principal(self, member_dn: str) -> resource_pb2.ResourceId | None:
        if self._whole is not None:
            return self._whole.principal(member_dn)
        try:
            cid = dnlib.canonical(member_dn)
        except dnlib.DNError:
            return None
        with self._lock:
            if cid not in self._kinds:
                self._resolve_dns([member_dn])
            kind = self._kinds.get(cid)
        return model.resource_id(kind, cid) if kind else None

    def user_of_uid(self, uid: str) -> str | None:
        if self._whole is not None:
            return self._whole.user_of_uid(uid)
        with self._lock:
            if uid.lower() not in self._uids:
                self._resolve_uids([uid])
            return self._uids.get(uid.lower())

    def users_of_gid(self, gid: str) -> tuple[str, ...]:
        if self._whole is not None:
            return self._whole.users_of_gid(gid)
        with self._lock:
            if gid not in self._gids:
                found = self._search("user", f"(gidNumber={escape_filter_chars(gid)})", ())
                self._gids[gid] = tuple(sorted(e.id for e in found))
            return self._gids[gid]

    def parent_of(self, entry_id: str) -> str | None:
        parent = dnlib.parent(entry_id)
        if parent is None or not dnlib.is_under(parent, self._base):
            return None
        with self._lock:
            if parent not in self._units:
                search = Search(parent, kind_filter(self._config, DEFAULT_OU_FILTER), "base", ("1.1",))
                self._units[parent] = any(True for _ in self._client.all(search))
            return parent if self._units[parent] else None

    # -- lookups -------------------------------------------------------------------------------------

    def _search(self, kind: str, narrower: str, attributes: Sequence[str]) -> list[Entry]:
        wanted = kind_filter(self._config, self._config.user_filter if kind == "user" else self._config.group_filter)
        search = Search(self._config.search_base(kind), f"(&{wanted}{narrower})", "sub", tuple(attributes) or ("1.1",))
        return list(self._client.all(search))

    def _search_any(self, kind: str, terms: list[str], attributes: Sequence[str]) -> list[Entry]:
        """Entries of ``kind`` matching any of ``terms``, in OR filters of :data:`CHUNK` terms."""
        found: list[Entry] = []
        for start in range(0, len(terms), CHUNK):
            found.extend(self._search(kind, f"(|{''.join(terms[start:start + CHUNK])})", attributes))
        return found

    def _resolve_dns(self, dns: Iterable[str]) -> None:
        """Classify DNs not seen yet: a synced user (first, as the index does), a synced group, or neither."""
        pending: dict[str, str] = {}  # canonical -> first RDN as a filter term
        for dn in dns:
            try:
                cid, rdns = dnlib.canonical(dn), dnlib.parse(dn)
            except dnlib.DNError:
                continue
            if cid not in self._kinds and rdns:
                attr, value = rdns[0][0]
                pending[cid] = f"({attr}={escape_filter_chars(value)})"
        for kind in (USER.id, GROUP.id):
            base = dnlib.canonical(self._config.search_base(kind))
            under = {c: t for c, t in pending.items() if c not in self._kinds and dnlib.is_under(c, base)}
            for found in self._search_any(kind, sorted(set(under.values())), ()):
                if found.id in pending and found.id not in self._kinds:
                    self._kinds[found.id] = kind
        for cid in pending:
            self._kinds.setdefault(cid, None)

    def _resolve_uids(self, uids: Iterable[str]) -> None:
        pending = {u.lower() for u in uids} - set(self._uids)
        terms = sorted(f"(uid={escape_filter_chars(u)})" for u in pending)
        for found in self._search_any("user", terms, ("uid",)):
            for uid in found.values("uid"):
                if uid.lower() in pending:
                    self._uids.setdefault(uid.lower(), found.id)
        for uid in pending:
            self._uids.setdefault(uid, None)


__all__ = ["LazyIndex"]
