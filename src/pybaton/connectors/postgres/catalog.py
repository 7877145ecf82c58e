"""What the PostgreSQL catalogs say, read in a few queries per database and kept for the sync.

The cluster-wide part (roles, memberships, databases) comes from shared
catalogs through the main connection; each database's schemas, relations,
functions and default privileges come from that database's own connection.
Privileges are read with ``aclexplode(coalesce(acl, acldefault(...)))``, which
is exactly what the server enforces: a NULL ACL means the built-in defaults
(the owner holds everything, ``PUBLIC`` holds e.g. ``CONNECT``/``TEMPORARY`` on
a database and ``EXECUTE`` on a function), so nothing implicit is lost.

Everything becomes a :class:`Securable`: one object with an owner, an ACL and
the :mod:`psycopg.sql` fragment naming it, whatever its kind.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from psycopg import sql

from pybaton.connectors.postgres import names
from pybaton.connectors.postgres.client import PgClient

PUBLIC = "public"  # the id of the PUBLIC pseudo-role: "public" is a reserved role name in PostgreSQL
PUBLIC_OID = 0

# Relation kinds → (resource type, the keyword ALTER uses for it).
RELATION_KINDS: dict[str, tuple[str, str]] = {
    "r": ("table", "TABLE"), "p": ("table", "TABLE"), "f": ("table", "FOREIGN TABLE"),
    "v": ("view", "VIEW"), "m": ("view", "MATERIALIZED VIEW"), "S": ("sequence", "SEQUENCE"),
}
# pg_default_acl.defaclobjtype → the plural keyword of ALTER DEFAULT PRIVILEGES.
DEFAULT_ACL_KINDS: dict[str, str] = {"r": "tables", "S": "sequences", "f": "functions", "T": "types",
                                     "n": "schemas"}


def _acl(expression: str) -> str:
    """SQL for an ACL as a JSON list of ``[grantee oid, privilege, grantable]``."""
    return (f"(SELECT coalesce(json_agg(json_build_array(a.grantee::int8, a.privilege_type, a.is_grantable)"
            f" ORDER BY a.grantee, a.privilege_type), '[]') FROM aclexplode({expression}) a)")


# -- rows as the queries return them ---------------------------------------------------------------

@dataclass(frozen=True)
class RoleRow:
    oid: int
    name: str
    login: bool
    superuser: bool
    inherit: bool
    createrole: bool
    createdb: bool
    replication: bool
    bypassrls: bool
    connection_limit: int
    valid_until: dt.datetime | None
    comment: str | None


@dataclass(frozen=True)
class MembershipRow:
    role: int
    member: int
    admin: bool


@dataclass(frozen=True)
class ObjectRow:
    """A database, schema, relation or function: the columns every kind's query returns."""

    oid: int
    schema: str | None
    name: str
    kind: str
    owner: int
    acl: Any
    comment: str | None
    extra: str | None


@dataclass(frozen=True)
class DefaultAclRow:
    creator: int
    schema: str | None
    objtype: str
    acl: Any


_ROLES = """
SELECT r.oid::int8 AS oid, r.rolname AS name, r.rolcanlogin AS login, r.rolsuper AS superuser,
       r.rolinherit AS inherit, r.rolcreaterole AS createrole, r.rolcreatedb AS createdb,
       r.rolreplication AS replication, r.rolbypassrls AS bypassrls, r.rolconnlimit AS connection_limit,
       r.rolvaliduntil AS valid_until, shobj_description(r.oid, 'pg_authid') AS comment
FROM pg_roles r ORDER BY r.rolname"""

_MEMBERSHIPS = """
SELECT m.roleid::int8 AS role, m.member::int8 AS member, bool_or(m.admin_option) AS admin
FROM pg_auth_members m GROUP BY m.roleid, m.member"""

_DATABASES = f"""
SELECT d.oid::int8 AS oid, NULL::text AS schema, d.datname AS name, 'd' AS kind, d.datdba::int8 AS owner,
       {_acl("coalesce(d.datacl, acldefault('d', d.datdba))")} AS acl,
       shobj_description(d.oid, 'pg_database') AS comment,
       CASE WHEN d.datistemplate THEN 'template' WHEN NOT d.datallowconn THEN 'noconnect' END AS extra
FROM pg_database d ORDER BY d.datname"""

