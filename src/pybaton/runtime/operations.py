"""What a connector command does when run: sync, provision, or sync an external command.

The runner resolves the flags into an :class:`~pybaton.runtime.runner.Invocation`;
the first :class:`Operation` whose ``wanted`` is true runs, else :func:`run_sync`.
These sit here, above the sync engine and provisioning, so that neither of them
needs to know the runner (data flows one way: runtime → provision → sync → connector).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pybaton.connector.base import Connector
from pybaton.connector.config import secret_values
from pybaton.connector.external import ExternalConnector
from pybaton.connector.logging import Redactor, configure
from pybaton.errors import UserError
from pybaton.provision.audit import record_refusal
from pybaton.provision.backend import Backend, ConnectorBackend
from pybaton.provision.credentials import CredentialSpec
from pybaton.provision.execute import Settings, provision
from pybaton.provision.external import ExternalBackend
from pybaton.provision.oneshot import ProvisioningFlags, audit_path, request_from_flags, requested
from pybaton.runtime.flags import SyncFlags
from pybaton.runtime.progress import progress_for
from pybaton.sync import SyncOptions, SyncResult, sync
from pybaton.sync.external import baton_args, sync_external

if TYPE_CHECKING:
    from pybaton.runtime.runner import Invocation


@dataclass(frozen=True)
class Operation:
    """Something the default command does instead of a sync when its flags are given.

    Provisioning registers here, e.g. ``Operation("grant", lambda inv: bool(inv.group(ProvisioningFlags)
    .grant_entitlement), run_grant)``; the first operation whose ``wanted`` is true runs.
    """

    name: str
    wanted: Callable[[Invocation], bool]
    run: Callable[[Invocation, Connector[Any]], int]


def summary_lines(name: str, result: SyncResult) -> list[str]:
    """What an operator wants after a sync: how much, how long, resumed or not, anything suspicious."""
    stats = result.stats
    how = "resumed and finished" if result.resumed else "finished"
    kind = "sync" if result.changes is None else f"incremental sync ({result.changes} changed objects)"
    lines = [f"{kind} of {name} {how} in {result.seconds:.1f}s: {result.path} (sync {result.sync_id})",
             f"  {stats.get('resources', 0)} resources, {stats.get('entitlements', 0)} entitlements, "
             f"{stats.get('grants', 0)} grants"]
    by_type: dict[str, dict[str, int]] = stats.get("resources_by_resource_type", {})
    for rtype in sorted(by_type):
        ents = stats.get("entitlements_by_resource_type", {}).get(rtype, 0)
        grants = stats.get("grants_by_resource_type", {}).get(rtype, 0)
        lines.append(f"  {rtype}: {by_type[rtype]} resources, {ents} entitlements, {grants} grants")
    lines.extend(f"  warning: {v.describe()}" for v in result.integrity)
    return lines


# -- sync ------------------------------------------------------------------------------------------

def run_sync(inv: Invocation, connector: Connector[Any]) -> int:
    """The default operation: sync into ``--file`` and print a short summary."""
    runtime, sync_flags = inv.runtime, inv.group(SyncFlags)
    options = SyncOptions(
        workers=sync_flags.workers, page_size=sync_flags.page_size,
        skip_entitlements_and_grants=sync_flags.skip_entitlements_and_grants, skip_grants=sync_flags.skip_grants,
        sync_resources=tuple(sync_flags.sync_resources), sync_resource_types=tuple(sync_flags.sync_resource_types),
        incremental=sync_flags.incremental,
    )
    progress = progress_for(sys.stderr, log_format=runtime.log_format)
    result = sync(connector, runtime.file, options, progress)
    print("\n".join(summary_lines(connector.metadata.name, result)), file=inv.out)
    return 0


# -- an external connector command (connectors.yaml) -----------------------------------------------

def external_wanted(inv: Invocation) -> bool:
    """External connectors sync by running their command, never through the engine."""
    return issubclass(inv.connector_class, ExternalConnector)


def run_external_sync(inv: Invocation, connector: Connector[Any]) -> int:
    assert isinstance(connector, ExternalConnector)
    result = sync_external(connector.entry, Path(inv.runtime.file), baton_args(inv.given))
    print("\n".join(summary_lines(connector.metadata.name, result)), file=inv.out)
    return 0


# -- Baton's one-shot provisioning flags -----------------------------------------------------------

def provision_wanted(inv: Invocation) -> bool:
    """Any one-shot action flag turns the command from a sync into a provisioning run."""
    return bool(requested(inv.group(ProvisioningFlags)))


def _backend(inv: Invocation, connector: Connector[Any], spec: CredentialSpec) -> Backend:
    if isinstance(connector, ExternalConnector):
        return ExternalBackend(connector.entry, spec.c1z_path, spec, baton_args(inv.given, ("log_level",)))
    return ConnectorBackend(connector)


def run_provision(inv: Invocation, connector: Connector[Any]) -> int:
    """Run the requested action; refusals of malformed flag combinations are audited too."""
    flags: ProvisioningFlags = inv.group(ProvisioningFlags)
    c1z_path = Path(inv.runtime.file)
    audit = audit_path(flags, c1z_path)
    name = connector.metadata.name
    try:
        request = request_from_flags(flags)
    except UserError as exc:
        operation = "+".join(op.value for op in requested(flags))
        record_refusal(audit, name, operation, {}, str(exc), dry_run=flags.dry_run)
        raise
    spec = CredentialSpec(inv.out, c1z_path, flags.credential_kind, flags.credential_length,
                          tuple(flags.credential_require), flags.credential_recipient, flags.credential_file)
    config_secrets = secret_values(connector.config)

    def protect(values: Sequence[str]) -> Redactor:
        """Re-install the log filter so the new credentials are scrubbed like the config's secrets."""
        inv.redact = configure(inv.runtime.log_level, inv.runtime.log_format, [*config_secrets, *values])
        return inv.redact

    settings = Settings(c1z_path, audit, flags.provisioning, flags.dry_run, spec, inv.out,
                        protect=protect, redact=inv.redact)
    return provision(request, _backend(inv, connector, spec), settings)


OPERATIONS: tuple[Operation, ...] = (
    Operation("provision", provision_wanted, run_provision),
    Operation("external sync", external_wanted, run_external_sync),
)
