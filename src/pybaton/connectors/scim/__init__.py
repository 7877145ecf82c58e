"""The built-in ``scim`` connector: any SCIM 2.0 service provider (see :mod:`.connector`)."""

from pybaton.connectors.scim.connector import ScimConfig, ScimConnector

__all__ = ["ScimConfig", "ScimConnector"]