_NOT_EXTENSION = ("NOT EXISTS (SELECT 1 FROM pg_depend dep WHERE dep.classid = '{catalog}'::regclass "
                  "AND dep.objid = {oid} AND dep.deptype = 'e')")

_SCHEMAS = f"""
SELECT n.oid::int8 AS oid, NULL::text AS schema, n.nspname AS name, 'n' AS kind, n.nspowner::int8 AS owner,
       {_acl("coalesce(n.nspacl, acldefault('n', n.nspowner))")} AS acl,
       obj_description(n.oid, 'pg_namespace') AS comment, NULL::text AS extra
FROM pg_namespace n
WHERE n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%%'
  AND (cardinality(%(schemas)s::text[]) = 0 OR n.nspname = ANY(%(schemas)s::text[]))
  AND (%(extensions)s OR {_NOT_EXTENSION.format(catalog="pg_namespace", oid="n.oid")})
ORDER BY n.nspname"""

_RELATION_ACL = _acl("coalesce(c.relacl, acldefault(CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::\"char\", "
                    "c.relowner))")

_RELATIONS = f"""
SELECT c.oid::int8 AS oid, n.nspname AS schema, c.relname AS name, c.relkind::text AS kind,
       c.relowner::int8 AS owner,
       {_RELATION_ACL} AS acl,
       obj_description(c.oid, 'pg_class') AS comment, NULL::text AS extra
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'f', 'v', 'm', 'S') AND n.nspname = ANY(%(schemas)s::text[])
  AND (%(extensions)s OR {_NOT_EXTENSION.format(catalog="pg_class", oid="c.oid")})
ORDER BY n.nspname, c.relname"""

_FUNCTIONS = f"""
SELECT p.oid::int8 AS oid, n.nspname AS schema, p.proname AS name, p.prokind::text AS kind,
       p.proowner::int8 AS owner, {_acl("coalesce(p.proacl, acldefault('f', p.proowner))")} AS acl,
       obj_description(p.oid, 'pg_proc') AS comment, oidvectortypes(p.proargtypes) AS extra
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = ANY(%(schemas)s::text[])
  AND (%(extensions)s OR {_NOT_EXTENSION.format(catalog="pg_proc", oid="p.oid")})
ORDER BY n.nspname, p.proname, oidvectortypes(p.proargtypes)"""

_DEFAULT_ACLS = f"""
SELECT d.defaclrole::int8 AS creator, n.nspname AS schema, d.defaclobjtype::text AS objtype,
       {_acl("d.defaclacl")} AS acl
FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace
WHERE d.defaclnamespace = 0 OR n.nspname = ANY(%(schemas)s::text[])
ORDER BY n.nspname NULLS FIRST, d.defaclobjtype, d.defaclrole"""


# -- the model built from the rows -----------------------------------------------------------------

@dataclass(frozen=True)
class AclEntry:
    """One privilege held by one role (or PUBLIC), as ``aclexplode`` reports it."""

    grantee: str
    privilege: str  # lower case, e.g. "select", "temporary"
    grantable: bool


@dataclass(frozen=True)
class Securable:
    """Anything privileges are granted on: a database, schema, relation, function or default ACL."""

    kind: str  # the resource type id
    rid: str
    display_name: str
    database: str
    target: sql.Composable  # what GRANT ... ON names, e.g. TABLE "public"."t"
    alter: sql.Composable | None  # what ALTER ... OWNER TO names (None: no owner)
    owner: str | None
    acl: tuple[AclEntry, ...]
    parent: tuple[str, str] | None = None
    profile: dict[str, Any] = field(default_factory=dict)
    objtype: str = ""  # default privileges: tables, sequences, functions, types, schemas

    def holds(self, grantee: str, privilege: str, grantable: bool) -> bool:
        """Whether ``grantee`` holds ``privilege`` (with the grant option, if asked)."""
        return any(e.grantee == grantee and e.privilege == privilege and (self.may_grant(e) or not grantable)
                   for e in self.acl)

    def may_grant(self, entry: AclEntry) -> bool:
        """The grant option of an entry; the owner always has it, implicitly (it is not in the ACL)."""
        return entry.grantable or entry.grantee == self.owner


