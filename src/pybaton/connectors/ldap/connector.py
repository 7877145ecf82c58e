"""The ``ldap`` connector: users, groups (every flavour, nested), roles and optionally OUs of a directory.

``pybaton sync ldap --url ldap://dir:389 --bind-dn cn=baton,dc=example,dc=org
--base-dn dc=example,dc=org`` (password in ``BATON_PASSWORD``); provisioning adds
and removes members, creates accounts with generated passwords, rotates them
and deletes entries. See ``docs/connectors/ldap.md``.
"""

from __future__ import annotations

from collections.abc import Sequence

from pybaton.connector import Connector, ConnectorMetadata
from pybaton.connectors.ldap.config import LdapConfig
from pybaton.connectors.ldap.context import LdapContext
from pybaton.connectors.ldap.syncers import EntrySyncer, all_syncers


class LdapConnector(Connector[LdapConfig]):
    metadata = ConnectorMetadata(
        name="ldap", display_name="LDAP",
        description="Users, groups (groupOfNames, groupOfUniqueNames, posixGroup; nested), organizational roles "
                    "and units of an LDAP directory (OpenLDAP, 389 DS, AD); provisioning included")
    config_class = LdapConfig

    def __init__(self, config: LdapConfig) -> None:
        super().__init__(config)
        self.ctx = LdapContext(config)
        self._syncers = all_syncers(self.ctx)

    def syncers(self) -> Sequence[EntrySyncer]:
        return self._syncers

    def validate(self) -> None:
        """Connect, bind and find the base DN: a down server, a TLS problem or a wrong password
        fails here, in one line, before anything is written; a fresh index for this run."""
        self.ctx.invalidate()
        self.ctx.client.check()

    def close(self) -> None:
        self.ctx.client.close()
