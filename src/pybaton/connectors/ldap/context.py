"""The state the LDAP syncers share during a run: config, client, and the member-resolution index."""

from __future__ import annotations

from pybaton.connectors.ldap import directory
from pybaton.connectors.ldap.client import Entry, LdapClient
from pybaton.connectors.ldap.config import LdapConfig
from pybaton.connectors.ldap.directory import DirectoryIndex
from pybaton.connectors.memo import Memo


class LdapContext:
    """What the syncers share: the config, the client and the per-sync index."""

    def __init__(self, config: LdapConfig) -> None:
        self.config = config
        self.client = LdapClient(config)
        self.index: Memo[DirectoryIndex] = Memo(lambda: directory.build_index(self.client, config))
        # kind -> the stamped entries its last change scan found (sync --incremental; see .changes)
        self.scans: dict[str, list[Entry]] = {}

    def invalidate(self) -> None:
        self.index.reset()
