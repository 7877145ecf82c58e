"""Baton's id rules, in one place.

- entitlement id: ``{resource_type}:{resource_id}:{slug}``
- grant id: ``{entitlement_id}:{principal_type}:{principal_id}``
- a resource reference on the command line: ``{type}:{id}``

Resource ids may themselves contain colons (LDAP DNs, PostgreSQL's
``schema:db5:2200``), so parsing splits only where it is unambiguous: the type
before the first colon, the slug after the last.
"""

from __future__ import annotations

from pybaton.errors import UserError


def entitlement_id(resource_type: str, resource_id: str, slug: str) -> str:
    return f"{resource_type}:{resource_id}:{slug}"


def grant_id(ent_id: str, principal_type: str, principal_id: str) -> str:
    return f"{ent_id}:{principal_type}:{principal_id}"


def split_resource_ref(ref: str, *, what: str = "resource") -> tuple[str, str]:
    """``"user:alice"`` → ``("user", "alice")``; a clear error otherwise."""
    resource_type, sep, resource_id = ref.partition(":")
    if not sep or not resource_type or not resource_id:
        raise UserError(f"{what} {ref!r} is not of the form TYPE:ID (e.g. user:alice)")
    return resource_type, resource_id


def split_entitlement_id(ent_id: str) -> tuple[str, str, str]:
    """``"group:eng:member"`` → ``("group", "eng", "member")``."""
    resource_type, sep, rest = ent_id.partition(":")
    resource_id, sep2, slug = rest.rpartition(":")
    if not sep or not sep2 or not resource_type or not resource_id or not slug:
        raise UserError(f"entitlement {ent_id!r} is not of the form TYPE:RESOURCE:SLUG")
    return resource_type, resource_id, slug
