"""The built-in connectors, by name.

Importing this package imports none of them: each is loaded when asked for, so
``pybaton connectors`` and shell completion stay fast however many built-ins
there are. Third-party connectors register the same way under the
``pybaton.connectors`` entry-point group (see ``pyproject.toml``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from pybaton.errors import UserError
from pybaton.extras import optional_import

if TYPE_CHECKING:
    from pybaton.connector.base import Connector

ENTRY_POINT_GROUP = "pybaton.connectors"

# name → "module:Class"; keep in step with [project.entry-points."pybaton.connectors"].
BUILTIN: dict[str, str] = {
    "demo": "pybaton.connectors.demo:DemoConnector",
    "scale": "pybaton.connectors.scale:ScaleConnector",
    "scim": "pybaton.connectors.scim:ScimConnector",
    "http": "pybaton.connectors.http:HttpConnector",
    "postgres": "pybaton.connectors.postgres:PostgresConnector",
    "ldap": "pybaton.connectors.ldap:LdapConnector",
    "sql": "pybaton.connectors.sql:SqlConnector",
}


def load_builtin(name: str) -> type[Connector[Any]]:
    """Import and return one built-in connector class (a clear error for unknown names)."""
    spec = BUILTIN.get(name)
    if spec is None:
        raise UserError(f"no built-in connector {name!r}; built-ins are {', '.join(sorted(BUILTIN))}")
    from pybaton.connector.base import Connector

    module_name, _, attr = spec.partition(":")
    with optional_import(f"the {name} connector"):
        cls = getattr(importlib.import_module(module_name), attr)
    if not (isinstance(cls, type) and issubclass(cls, Connector)):
        raise TypeError(f"{spec} is not a Connector subclass")
    return cls


def builtin_connectors() -> dict[str, type[Connector[Any]]]:
    """Every built-in connector, name → class (imports them all; use :func:`load_builtin` for one)."""
    return {name: load_builtin(name) for name in BUILTIN}


__all__ = ["BUILTIN", "ENTRY_POINT_GROUP", "builtin_connectors", "load_builtin"]