@dataclass
class Cluster:
    """The shared catalogs: roles by name, who is a member of what, the databases."""

    version: int
    roles: list[RoleRow]
    by_name: dict[str, RoleRow]
    names: dict[int, str]
    members: dict[str, list[tuple[str, bool]]]  # role → [(member, admin option)]
    databases: list[Securable]

    def has_members(self, role: str) -> bool:
        return bool(self.members.get(role))

    def database(self, name: str) -> Securable | None:
        return next((d for d in self.databases if d.rid == name), None)


@dataclass
class DatabaseCatalog:
    """One database's schemas and what is in them, by parent id."""

    name: str
    schemas: list[Securable]
    children: dict[tuple[str, str, str], list[Securable]]  # (parent type, parent id, child type) → objects
    by_id: dict[tuple[str, str], Securable]  # (type, id) → object
    reachable: bool = True


def load_cluster(client: PgClient) -> Cluster:
    """Roles, memberships and databases (three queries on shared catalogs)."""
    version = int(client.value("SELECT current_setting('server_version_num')"))
    roles = client.rows(RoleRow, _ROLES)
    oid_names = {r.oid: r.name for r in roles} | {PUBLIC_OID: PUBLIC}
    members: dict[str, list[tuple[str, bool]]] = defaultdict(list)
    for m in client.rows(MembershipRow, _MEMBERSHIPS):
        if m.role in oid_names and m.member in oid_names:
            members[oid_names[m.role]].append((oid_names[m.member], m.admin))
    for listed in members.values():
        listed.sort()
    databases = [_database(row, oid_names) for row in client.rows(ObjectRow, _DATABASES)]
    return Cluster(version, roles, {r.name: r for r in roles}, oid_names, dict(members), databases)


def load_database(client: PgClient, cluster: Cluster, database: str, schemas: Sequence[str],
                  extensions: bool) -> DatabaseCatalog:
    """Schemas, relations, functions and default privileges of ``database`` (four queries)."""
    params: dict[str, Any] = {"schemas": list(schemas), "extensions": extensions}
    schema_rows = client.rows(ObjectRow, _SCHEMAS, params, database=database)
    params["schemas"] = [r.name for r in schema_rows]
    objects = [_schema(database, r, cluster.names) for r in schema_rows]
    objects += [_relation(database, r, cluster.names)
                for r in client.rows(ObjectRow, _RELATIONS, params, database=database)]
    objects += [_function(database, r, cluster.names)
                for r in client.rows(ObjectRow, _FUNCTIONS, params, database=database)]
    objects += [_default_acl(database, r, cluster.names)
                for r in client.rows(DefaultAclRow, _DEFAULT_ACLS, params, database=database)
                if r.objtype in DEFAULT_ACL_KINDS and r.creator in cluster.names]
    children: dict[tuple[str, str, str], list[Securable]] = defaultdict(list)
    for obj in objects:
        if obj.parent is not None:
            children[(*obj.parent, obj.kind)].append(obj)
    return DatabaseCatalog(database, [o for o in objects if o.kind == "schema"], dict(children),
                           {(o.kind, o.rid): o for o in objects})


def unreachable_database(database: str) -> DatabaseCatalog:
    """What we know of a database we may not connect to: nothing inside it."""
    return DatabaseCatalog(database, [], {}, {}, reachable=False)


# -- rows → securables -----------------------------------------------------------------------------

def acl_entries(raw: Any, names_by_oid: dict[int, str]) -> tuple[AclEntry, ...]:
    """``[[oid, "SELECT", false], ...]`` → entries naming roles (grantees that no longer exist are dropped)."""
    items = json.loads(raw) if isinstance(raw, str) else (raw or [])
    merged: dict[tuple[str, str], bool] = {}  # one entry per (grantee, privilege), whoever granted it
    for grantee, privilege, grantable in items:
        name = names_by_oid.get(int(grantee))
        if name is not None:
            key = (name, str(privilege).lower().replace(" ", "-"))
            merged[key] = merged.get(key, False) or bool(grantable)
    return tuple(AclEntry(name, privilege, grantable) for (name, privilege), grantable in merged.items())


