"""The PostgreSQL access model: resource types, their entitlements, and how catalog rows become them.

- ``user`` (roles with LOGIN, user trait) and ``role`` (roles without LOGIN and
  the ``PUBLIC`` pseudo-role, group trait) hold ``member`` and ``admin``
  (member WITH ADMIN OPTION); every grant is to a ``user:`` or ``role:`` principal.
- ``cluster`` (one resource) holds the role attributes that matter for
  security: ``superuser``, ``createdb``, ``createrole``, ``login``,
  ``replication``, ``bypassrls``.
- ``database`` → ``schema`` → ``table`` / ``view`` / ``sequence`` / ``function``
  (child resource types) hold their privileges, each also ``…-with-grant-option``,
  and ``owner``; ``default_privilege`` (under a database or a schema) holds the
  privileges that objects created later will start with.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pybaton import model
from pybaton.connectors.entitlements import static_entitlement
from pybaton.pb.c1.connector.v2 import entitlement_pb2, resource_pb2

GRANT_OPTION = "-with-grant-option"
OWNER = "owner"
MEMBER = "member"
ADMIN = "admin"

CLUSTER = model.resource_type("cluster", "Cluster", description="The PostgreSQL cluster; holds the role attributes")
USER = model.resource_type("user", "User", traits=["user"], description="A role with LOGIN")
ROLE = model.resource_type("role", "Role", traits=["group"],
                           description="A role without LOGIN (a group role), or PUBLIC: every role")
DATABASE = model.resource_type("database", "Database")
SCHEMA = model.resource_type("schema", "Schema")
TABLE = model.resource_type("table", "Table", description="A table, partitioned table or foreign table")
VIEW = model.resource_type("view", "View", description="A view or materialized view")
SEQUENCE = model.resource_type("sequence", "Sequence")
FUNCTION = model.resource_type("function", "Function", description="A function, procedure or aggregate")
DEFAULT_PRIVILEGE = model.resource_type(
    "default_privilege", "Default privileges",
    description="ALTER DEFAULT PRIVILEGES: what objects created later by a role start with")

PRINCIPAL_TYPES = (USER, ROLE)

CHILD_TYPES: dict[str, tuple[str, ...]] = {
    "database": ("schema", "default_privilege"),
    "schema": ("table", "view", "sequence", "function", "default_privilege"),
}

_TABLE_PRIVILEGES = ("select", "insert", "update", "delete", "truncate", "references", "trigger")
PRIVILEGES: dict[str, tuple[str, ...]] = {
    "database": ("connect", "create", "temporary"),
    "schema": ("usage", "create"),
    "table": _TABLE_PRIVILEGES,
    "view": _TABLE_PRIVILEGES,
    "sequence": ("usage", "select", "update"),
    "function": ("execute",),
    # default privileges, by the object kind they apply to
    "tables": _TABLE_PRIVILEGES,
    "sequences": ("usage", "select", "update"),
    "functions": ("execute",),
    "types": ("usage",),
    "schemas": ("usage", "create"),
}
# Privileges that exist only from some server version on (server_version_num).
_SINCE: dict[str, int] = {"maintain": 170000}

# Role attributes → (the entitlement's description, ALTER ROLE keyword to set, keyword to clear).
ATTRIBUTES: dict[str, tuple[str, str, str]] = {
    "superuser": ("Bypasses every permission check", "SUPERUSER", "NOSUPERUSER"),
    "createdb": ("May create databases", "CREATEDB", "NOCREATEDB"),
    "createrole": ("May create, alter and drop roles", "CREATEROLE", "NOCREATEROLE"),
    "login": ("May log in", "LOGIN", "NOLOGIN"),
    "replication": ("May start streaming replication and backups", "REPLICATION", "NOREPLICATION"),
    "bypassrls": ("Bypasses row-level security policies", "BYPASSRLS", "NOBYPASSRLS"),
}


def privileges_of(kind: str, version: int) -> tuple[str, ...]:
    """The privileges of an object kind on this server version (PostgreSQL 17 adds ``maintain``)."""
    base = PRIVILEGES[kind]
    if base is _TABLE_PRIVILEGES and version >= _SINCE["maintain"]:
        return (*base, "maintain")
    return base


def privilege_slug(privilege: str, grant_option: bool) -> str:
    return privilege + GRANT_OPTION if grant_option else privilege


def parse_privilege_slug(slug: str) -> tuple[str, bool]:
    """``select-with-grant-option`` → ``("select", True)``."""
    if slug.endswith(GRANT_OPTION):
        return slug.removesuffix(GRANT_OPTION), True
    return slug, False


def privilege_entitlements(privileges: Iterable[str], *, owner: bool) -> list[entitlement_pb2.Entitlement]:
    """Templates: each privilege, the same with grant option, and ``owner`` when the kind has owners."""
    out = []
    for p in privileges:
        word = p.upper().replace("-", " ")
        out.append(static_entitlement(p, purpose=model.PERMISSION, display_name=word,
                                      description=f"Holds the {word} privilege", grantable_to=PRINCIPAL_TYPES))
        out.append(static_entitlement(privilege_slug(p, True), purpose=model.PERMISSION,
                                      display_name=f"{word} with grant option",
                                      description=f"Holds {word} and may grant it to others",
                                      grantable_to=PRINCIPAL_TYPES))
    if owner:
        out.append(static_entitlement(OWNER, purpose=model.PERMISSION, display_name="Owner",
                                      description="Owns the object: holds every privilege on it and may "
                                                  "alter, drop and grant it", grantable_to=PRINCIPAL_TYPES))
    return out


def membership_entitlements() -> list[entitlement_pb2.Entitlement]:
    return [
        static_entitlement(MEMBER, display_name="Member", grantable_to=PRINCIPAL_TYPES,
                           description="Member of the role (GRANT role TO …): may use its privileges"),
        static_entitlement(ADMIN, display_name="Member with admin option", grantable_to=PRINCIPAL_TYPES,
                           description="Member WITH ADMIN OPTION: may also grant and revoke the role"),
    ]


def attribute_entitlements() -> list[entitlement_pb2.Entitlement]:
    return [static_entitlement(name, purpose=model.PERMISSION, display_name=keyword, description=text,
                               grantable_to=PRINCIPAL_TYPES)
            for name, (text, keyword, _) in ATTRIBUTES.items()]


def child_type_ids(kind: str) -> Sequence[str]:
    return CHILD_TYPES.get(kind, ())


def principal_id(kind: str, name: str) -> resource_pb2.ResourceId:
    return model.resource_id(kind, name)
