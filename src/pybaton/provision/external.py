"""Provisioning through a registered connector command, with Baton's one-shot flags.

Each write runs the command once with ``-p``, the one-shot flags Baton defines
(``--grant-entitlement`` …) and ``-f`` pointing at a private copy of the
operator's ``.c1z``: like Go's local provisioner, the command looks the
targets up in that file, and a copy means the command can never change the
operator's file. Whether the write was a no-op is read from the command's
result line when it prints one (ours do; Go's print nothing and read as done).

Generated credentials stay the command's business: a pybaton command prints
them (relayed once to the operator) or encrypts them to the operator's key
itself; Go's one-shot mode seals them to a throw-away key, so none can be shown.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from functools import cached_property
from pathlib import Path

from pybaton.connector.capabilities import AccountInfo, CredentialOptions
from pybaton.connector.external import ExternalEntry, capabilities, run_command
from pybaton.model.ids import split_resource_ref
from pybaton.pb.c1.connector.v2 import entitlement_pb2, grant_pb2, resource_pb2
from pybaton.provision.backend import CREATE_ACCOUNT, GET, WriteResult
from pybaton.provision.credentials import AgeFileSink, CredentialSpec
from pybaton.provision.requests import Op, Outcome, parse_result
from pybaton.sync.external import sync_external

_GO_CREDENTIALS = ("this is a Go (baton-sdk) connector: its one-shot mode seals generated credentials "
                   "to a throw-away key, so they cannot be shown; set them with the system's own tools")


class ExternalBackend:
    """Runs a registered connector command once per write."""

    def __init__(self, entry: ExternalEntry, c1z_path: Path, credentials: CredentialSpec,
                 log_args: list[str] | None = None) -> None:
        self.entry = entry
        self.name = entry.name
        self.c1z_path = c1z_path
        self.credentials = credentials
        self.log_args = log_args or []

    @cached_property
    def _capabilities(self) -> dict[str, set[str]] | None:
        return capabilities(self.entry)

    def supports(self, capability: str, resource_type: str) -> bool | None:
        caps = self._capabilities
        if caps is None or resource_type not in caps:
            return None
        return capability in caps[resource_type]

    def account_types(self) -> list[str]:
        caps = self._capabilities or {}
        return [rtype for rtype, names in caps.items() if CREATE_ACCOUNT in names]

    def _pybaton_args(self, workdir: Path, credentials: CredentialOptions | None) -> list[str]:
        """pybaton's own flags, for commands of ours (Go's would reject them).

        The command's audit log goes to the temp dir: this process audits the write, once.
        """
        args = ["--audit-log", str(workdir / "connector.audit.jsonl")]
        if credentials is None:
            return args
        spec = self.credentials
        args += ["--credential-kind", spec.kind, "--credential-length", str(spec.length)]
        if spec.require:
            args += ["--credential-require", ",".join(spec.require)]
        sink = spec.sink
        if credentials.kind != "none" and isinstance(sink, AgeFileSink):
            args += ["--credential-recipient", sink.recipient_text, "--credential-file", str(sink.path.absolute())]
        return args

    def _oneshot(self, op: Op, args: list[str], credentials: CredentialOptions | None = None) -> WriteResult:
        """Run the command once; ``credentials`` for the actions that generate some."""
        ours = self.entry.kind == "pybaton"
        with tempfile.TemporaryDirectory(prefix=f"pybaton-{self.name}-") as tmp:
            copy = Path(tmp) / self.c1z_path.name
            shutil.copyfile(self.c1z_path, copy)
            extra = self._pybaton_args(Path(tmp), credentials) if ours else []
            proc = run_command(self.entry, ["-p", "-f", str(copy), *self.log_args, *args, *extra],
                               what=f"{op.value} through {self.name}")
        outcome = parse_result(op, proc.stdout) or Outcome.DONE
        sealed = credentials is not None and credentials.kind != "none" and not ours
        relayed = "".join(f"  | {line}\n" for line in proc.stdout.splitlines())
        return WriteResult(outcome, message=_GO_CREDENTIALS if sealed else "", output=relayed)

    def grant(self, principal: resource_pb2.Resource, entitlement: entitlement_pb2.Entitlement) -> WriteResult:
        pid = principal.id
        return self._oneshot(Op.GRANT, ["--grant-entitlement", entitlement.id, "--grant-principal", pid.resource,
                                        "--grant-principal-type", pid.resource_type])

    def revoke(self, grant: grant_pb2.Grant) -> WriteResult:
        return self._oneshot(Op.REVOKE, ["--revoke-grant", grant.id])

    def create_account(self, info: AccountInfo, options: CredentialOptions) -> WriteResult:
        args = ["--create-account-resource-type", info.resource_type]
        if info.login:
            args += ["--create-account-login", info.login]
        if info.emails:
            args += ["--create-account-email", info.emails[0]]
        if info.profile:
            args += ["--create-account-profile", json.dumps(info.profile)]
        # The new resource's id is the system's to choose (not always the login), so there is
        # nothing to re-read by id here; a pybaton command re-reads it itself (relayed output).
        return self._oneshot(Op.CREATE_ACCOUNT, args, options)

    def delete_resource(self, resource_id: resource_pb2.ResourceId) -> WriteResult:
        return self._oneshot(Op.DELETE_RESOURCE, ["--delete-resource", resource_id.resource,
                                                  "--delete-resource-type", resource_id.resource_type])

    def rotate_credentials(self, resource_id: resource_pb2.ResourceId, options: CredentialOptions) -> WriteResult:
        return self._oneshot(Op.ROTATE_CREDENTIALS, ["--rotate-credentials", resource_id.resource,
                                                     "--rotate-credentials-type", resource_id.resource_type],
                             options)

    def reread(self, c1z_path: Path, resource_ref: str) -> str | None:
        if not self.supports(GET, split_resource_ref(resource_ref)[0]):
            return None
        return sync_external(self.entry, c1z_path, ["--sync-resources", resource_ref, *self.log_args]).sync_id
