"""Baton's one-shot provisioning flags on every connector command, and the request they make.

The standard runner lists :class:`ProvisioningFlags` among its flag groups and
runs the action they ask for (:mod:`pybaton.runtime.operations`), so every connector command
(and ``pybaton grant …``, which is built on it) accepts ``-p``, ``--dry-run``,
``--grant-entitlement`` … with the runner's precedence (flag > ``BATON_*`` env >
``.baton.yaml``). As in Baton, the five actions are mutually exclusive and each
takes its flags together; as a pybaton convenience ``--grant-principal``,
``--delete-resource`` and ``--rotate-credentials`` also accept ``TYPE:ID``
when their ``-type`` flag is left out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from pybaton.connector.config import ConnectorConfig, flag_name
from pybaton.errors import UsageError
from pybaton.provision.audit import default_audit_path
from pybaton.provision.requests import Op, Request


def _opt(description: str) -> Any:
    return Field(None, description=description)


class ProvisioningFlags(ConnectorConfig):
    """Writing to the system: Baton's one-shot actions, and pybaton's safety and credential flags."""

    provisioning: bool = Field(False, description="allow writes to the system (grant, revoke, create account, "
                                                  "delete, rotate)", json_schema_extra={"short": "-p"})
    dry_run: bool = Field(False, description="resolve and validate a write against the latest sync, print "
                                             "what it would do, change nothing")
    audit_log: str | None = _opt("append-only JSON-lines audit log of writes (default: FILE.audit.jsonl "
                                 "beside --file)")
    grant_entitlement: str | None = _opt("grant this entitlement (TYPE:RESOURCE:SLUG)")
    grant_principal: str | None = _opt("… to this principal (its id, or TYPE:ID)")
    grant_principal_type: str | None = _opt("… of this resource type")
    revoke_grant: str | None = _opt("revoke this grant (ENTITLEMENT:PRINCIPAL_TYPE:PRINCIPAL_ID)")
    create_account_login: str | None = _opt("create an account with this login")
    create_account_email: str | None = _opt("… and this email")
    create_account_profile: str | None = _opt("… and these profile fields (a JSON object)")
    create_account_resource_type: str | None = _opt("… of this resource type (default: the one that "
                                                    "supports account creation)")
    delete_resource: str | None = _opt("delete this resource (its id, or TYPE:ID)")
    delete_resource_type: str | None = _opt("… of this resource type")
    rotate_credentials: str | None = _opt("rotate the credentials of this resource (its id, or TYPE:ID)")
    rotate_credentials_type: str | None = _opt("… of this resource type")
    credential_kind: Literal["random_password", "none"] = Field(
        "random_password", description="credential to generate for a new account or a rotation")
    credential_length: int = Field(20, ge=8, le=256, description="length of a generated password")
    credential_require: list[str] = Field(default_factory=list, description="character classes a generated "
                                          "password must contain: lower, upper, digit, symbol")
    credential_recipient: str | None = _opt("encrypt generated credentials to this age (age1…) or SSH public "
                                            "key, or a file holding one, instead of showing them")
    credential_file: str | None = _opt("where the encrypted credentials go (default: beside --file)")


# The flags of each action: any one given selects the action (Baton's mutually exclusive groups).
ACTIONS: dict[Op, tuple[str, ...]] = {
    Op.GRANT: ("grant_entitlement", "grant_principal", "grant_principal_type"),
    Op.REVOKE: ("revoke_grant",),
    Op.CREATE_ACCOUNT: ("create_account_login", "create_account_email", "create_account_profile",
                        "create_account_resource_type"),
    Op.DELETE_RESOURCE: ("delete_resource", "delete_resource_type"),
    Op.ROTATE_CREDENTIALS: ("rotate_credentials", "rotate_credentials_type"),
}


def requested(flags: ProvisioningFlags) -> list[Op]:
    return [op for op, names in ACTIONS.items() if any(getattr(flags, n) for n in names)]


def _typed_ref(resource_id: str | None, resource_type: str | None) -> str:
    """``--x ID --x-type TYPE`` → ``TYPE:ID``; a lone ``--x`` must already be ``TYPE:ID``."""
    if resource_type:
        return f"{resource_type}:{resource_id}" if resource_id else ""
    return resource_id or ""


def _params(op: Op, f: ProvisioningFlags) -> dict[str, str]:
    """The operator's input for ``op``, as given (validated later, so refusals can be audited)."""
    match op:
        case Op.GRANT:
            return {"entitlement": f.grant_entitlement or "",
                    "principal": _typed_ref(f.grant_principal, f.grant_principal_type)}
        case Op.REVOKE:
            return {"grant": f.revoke_grant or ""}
        case Op.CREATE_ACCOUNT:
            return {"login": f.create_account_login or "", "email": f.create_account_email or "",
                    "profile": f.create_account_profile or "", "resource_type": f.create_account_resource_type or ""}
        case Op.DELETE_RESOURCE:
            return {"resource": _typed_ref(f.delete_resource, f.delete_resource_type)}
        case Op.ROTATE_CREDENTIALS:
            return {"resource": _typed_ref(f.rotate_credentials, f.rotate_credentials_type)}


def request_from_flags(flags: ProvisioningFlags) -> Request:
    """The one action the flags ask for, as a :class:`Request` (a usage error for two or none)."""
    ops = requested(flags)
    if len(ops) != 1:
        names = [flag_name(ACTIONS[op][0]) for op in ops] or ["an action"]
        raise UsageError(f"{', '.join(names)} cannot be used together: one provisioning action per run")
    return Request(ops[0], _params(ops[0], flags))


def audit_path(flags: ProvisioningFlags, c1z_path: str | Path) -> Path:
    """``--audit-log``, else the default beside the ``.c1z``."""
    return Path(flags.audit_log) if flags.audit_log else default_audit_path(c1z_path)
