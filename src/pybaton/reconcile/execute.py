"""Running one system's actions through provisioning, in plan order.

Every write goes through :func:`pybaton.provision.provision`, exactly as
``pybaton grant`` does: validated against the latest sync, idempotent
(``already exists`` / ``already revoked`` are successes), audited in the
system's audit log, with a dry run that touches nothing. This module only
turns actions into provisioning requests and reads back how each ended.

Two details make a batch work: an account created for a person must be found
before it can be granted anything (its id is the system's choice), so after a
create the account is looked up by login in the re-read the write left in the
``.c1z`` — or, for a system that cannot re-read one resource, after a sync of
the system; and only account creations are re-read at all, because the full
re-sync after the batch checks everything else in one go.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pybaton.connector.base import Connector
from pybaton.connector.capabilities import AccountInfo, CredentialOptions
from pybaton.errors import UserError
from pybaton.identity import account_of, user_types
from pybaton.pb.c1.connector.v2 import entitlement_pb2, grant_pb2, resource_pb2
from pybaton.provision import (
    Backend,
    ConnectorBackend,
    CredentialSpec,
    Op,
    Outcome,
    Request,
    Settings,
    WriteResult,
)
from pybaton.provision import provision as run_provision
from pybaton.provision.external import ExternalBackend
from pybaton.provision.requests import parse_result
from pybaton.provision.snapshot import Snapshot
from pybaton.reconcile.plan import Action, Kind
from pybaton.reconcile.syncing import describe_error, sync_system
from pybaton.reconcile.workspace import Workspace

_OPS = {Kind.CREATE_ACCOUNT: Op.CREATE_ACCOUNT, Kind.GRANT: Op.GRANT, Kind.REVOKE: Op.REVOKE,
        Kind.DISABLE: Op.REVOKE, Kind.DELETE: Op.DELETE_RESOURCE}


@dataclass(frozen=True)
class Result:
    """How one action ended: done, already (nothing to do), failed, skipped, or planned (dry run)."""

    action: Action
    status: str
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.status in ("done", "already")


class _NewAccountsOnly:
    """A backend that re-reads only the accounts it creates (a grant needs them in the ``.c1z``)."""

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.name = inner.name
        self._reread_next = False

    def supports(self, capability: str, resource_type: str) -> bool | None:
        return self.inner.supports(capability, resource_type)

    def account_types(self) -> list[str]:
        return self.inner.account_types()

    def grant(self, principal: resource_pb2.Resource, entitlement: entitlement_pb2.Entitlement) -> WriteResult:
        return self.inner.grant(principal, entitlement)

    def revoke(self, grant: grant_pb2.Grant) -> WriteResult:
        return self.inner.revoke(grant)

    def create_account(self, info: AccountInfo, options: CredentialOptions) -> WriteResult:
        self._reread_next = True
        return self.inner.create_account(info, options)

    def delete_resource(self, resource_id: resource_pb2.ResourceId) -> WriteResult:
        return self.inner.delete_resource(resource_id)

    def rotate_credentials(self, resource_id: resource_pb2.ResourceId, options: CredentialOptions) -> WriteResult:
        return self.inner.rotate_credentials(resource_id, options)

    def reread(self, c1z_path: Path, resource_ref: str) -> str | None:
        wanted, self._reread_next = self._reread_next, False
        return self.inner.reread(c1z_path, resource_ref) if wanted else None


def find_account(c1z: Path, connector: str, login: str) -> str | None:
    """``TYPE:ID`` of the account with this login (or id) in the latest sync and its re-reads."""
    wanted = login.casefold()
    with Snapshot.open(c1z, connector) as snapshot:
        for reader in snapshot.readers:
            for type_id in user_types(reader):
                direct = reader.resource(type_id, login)
                if direct is not None:
                    return f"{type_id}:{login}"
                for resource in reader.resources(type_id):
                    account = account_of("", resource)
                    if account is not None and account.login.casefold() == wanted:
                        return account.ref
    return None


class SystemExecutor:
    """Executes one system's actions, in order, with one connector for the whole batch."""

    def __init__(self, ws: Workspace, system: str, *, dry_run: bool) -> None:
        self.ws, self.system, self.dry_run = ws, system, dry_run
        self.c1z = ws.c1z(system)
        self.created: dict[str, str] = {}  # create-account action id → TYPE:ID of the account
        self.succeeded: set[str] = set()  # ids of the actions that went through (or would, in a dry run)
        self._connector: Connector[Any] | None = None
        self._backend: _NewAccountsOnly | None = None

    def backend(self, spec: CredentialSpec) -> _NewAccountsOnly:
        """The batch's backend, made once; a command's backend is told this action's credential sink."""
        if self._backend is None:
            if self.ws.system(self.system).command is not None:
                inner: Backend = ExternalBackend(self.ws.external_entry(self.system), self.c1z, spec)
            else:
                self._connector = self.ws.connector(self.system)
                inner = ConnectorBackend(self._connector)
            self._backend = _NewAccountsOnly(inner)
        if isinstance(self._backend.inner, ExternalBackend):
            self._backend.inner.credentials = spec  # each new account gets its own encrypted file
        return self._backend

    def close(self) -> None:
        if self._connector is not None:
            self._connector.close()

    def credentials(self, out: io.StringIO, action: Action) -> CredentialSpec:
        """No password, or one encrypted to the workspace's recipient: never printed by an unattended run."""
        settings = self.ws.spec.credentials
        if not settings.recipient or action.kind is not Kind.CREATE_ACCOUNT:
            return CredentialSpec(out, self.c1z, kind="none")
        login = action.target
        folder = self.ws.data_dir / settings.dir
        folder.mkdir(parents=True, exist_ok=True)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
        safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in login)
        return CredentialSpec(out, self.c1z, length=settings.length, recipient=settings.recipient,
                              file=str(folder / f"{self.system}-{safe}-{stamp}.age"))

    def request(self, action: Action) -> Request:
        match action.kind:
            case Kind.CREATE_ACCOUNT:
                profile = json.dumps(action.profile) if action.profile else ""
                return Request(Op.CREATE_ACCOUNT, {"login": action.target, "email": action.email, "profile": profile})
            case Kind.GRANT:
                principal = action.principal or self.created.get(action.needs, "")
                return Request(Op.GRANT, {"entitlement": action.target, "principal": principal})
            case Kind.REVOKE | Kind.DISABLE:
                return Request(Op.REVOKE, {"grant": action.target})
            case Kind.DELETE:
                return Request(Op.DELETE_RESOURCE, {"resource": action.target})

    def run(self, action: Action) -> Result:
        result = self._run(action)
        if result.ok or result.status == "planned":
            self.succeeded.add(action.id)
        return result

    def _run(self, action: Action) -> Result:
        waiting = [a for a in action.after if a not in self.succeeded]
        if waiting:  # the grant that keeps what this removal would take away did not land: do not remove
            return Result(action, "skipped", f"{waiting[0]} did not go through, and it keeps what this would take "
                                             "away; left for the next run")
        if action.needs and not self.created.get(action.needs):
            if self.dry_run:
                return Result(action, "planned", f"would grant {action.target} once the account is created")
            return Result(action, "skipped", "its account was not created")
        out = io.StringIO()
        op = _OPS[action.kind]
        spec = self.credentials(out, action)
        settings = Settings(self.c1z, self.ws.audit_log(self.system), enabled=True, dry_run=self.dry_run,
                            credentials=spec, out=out, redact=self.ws.redactor())
        try:
            run_provision(self.request(action), self.backend(spec), settings)
        except Exception as exc:  # refused or failed: reported for this action; the batch goes on
            return Result(action, "failed", self.ws.redactor()(describe_error(exc)))
        if self.dry_run:
            return Result(action, "planned", _first_dry_line(out.getvalue()))
        outcome = parse_result(op, out.getvalue()) or Outcome.DONE
        result = Result(action, "already" if outcome is Outcome.ALREADY else "done")
        if action.kind is Kind.CREATE_ACCOUNT:
            return self.after_create(result)
        return result

    def after_create(self, result: Result) -> Result:
        """Find the new account, syncing the system when the write could not re-read it."""
        action = result.action
        name = self._backend.name if self._backend is not None else self.system
        ref = find_account(self.c1z, name, action.target)
        if ref is None:
            synced = sync_system(self.ws, self.system)
            if not synced.ok:
                raise UserError(f"{self.system}: created {action.target}, but the sync to find it failed: "
                                f"{synced.error}")
            ref = find_account(self.c1z, name, action.target)
        if ref is None:
            return Result(action, "failed", f"created, but no account with login {action.target} appears in "
                                            f"{self.system}; its grants wait for the next run")
        self.created[action.id] = ref
        return Result(action, result.status, f"account {ref}")


def _first_dry_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[0].removeprefix("dry run: ") if lines else ""


def run_system(ws: Workspace, system: str, actions: list[Action], *, dry_run: bool,
               report: Callable[[Result], None]) -> list[Result]:
    """Execute ``actions`` (one system's, in plan order); each result is reported as it comes."""
    executor = SystemExecutor(ws, system, dry_run=dry_run)
    results = []
    try:
        for action in actions:
            try:
                result = executor.run(action)
            except UserError as exc:
                result = Result(action, "failed", ws.redactor()(str(exc)))
            results.append(result)
            report(result)
    finally:
        executor.close()
    return results
