"""The state the LDAP syncers share during a run: config, client, and the member-resolution index."""

from __future__ import annotations

from pybaton.connectors.ldap import directory, syncrepl
from pybaton.connectors.ldap.client import Entry, LdapClient
from pybaton.connectors.ldap.config import LdapConfig
from pybaton.connectors.ldap.directory import Resolver
from pybaton.connectors.ldap.lazy import LazyIndex
from pybaton.connectors.memo import Memo


class LdapContext:
    """What the syncers share: the config, the client and the per-sync index.

    A full sync resolves members through an index of the whole directory; an
    incremental run (:meth:`incremental`) re-reads a few groups, so it resolves
    only the members they name (:class:`~.directory.LazyIndex`).
    """

    def __init__(self, config: LdapConfig) -> None:
        self.config = config
        self.client = LdapClient(config)
        self._lazy = False
        self.index: Memo[Resolver] = Memo(self._load_index)
        # Whether the server offers RFC 4533 content synchronisation (the Sync Request control).
        self.content_sync: Memo[bool] = Memo(
            lambda: syncrepl.SYNC_REQUEST_OID in self.client.supported_controls())
        # kind -> the stamped entries its last change scan found (sync --incremental; see .changes)
        self.scans: dict[str, list[Entry]] = {}
        # kind -> the entries a content refresh found under a new DN or key this run (see .content)
        self.moved: dict[str, list[Entry]] = {}

    def _load_index(self) -> Resolver:
        return LazyIndex(self.client, self.config) if self._lazy else directory.build_index(self.client, self.config)

    def incremental(self, lazy: bool) -> None:
        """Resolve members lazily (an incremental run) or through the whole index (a full sync)."""
        if lazy != self._lazy:
            self._lazy = lazy
            self.index.reset()

    def invalidate(self) -> None:
        self.index.reset()
        self.scans.clear()
        self.moved.clear()
