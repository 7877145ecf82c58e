"""The LDAP connector (``pybaton sync ldap``); needs the ``ldap`` extra (ldap3)."""

from pybaton.connectors.ldap.config import LdapConfig
from pybaton.connectors.ldap.connector import LdapConnector

__all__ = ["LdapConfig", "LdapConnector"]
