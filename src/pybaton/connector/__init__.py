"""The connector authoring API.

Subclass :class:`Connector` (with a :class:`ConnectorConfig`) and one
:class:`ResourceSyncer` per resource type; implement optional capabilities from
:mod:`pybaton.connector.capabilities`; run it with :func:`pybaton.connector.run`.
"""

from pybaton.connector.base import Connector, ConnectorMetadata, ResourceSyncer
from pybaton.connector.capabilities import (
    AccountCreator,
    AccountInfo,
    ChangeLister,
    Changes,
    CreateAccountResult,
    CreateAccountStatus,
    CredentialOptions,
    CredentialRotator,
    DeleteResult,
    EventFeed,
    EventPage,
    GeneratedCredential,
    Granter,
    GrantResult,
    PasswordConstraint,
    ResourceDeleter,
    ResourceGetter,
    RevokeResult,
    StaticEntitlements,
)
from pybaton.connector.config import ConnectorConfig, load_config
from pybaton.connector.pagination import Page, PageToken, TokenBag

__all__ = [
    "AccountCreator",
    "AccountInfo",
    "ChangeLister",
    "Changes",
    "Connector",
    "ConnectorConfig",
    "ConnectorMetadata",
    "CreateAccountResult",
    "CreateAccountStatus",
    "CredentialOptions",
    "CredentialRotator",
    "DeleteResult",
    "EventFeed",
    "EventPage",
    "GeneratedCredential",
    "GrantResult",
    "Granter",
    "Page",
    "PageToken",
    "PasswordConstraint",
    "ResourceDeleter",
    "ResourceGetter",
    "ResourceSyncer",
    "RevokeResult",
    "StaticEntitlements",
    "TokenBag",
    "load_config",
]


def run(connector_class: type[Connector], argv: list[str] | None = None,  # type: ignore[type-arg]
        *, prog: str | None = None) -> None:
    """Run ``connector_class`` as a standalone command with Baton's standard flags.

    The runner lives above the sync engine and provisioning (:mod:`pybaton.runtime`),
    which it drives; this forwarding import, made at call time, is the one place
    the authoring API reaches up, so connector scripts need only ``pybaton.connector``.
    """
    from pybaton.runtime.runner import main

    main(connector_class, argv, prog=prog)
