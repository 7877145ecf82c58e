"""Who performs a write: a connector in this process, or a connector command run as a subprocess.

Provisioning validates, audits and reports the same way whichever performs the
write; a :class:`Backend` is only the part that differs: calling the
connector's capability and re-reading one resource afterwards.
:class:`ConnectorBackend` calls the capabilities of a connector object
directly; :class:`pybaton.provision.external.ExternalBackend` runs a connector
command with Baton's one-shot flags.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from pybaton.connector.base import Connector, ResourceSyncer
from pybaton.connector.capabilities import (
    AccountCreator,
    AccountInfo,
    CreateAccountStatus,
    CredentialOptions,
    CredentialRotator,
    DeleteResult,
    GeneratedCredential,
    Granter,
    GrantResult,
    ResourceDeleter,
    RevokeResult,
    capabilities_of,
)
from pybaton.errors import ProvisioningError
from pybaton.model.ids import split_resource_ref
from pybaton.pb.c1.connector.v2 import entitlement_pb2, grant_pb2, resource_pb2
from pybaton.provision.requests import Outcome
from pybaton.sync import SyncOptions, sync

# Capability names, as :func:`pybaton.connector.capabilities.capabilities_of` reports them.
GRANT, CREATE_ACCOUNT, DELETE, ROTATE, GET = "grant", "create_account", "delete_resource", "rotate_credentials", "get"

_ACCOUNT_OUTCOMES = {
    CreateAccountStatus.SUCCESS: Outcome.DONE,
    CreateAccountStatus.ALREADY_EXISTS: Outcome.ALREADY,
    CreateAccountStatus.ACTION_REQUIRED: Outcome.ACTION_REQUIRED,
    CreateAccountStatus.IN_PROGRESS: Outcome.IN_PROGRESS,
}


@dataclass(frozen=True)
class WriteResult:
    """How a write ended, with what it produced (a new account, generated credentials)."""

    outcome: Outcome
    resource: resource_pb2.Resource | None = None
    credentials: Sequence[GeneratedCredential] = field(default=())
    message: str = ""
    output: str = ""  # what a connector subprocess printed (relayed to the operator, never logged)

    def __repr__(self) -> str:
        return f"WriteResult(outcome={self.outcome}, credentials=<{len(self.credentials)} redacted>)"


class Backend(Protocol):
    """Performs writes for :func:`pybaton.provision.execute.provision`."""

    name: str

    def supports(self, capability: str, resource_type: str) -> bool | None:
        """Whether ``resource_type`` has ``capability``; None when the connector cannot say."""
        ...

    def account_types(self) -> list[str]:
        """Resource types whose accounts can be created."""
        ...

    def grant(self, principal: resource_pb2.Resource, entitlement: entitlement_pb2.Entitlement) -> WriteResult: ...

    def revoke(self, grant: grant_pb2.Grant) -> WriteResult: ...

    def create_account(self, info: AccountInfo, options: CredentialOptions) -> WriteResult: ...

    def delete_resource(self, resource_id: resource_pb2.ResourceId) -> WriteResult: ...

    def rotate_credentials(self, resource_id: resource_pb2.ResourceId, options: CredentialOptions) -> WriteResult: ...

    def reread(self, c1z_path: Path, resource_ref: str) -> str | None:
        """Targeted sync of one resource into ``c1z_path``; the new run's id, or None if unsupported."""
        ...


def cannot(connector: str, what: str, resource_type: str) -> ProvisioningError:
    """The refusal when a connector lacks a capability for a resource type (checked before and at the write)."""
    return ProvisioningError(f"connector {connector} cannot {what} {resource_type} resources")


def _outcome(already: bool) -> Outcome:
    return Outcome.ALREADY if already else Outcome.DONE


class ConnectorBackend:
    """Calls the capabilities of a connector object in this process."""

    def __init__(self, connector: Connector[Any]) -> None:
        self.connector = connector
        self.name = connector.metadata.name

    def _syncer(self, resource_type: str) -> ResourceSyncer:
        syncer = self.connector.syncer_for(resource_type)
        if syncer is None:
            raise ProvisioningError(f"connector {self.name} has no resource type {resource_type!r}")
        return syncer

    def supports(self, capability: str, resource_type: str) -> bool | None:
        syncer = self.connector.syncer_for(resource_type)
        return syncer is not None and capability in capabilities_of(syncer)

    def account_types(self) -> list[str]:
        return [s.resource_type.id for s in self.connector.syncers() if isinstance(s, AccountCreator)]

    def grant(self, principal: resource_pb2.Resource, entitlement: entitlement_pb2.Entitlement) -> WriteResult:
        rtype = entitlement.resource.id.resource_type
        granter = self._syncer(rtype)
        if not isinstance(granter, Granter):
            raise cannot(self.name, "grant entitlements of", rtype)
        got = granter.grant(principal, entitlement)
        return WriteResult(_outcome(isinstance(got, GrantResult) and got.already_exists))

    def revoke(self, grant: grant_pb2.Grant) -> WriteResult:
        rtype = grant.entitlement.resource.id.resource_type
        granter = self._syncer(rtype)
        if not isinstance(granter, Granter):
            raise cannot(self.name, "revoke grants of", rtype)
        got = granter.revoke(grant)
        return WriteResult(_outcome(isinstance(got, RevokeResult) and got.already_revoked))

    def create_account(self, info: AccountInfo, options: CredentialOptions) -> WriteResult:
        creator = self._syncer(info.resource_type)
        if not isinstance(creator, AccountCreator):
            raise cannot(self.name, "create accounts of", info.resource_type)
        got = creator.create_account(info, options)
        return WriteResult(_ACCOUNT_OUTCOMES[got.status], got.resource, tuple(got.credentials), got.message)

    def delete_resource(self, resource_id: resource_pb2.ResourceId) -> WriteResult:
        deleter = self._syncer(resource_id.resource_type)
        if not isinstance(deleter, ResourceDeleter):
            raise cannot(self.name, "delete", resource_id.resource_type)
        got = deleter.delete_resource(resource_id)
        return WriteResult(_outcome(isinstance(got, DeleteResult) and got.already_deleted))

    def rotate_credentials(self, resource_id: resource_pb2.ResourceId, options: CredentialOptions) -> WriteResult:
        rotator = self._syncer(resource_id.resource_type)
        if not isinstance(rotator, CredentialRotator):
            raise cannot(self.name, "rotate credentials of", resource_id.resource_type)
        return WriteResult(Outcome.DONE, credentials=tuple(rotator.rotate_credentials(resource_id, options)))

    def reread(self, c1z_path: Path, resource_ref: str) -> str | None:
        if not self.supports(GET, split_resource_ref(resource_ref)[0]):
            return None
        # One resource's grants name principals this run does not list: the integrity check would only warn.
        options = SyncOptions(sync_resources=(resource_ref,), integrity_check=False)
        return sync(self.connector, c1z_path, options).sync_id
