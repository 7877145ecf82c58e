"""``pybaton grant|revoke|create-account|delete-resource|rotate-credentials <connector>``.

Each command is a spelling of Baton's one-shot flags: it translates its own
options (``--entitlement``, ``--principal`` …) into ``--grant-entitlement`` …
and hands everything else after the connector's name to the standard runner,
so the connector's config flags, ``-p``, ``--dry-run``, ``-f``, ``--audit-log``
and the credential flags are defined once, in the runner, for both ways of
provisioning. ``pybaton grant demo --help`` shows them all.

The only refusal that cannot happen inside the runner is an unknown connector
(there is no connector to run); it is audited here, beside the ``-f`` file.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from pybaton.cli.external import resolve_connector
from pybaton.cli.options import DEFAULT_FILE, GlobalOptions
from pybaton.cli.sync import HELP_WORDS, PASS_THROUGH, show_connector_usage
from pybaton.connector.base import Connector, ConnectorMetadata, ResourceSyncer
from pybaton.connector.config import ConnectorConfig, load_config
from pybaton.errors import UsageError, UserError
from pybaton.provision.audit import default_audit_path, record_refusal
from pybaton.provision.oneshot import ProvisioningFlags, audit_path
from pybaton.provision.requests import Op
from pybaton.runtime.flags import RuntimeFlags
from pybaton.runtime.runner import execute, flags_parser

NameArg = Annotated[str | None, typer.Argument(help="The connector (`pybaton connectors`, or a connectors.yaml "
                                                    "entry)", show_default=False)]


def _opt(flag: str, text: str) -> Any:
    return typer.Option(flag, help=text, show_default=False)


class _Placeholder(Connector[ConnectorConfig]):
    """Stands in for a connector that could not be found, to read the standard flags."""

    metadata = ConnectorMetadata("unknown", "unknown connector")

    def syncers(self) -> Sequence[ResourceSyncer]:
        return ()


def _audit_of(args: list[str]) -> tuple[Path, bool]:
    """Where the runner would audit and whether it is a dry run, from the flags, env and .baton.yaml."""
    try:  # the flags alone: the subcommand positional would mistake an unknown flag's value for one
        namespace, _ = flags_parser(_Placeholder).parse_known_args(args)
        given = vars(namespace)
        flags = load_config(ProvisioningFlags, given)
        return audit_path(flags, load_config(RuntimeFlags, given).file), flags.dry_run
    except (UserError, SystemExit):
        return default_audit_path(os.environ.get("BATON_FILE") or DEFAULT_FILE), False


def _run(ctx: typer.Context, name: str | None, op: Op, translated: list[str], target: dict[str, str]) -> None:
    """Resolve the connector (auditing an unknown one) and run its command with the one-shot flags."""
    if name in HELP_WORDS:
        show_connector_usage(op.value, "[OPTIONS] [-p] [--dry-run] [connector flags]",
                             "Write access back into a system (enable with -p; --dry-run shows what would happen).")
    if name is None or name.startswith("-"):
        raise UsageError(f"which connector? usage: pybaton {op.value} NAME [OPTIONS] [-p] [--dry-run] "
                         f"[connector flags]; `pybaton {op.value} NAME --help` lists every flag")
    args = list(ctx.args)
    root = ctx.find_object(GlobalOptions)
    if root is not None and root.file != DEFAULT_FILE:
        args = ["--file", root.file, *args]  # `pybaton -f x.c1z grant …`; a later -f still wins
    try:
        connector_class, rest = resolve_connector(name, args)
    except UserError as exc:
        path, dry_run = _audit_of(args)
        record_refusal(path, name, op.value, {k: v for k, v in target.items() if v}, str(exc), dry_run=dry_run)
        raise
    code = execute(connector_class, [*translated, *rest], prog=f"pybaton {op.value} {name}")
    if code:
        raise typer.Exit(code)


def _flags(pairs: dict[str, str | None]) -> list[str]:
    return [part for flag, value in pairs.items() if value is not None for part in (flag, value)]


def grant_command(
    ctx: typer.Context, name: NameArg = None,
    entitlement: Annotated[str | None, _opt("--entitlement", "The entitlement, TYPE:RESOURCE:SLUG")] = None,
    principal: Annotated[str | None, _opt("--principal", "Who gets it, TYPE:ID")] = None,
) -> None:
    """Grant an entitlement to a principal (needs -p; --dry-run previews; connector flags pass through)."""
    _run(ctx, name, Op.GRANT, _flags({"--grant-entitlement": entitlement, "--grant-principal": principal}),
         {"entitlement": entitlement or "", "principal": principal or ""})


def revoke_command(
    ctx: typer.Context, name: NameArg = None,
    grant: Annotated[str | None, _opt("--grant", "The grant id, ENTITLEMENT:PRINCIPAL_TYPE:PRINCIPAL_ID")] = None,
) -> None:
    """Revoke a grant (needs -p; --dry-run previews; connector flags pass through)."""
    _run(ctx, name, Op.REVOKE, _flags({"--revoke-grant": grant}), {"grant": grant or ""})


def create_account_command(
    ctx: typer.Context, name: NameArg = None,
    login: Annotated[str | None, _opt("--login", "Login of the new account")] = None,
    email: Annotated[str | None, _opt("--email", "Email of the new account")] = None,
    profile: Annotated[str | None, _opt("--profile", "Profile fields, a JSON object")] = None,
    resource_type: Annotated[str | None, _opt("--resource-type", "Resource type of the account")] = None,
) -> None:
    """Create an account; a generated password is shown once or encrypted (--credential-recipient)."""
    _run(ctx, name, Op.CREATE_ACCOUNT,
         _flags({"--create-account-login": login, "--create-account-email": email,
                 "--create-account-profile": profile, "--create-account-resource-type": resource_type}),
         {"login": login or "", "email": email or "", "resource_type": resource_type or ""})


def delete_resource_command(
    ctx: typer.Context, name: NameArg = None,
    resource: Annotated[str | None, _opt("--resource", "The resource to delete, TYPE:ID")] = None,
) -> None:
    """Delete a resource (needs -p; --dry-run previews; connector flags pass through)."""
    _run(ctx, name, Op.DELETE_RESOURCE, _flags({"--delete-resource": resource}), {"resource": resource or ""})


def rotate_credentials_command(
    ctx: typer.Context, name: NameArg = None,
    resource: Annotated[str | None, _opt("--resource", "Whose credentials to replace, TYPE:ID")] = None,
) -> None:
    """Replace a resource's credentials; the new ones are shown once or encrypted (--credential-recipient)."""
    _run(ctx, name, Op.ROTATE_CREDENTIALS, _flags({"--rotate-credentials": resource}), {"resource": resource or ""})


COMMANDS: dict[Op, Callable[..., None]] = {
    Op.GRANT: grant_command,
    Op.REVOKE: revoke_command,
    Op.CREATE_ACCOUNT: create_account_command,
    Op.DELETE_RESOURCE: delete_resource_command,
    Op.ROTATE_CREDENTIALS: rotate_credentials_command,
}


def register(app: typer.Typer) -> None:
    """Add the five provisioning commands to the ``pybaton`` app."""
    for op, command in COMMANDS.items():
        app.command(op.value, context_settings=PASS_THROUGH, add_help_option=False)(command)


__all__ = ["COMMANDS", "register"]
