"""What a resource syncer can do beyond listing, as small Protocols.

A syncer implements only what its system supports; the engine and the
provisioning layer discover capabilities with ``isinstance`` (the Protocols are
runtime-checkable) and the ``capabilities`` command reports them per resource
type, in Baton's ``ConnectorCapabilities`` shape.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from pybaton.pb.c1.connector.v2 import entitlement_pb2, event_feed_pb2, grant_pb2, resource_pb2


@runtime_checkable
class StaticEntitlements(Protocol):
    """Entitlements that every resource of the type has (e.g. a group's ``member``).

    Return templates: entitlements whose ``resource`` is unset; the engine stamps
    one copy onto each resource (id ``type:resource:slug``) without calling the
    connector per resource.
    """

    def static_entitlements(self) -> Sequence[entitlement_pb2.Entitlement]: ...


@runtime_checkable
class ResourceGetter(Protocol):
    """Fetch one resource by id: enables targeted sync and re-reading after a write."""

    def get(self, resource_id: resource_pb2.ResourceId,
            parent: resource_pb2.ResourceId | None = None) -> resource_pb2.Resource | None: ...


@dataclass(frozen=True)
class GrantResult:
    """What a grant did. ``already_exists`` is Baton's ``GrantAlreadyExists``: the principal already
    held the entitlement, nothing was written, and the toolkit reports success as "already exists"."""

    grants: Sequence[grant_pb2.Grant] = ()
    already_exists: bool = False


@dataclass(frozen=True)
class RevokeResult:
    """What a revoke did. ``already_revoked`` is Baton's ``GrantAlreadyRevoked``: nothing to remove."""

    already_revoked: bool = False


@dataclass(frozen=True)
class DeleteResult:
    """What a delete did. ``already_deleted``: the resource was gone before the call."""

    already_deleted: bool = False


@runtime_checkable
class Granter(Protocol):
    """Grant and revoke entitlements of this type's resources, idempotently.

    Both calls must succeed when there is nothing to do, and should say so (a
    :class:`GrantResult` / :class:`RevokeResult` with the ``already_*`` flag),
    so the operator and the audit log learn that the write was a no-op. Older
    implementations may return the grants (or None) and nothing; that reads as
    "done, no-op unknown".
    """

    def grant(self, principal: resource_pb2.Resource,
              entitlement: entitlement_pb2.Entitlement) -> GrantResult | Sequence[grant_pb2.Grant] | None:
        """Make ``principal`` hold ``entitlement``; the resulting grants, flagged if they already existed."""
        ...

    def revoke(self, grant: grant_pb2.Grant) -> RevokeResult | None:
        """Remove ``grant``; revoking what is already gone succeeds (``already_revoked=True``)."""
        ...


class CreateAccountStatus(StrEnum):
    SUCCESS = "success"
    ALREADY_EXISTS = "already_exists"
    ACTION_REQUIRED = "action_required"
    IN_PROGRESS = "in_progress"


@dataclass(frozen=True)
class AccountInfo:
    """Who to create: a login, emails and free-form profile fields."""

    login: str
    emails: Sequence[str] = ()
    profile: dict[str, Any] = field(default_factory=dict)
    resource_type: str = ""


@dataclass(frozen=True)
class PasswordConstraint:
    char_set: str
    min_count: int = 1


@dataclass(frozen=True)
class CredentialOptions:
    """How to set the new account's credential: ``none`` or a ``random_password``."""

    kind: str = "random_password"  # "none" | "random_password" | "sso"
    length: int = 20
    constraints: Sequence[PasswordConstraint] = ()


@dataclass(frozen=True)
class GeneratedCredential:
    """A secret produced by a write (shown once, never logged or stored in a .c1z)."""

    name: str
    value: str
    description: str = ""

    def __repr__(self) -> str:
        return f"GeneratedCredential(name={self.name!r}, value=<redacted>)"


@dataclass(frozen=True)
class CreateAccountResult:
    status: CreateAccountStatus
    resource: resource_pb2.Resource | None = None
    credentials: Sequence[GeneratedCredential] = ()
    message: str = ""


@runtime_checkable
class AccountCreator(Protocol):
    """Create accounts (JIT provisioning) of this type."""

    def create_account(self, info: AccountInfo, credentials: CredentialOptions) -> CreateAccountResult: ...


@runtime_checkable
class AccountCreationSchema(Protocol):
    """Optional: describe the profile fields account creation needs."""

    def account_creation_schema(self) -> dict[str, Any]: ...


@runtime_checkable
class ResourceDeleter(Protocol):
    """Delete resources of this type; deleting what is gone succeeds (``already_deleted=True``)."""

    def delete_resource(self, resource_id: resource_pb2.ResourceId) -> DeleteResult | None: ...


@runtime_checkable
class CredentialRotator(Protocol):
    """Replace a resource's credential and return the new one."""

    def rotate_credentials(self, resource_id: resource_pb2.ResourceId,
                           credentials: CredentialOptions) -> Sequence[GeneratedCredential]: ...


@dataclass(frozen=True)
class Changes:
    """What changed in a system since a cursor, for one resource type.

    ``resources`` are new or changed resources of the syncer's type: the engine
    re-reads their entitlements and grants (so a rename reaches the copies of the
    resource embedded in them, and a membership change needs no more than the
    group reported here). ``deleted_resources`` go with their entitlements, their
    grants and the grants they held. ``entitlements``/``grants`` and the
    ``deleted_*`` ids are for systems that know finer changes. ``present``, when
    given, is the id of every resource of the type that exists now (an id-only
    scan, for systems that cannot report deletions): the others are deleted.
    ``cursor`` is where the next call starts; ``has_more`` asks the engine to call
    again at once.
    """

    cursor: str
    resources: Sequence[resource_pb2.Resource] = ()
    deleted_resources: Sequence[resource_pb2.ResourceId] = ()
    entitlements: Sequence[entitlement_pb2.Entitlement] = ()
    deleted_entitlements: Sequence[str] = ()
    grants: Sequence[grant_pb2.Grant] = ()
    deleted_grants: Sequence[str] = ()
    present: Sequence[str] | None = None
    has_more: bool = False


@runtime_checkable
class ChangeLister(Protocol):
    """List changes since a cursor: enables ``pybaton sync --incremental``.

    :meth:`current_cursor` is asked at the *start* of a full sync, so a change
    made while the sync reads is listed again by the next incremental run
    (replaying a change is harmless: the engine re-reads what it names).
    :meth:`changes` raises :class:`pybaton.errors.CursorExpiredError` when the
    system no longer knows the cursor; the engine then does a full sync.
    """

    def current_cursor(self) -> str: ...

    def changes(self, cursor: str) -> Changes: ...


@dataclass(frozen=True)
class EventPage:
    """One page of a feed: Baton ``Event`` messages and the cursor after them."""

    events: Sequence[event_feed_pb2.Event]
    cursor: str
    has_more: bool = False


@runtime_checkable
class EventFeed(Protocol):
    """Baton's ``ListEvents``: grant, revoke, resource change and usage events after a cursor.

    An empty cursor starts at the oldest event the system keeps. Implemented by
    the connector (not a syncer): one feed per system.
    """

    def list_events(self, cursor: str, page_size: int = 100) -> EventPage: ...


PROVISIONING_CAPABILITIES: dict[str, type] = {
    "grant": Granter,
    "create_account": AccountCreator,
    "delete_resource": ResourceDeleter,
    "rotate_credentials": CredentialRotator,
}


def capabilities_of(syncer: object) -> list[str]:
    """Names of the optional capabilities ``syncer`` implements."""
    names = []
    if isinstance(syncer, StaticEntitlements):
        names.append("static_entitlements")
    if isinstance(syncer, ResourceGetter):
        names.append("get")
    if isinstance(syncer, ChangeLister):
        names.append("changes")
    names.extend(name for name, proto in PROVISIONING_CAPABILITIES.items() if isinstance(syncer, proto))
    return names