def _owner(oid: int, names_by_oid: dict[int, str]) -> str | None:
    return names_by_oid.get(oid)


def _database(row: ObjectRow, names_by_oid: dict[int, str]) -> Securable:
    profile = {"oid": row.oid, "comment": row.comment, "template": row.extra == "template",
               "allow_connections": row.extra != "noconnect"}
    return Securable("database", row.name, row.name, row.name, sql.SQL("DATABASE {}").format(sql.Identifier(row.name)),
                     sql.SQL("DATABASE {}").format(sql.Identifier(row.name)), _owner(row.owner, names_by_oid),
                     acl_entries(row.acl, names_by_oid), None, profile)


def _schema(database: str, row: ObjectRow, names_by_oid: dict[int, str]) -> Securable:
    ident = sql.SQL("SCHEMA {}").format(sql.Identifier(row.name))
    return Securable("schema", names.qualify(database, row.name), f"{database}.{row.name}", database, ident, ident,
                     _owner(row.owner, names_by_oid), acl_entries(row.acl, names_by_oid),
                     ("database", database), {"oid": row.oid, "comment": row.comment})


def _relation(database: str, row: ObjectRow, names_by_oid: dict[int, str]) -> Securable:
    kind, keyword = RELATION_KINDS[row.kind]
    schema = row.schema or ""
    qualified = sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(row.name))
    grant_word = "SEQUENCE" if kind == "sequence" else "TABLE"
    return Securable(kind, names.qualify(database, schema, row.name), f"{database}.{schema}.{row.name}", database,
                     sql.SQL(grant_word + " {}").format(qualified), sql.SQL(keyword + " {}").format(qualified),
                     _owner(row.owner, names_by_oid), acl_entries(row.acl, names_by_oid),
                     ("schema", names.qualify(database, schema)),
                     {"oid": row.oid, "comment": row.comment, "relkind": keyword.lower()})


def _function(database: str, row: ObjectRow, names_by_oid: dict[int, str]) -> Securable:
    """A function, procedure or aggregate; its argument types (``oidvectortypes``, quoted by
    the server) tell overloads apart in the id and in ``GRANT ... ON ROUTINE``."""
    schema, args = row.schema or "", row.extra or ""
    routine = sql.SQL("ROUTINE {}.{}({})").format(sql.Identifier(schema), sql.Identifier(row.name), sql.SQL(args))
    kinds = {"f": "function", "p": "procedure", "a": "aggregate", "w": "window function"}
    return Securable("function", f"{names.qualify(database, schema, row.name)}({args})",
                     f"{database}.{schema}.{row.name}({args})", database, routine, routine,
                     _owner(row.owner, names_by_oid), acl_entries(row.acl, names_by_oid),
                     ("schema", names.qualify(database, schema)),
                     {"oid": row.oid, "comment": row.comment, "prokind": kinds.get(row.kind, row.kind)})


def _default_acl(database: str, row: DefaultAclRow, names_by_oid: dict[int, str]) -> Securable:
    """Privileges that objects created later by ``creator`` will start with (``ALTER DEFAULT PRIVILEGES``).

    The target is the statement prefix ``FOR ROLE creator [IN SCHEMA s]``; the
    parent is the schema, or the database for a database-wide default.
    """
    creator = names_by_oid[row.creator]
    objtype = DEFAULT_ACL_KINDS[row.objtype]
    prefix = sql.SQL("FOR ROLE {}").format(sql.Identifier(creator))
    parent = ("database", database)
    where = f"in {database}"
    if row.schema is not None:
        prefix = sql.SQL("{} IN SCHEMA {}").format(prefix, sql.Identifier(row.schema))
        parent = ("schema", names.qualify(database, row.schema))
        where = f"in {database}.{row.schema}"
    return Securable("default_privilege", names.default_privilege_id(database, row.schema, objtype, creator),
                     f"{objtype} created by {creator} {where}", database, prefix, None, None,
                     acl_entries(row.acl, names_by_oid), parent,
                     {"object_type": objtype, "creator": creator, "schema": row.schema}, objtype)
