"""Helpers the connectors to real systems (``postgres``, ``ldap``) share.

Both read a consistent picture of the system once per sync and serve every
page from it (:class:`Memo`), both take an entitlement or grant apart to find
what to write (:func:`entitlement_target`), both generate passwords the same
way (:func:`generate_password`) and both attach ``GrantExpandable`` to a grant
whose principal is itself a group (:func:`membership_grant`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from pybaton import model
from pybaton.connector import passwords
from pybaton.connector.capabilities import CredentialOptions
from pybaton.connector.pagination import Page, PageToken
from pybaton.connectors._common import GrantTemplate, window
from pybaton.errors import ProvisioningError
from pybaton.pb.c1.connector.v2 import entitlement_pb2, grant_pb2, resource_pb2

T = TypeVar("T")
U = TypeVar("U")

# Printable ASCII without quotes, backslash and spaces: safe to paste into a shell, a
# libpq connection string or an LDIF file without escaping.
MIN_PASSWORD_LENGTH = 16
MAX_PASSWORD_LENGTH = 256


class Memo(Generic[T]):
    """A value computed once on first use, thread-safely, until :meth:`reset`.

    The engine may call a syncer from several worker threads; they must all see
    the one snapshot of the system that the first caller read, not race to read
    it again. Writes call :meth:`reset` so the next read sees their effect.
    """

    def __init__(self, load: Callable[[], T]) -> None:
        self._load = load
        self._lock = threading.Lock()
        self._value: T | None = None
        self._loaded = False

    def get(self) -> T:
        with self._lock:
            if not self._loaded:
                self._value = self._load()
                self._loaded = True
            return self._value  # type: ignore[return-value]

    def reset(self) -> None:
        with self._lock:
            self._value = None
            self._loaded = False


class MemoMap(Generic[T]):
    """:class:`Memo` per key (e.g. one catalog snapshot per database), each loaded on demand."""

    def __init__(self, load: Callable[[str], T]) -> None:
        self._load = load
        self._lock = threading.Lock()
        self._memos: dict[str, Memo[T]] = {}

    def get(self, key: str) -> T:
        with self._lock:
            memo = self._memos.get(key)
            if memo is None:
                memo = self._memos[key] = Memo(lambda: self._load(key))
        return memo.get()

    def reset(self) -> None:
        with self._lock:
            self._memos.clear()


def page_of(items: Sequence[T], page: PageToken) -> Page[T]:
    """One offset page of an in-memory list (the snapshot is ordered, so offsets are stable)."""
    return page_map(items, page, lambda item: item)


def page_map(items: Sequence[T], page: PageToken, build: Callable[[T], U]) -> Page[U]:
    """One offset page of ``items``, building only that page's objects (``build`` is the costly part)."""
    positions, token = window(page.token, page.size, len(items))
    return Page([build(items[i]) for i in positions], token)


class PageCache(Generic[T]):
    """The rows of the resource being paged, kept between its page calls.

    The engine asks for a resource's grants a page at a time; recomputing all
    of them for every page is quadratic (PUBLIC has a member grant per role).
    One slot suffices, as pages of one resource come one after the other; the
    slot also remembers the snapshot it was computed from, so a refreshed
    snapshot is never served stale rows.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._slot: tuple[str, object, Sequence[T]] | None = None

    def rows(self, key: str, snapshot: object, compute: Callable[[], Sequence[T]]) -> Sequence[T]:
        with self._lock:
            slot = self._slot
        if slot is not None and slot[0] == key and slot[1] is snapshot:
            return slot[2]
        rows = compute()
        with self._lock:
            self._slot = (key, snapshot, rows)
        return rows


class GrantMaker:
    """Builds many grants on one resource fast: a serialized template per (slug, principal type).

    Grants that carry ``GrantExpandable`` (principal is a group with members) use
    the general builder; the rest (most of them) are a template copy with two
    ids changed, about half the cost.
    """

    def __init__(self, resource: resource_pb2.ResourceId) -> None:
        self.resource = resource
        self._templates: dict[tuple[str, str], GrantTemplate] = {}

    def __call__(self, slug: str, principal: resource_pb2.ResourceId, nested: str | None = None) -> grant_pb2.Grant:
        if nested:
            return membership_grant(model.entitlement_ref(self.resource, slug), principal, nested)
        key = (slug, principal.resource_type)
        template = self._templates.get(key)
        if template is None:
            template = self._templates[key] = GrantTemplate(model.entitlement_ref(self.resource, slug),
                                                            principal.resource_type)
        return template(principal.resource)


def entitlement_target(ent: entitlement_pb2.Entitlement) -> tuple[resource_pb2.ResourceId, str]:
    """The resource and slug an entitlement (full, or the slim copy a grant embeds) is about.

    A grant carries only the entitlement's id and its resource's id, so the slug
    is taken from the id when the message has none; ids may contain colons in the
    resource part (DNs, quoted names), never in the slug.
    """
    if ent.resource.id.resource:
        rid = ent.resource.id
        slug = ent.slug or ent.id.removeprefix(f"{rid.resource_type}:{rid.resource}:")
    else:
        rtype, resource, slug = model.split_entitlement_id(ent.id)
        rid = model.resource_id(rtype, resource)
    if not slug or ":" in slug:
        raise ProvisioningError(f"entitlement {ent.id!r} does not name a slug this connector knows")
    return rid, slug


def membership_grant(ent: entitlement_pb2.Entitlement, principal: resource_pb2.ResourceId,
                     nested_entitlement: str | None) -> grant_pb2.Grant:
    """``principal`` holds ``ent``; when the principal is a group with members of its own,
    ``nested_entitlement`` (its ``member`` entitlement id) makes the grant expandable so
    expansion passes it on to them."""
    expandable = [nested_entitlement] if nested_entitlement else []
    return model.grant(ent, principal, expandable=expandable)


def generate_password(options: CredentialOptions, *, system: str) -> str:
    """A random password for ``system`` (at least 16 characters)."""
    return passwords.generate_password(options, who=system, min_length=MIN_PASSWORD_LENGTH,
                                       max_length=MAX_PASSWORD_LENGTH)


def wants_password(options: CredentialOptions) -> bool:
    """Whether the operator asked for a generated password (``none`` creates an account without one)."""
    return options.kind != "none"
