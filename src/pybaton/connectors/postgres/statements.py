"""The SQL the PostgreSQL connector writes, always composed with :mod:`psycopg.sql`.

Role and object names only ever enter a statement as :class:`psycopg.sql.Identifier`
(quoted by psycopg, so ``robert'); drop table users; --`` is just a name); the
keywords (privileges, attributes, object kinds) come from this connector's own
fixed tables, never from input. Passwords are never put into SQL text: they are
turned into a SCRAM-SHA-256 verifier on the client (libpq's
``PQencryptPasswordConn``), so neither the server log nor ``pg_stat_activity``
can show them.
"""

from __future__ import annotations

from psycopg import sql

from pybaton.connectors.postgres.catalog import PUBLIC, Securable

Statement = sql.Composed


def grantee(role: str) -> sql.Composable:
    """``PUBLIC`` as the keyword (a quoted "public" would name a role that cannot exist), else the role."""
    return sql.SQL("PUBLIC") if role == PUBLIC else sql.Identifier(role)


def _keyword(word: str) -> sql.SQL:
    """A keyword from this module's callers' fixed tables (``select``, ``temporary``, ``tables``…)."""
    if not word.replace("-", "").replace(" ", "").isalpha():
        raise ValueError(f"not a keyword: {word!r}")
    return sql.SQL(word.upper().replace("-", " "))


def grant_privilege(obj: Securable, privilege: str, role: str, grant_option: bool) -> Statement:
    option = sql.SQL(" WITH GRANT OPTION") if grant_option else sql.SQL("")
    if obj.kind == "default_privilege":
        return sql.SQL("ALTER DEFAULT PRIVILEGES {} GRANT {} ON {} TO {}{}").format(
            obj.target, _keyword(privilege), _keyword(obj.objtype), grantee(role), option)
    return sql.SQL("GRANT {} ON {} TO {}{}").format(_keyword(privilege), obj.target, grantee(role), option)


def revoke_privilege(obj: Securable, privilege: str, role: str, grant_option_only: bool) -> Statement:
    """``REVOKE p`` (which also takes the grant option), or ``REVOKE GRANT OPTION FOR p`` (which keeps p)."""
    what = sql.SQL("GRANT OPTION FOR {}" if grant_option_only else "{}").format(_keyword(privilege))
    if obj.kind == "default_privilege":
        return sql.SQL("ALTER DEFAULT PRIVILEGES {} REVOKE {} ON {} FROM {}").format(
            obj.target, what, _keyword(obj.objtype), grantee(role))
    return sql.SQL("REVOKE {} ON {} FROM {}").format(what, obj.target, grantee(role))


def alter_owner(obj: Securable, role: str) -> Statement:
    if obj.alter is None:
        raise ValueError(f"{obj.kind} has no owner")
    return sql.SQL("ALTER {} OWNER TO {}").format(obj.alter, sql.Identifier(role))


def grant_role(role: str, member: str, admin: bool) -> Statement:
    option = sql.SQL(" WITH ADMIN OPTION") if admin else sql.SQL("")
    return sql.SQL("GRANT {} TO {}{}").format(sql.Identifier(role), sql.Identifier(member), option)


def revoke_role(role: str, member: str, admin_only: bool) -> Statement:
    what = "REVOKE ADMIN OPTION FOR {} FROM {}" if admin_only else "REVOKE {} FROM {}"
    return sql.SQL(what).format(sql.Identifier(role), sql.Identifier(member))


def alter_role(role: str, keyword: str) -> Statement:
    return sql.SQL("ALTER ROLE {} {}").format(sql.Identifier(role), _keyword(keyword))


def create_login_role(role: str, verifier: str | None) -> Statement:
    if verifier is None:
        return sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role))
    return sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(role), sql.Literal(verifier))


def set_password(role: str, verifier: str) -> Statement:
    return sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(role), sql.Literal(verifier))


def reassign_owned(role: str, new_owner: str) -> Statement:
    return sql.SQL("REASSIGN OWNED BY {} TO {}").format(sql.Identifier(role), sql.Identifier(new_owner))


def drop_owned(role: str) -> Statement:
    """Run only once the role owns nothing here: it then just revokes the role's privileges."""
    return sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role))


def drop_role(role: str) -> Statement:
    return sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role))
