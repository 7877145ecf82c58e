"""Run one provisioning request: refuse, plan, write, audit, deliver credentials, re-read.

The order is the safety contract of DESIGN §5: the audit log is opened first
(no log, no write); a write needs provisioning enabled; the request is resolved
and validated against the latest sync before anything is touched; a dry run
stops after printing the plan; every ending — refused, failed, done, no-op,
planned — is one audit line; generated credentials go only to their sink, and
from then on are scrubbed from logs and errors too.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from pybaton.c1z import C1ZFile, SyncReader
from pybaton.connector.logging import Redactor
from pybaton.errors import ProvisioningError, PyBatonError, UserError
from pybaton.provision.audit import AuditLog
from pybaton.provision.backend import Backend, WriteResult
from pybaton.provision.credentials import CredentialSpec
from pybaton.provision.plan import Expectation, Plan, PlanContext, make_plan, ref
from pybaton.provision.requests import Request, phrase, result_code, result_line
from pybaton.provision.snapshot import Snapshot

ENABLE_HINT = "add -p/--provisioning (or set BATON_PROVISIONING=1)"


@dataclass
class Settings:
    """How to run a request: where its targets and audit log live, and what the operator allowed."""

    c1z_path: Path
    audit_path: Path
    enabled: bool
    dry_run: bool
    credentials: CredentialSpec
    out: TextIO
    # Returns a redactor that also scrubs the given new secrets (the runner re-installs its log filter).
    protect: Callable[[Sequence[str]], Callable[[str], str]] = Redactor
    redact: Callable[[str], str] = field(default_factory=Redactor)


def provision(request: Request, backend: Backend, settings: Settings) -> int:
    """Execute ``request`` through ``backend``; raises a one-line :class:`UserError` when refused."""
    with AuditLog.open(settings.audit_path, backend.name, settings.redact) as audit:
        def record(result: str, error: str | None = None) -> None:
            audit.record(request.op.value, request.target(), dry_run=settings.dry_run, result=result, error=error)

        try:
            if not (settings.enabled or settings.dry_run):
                raise ProvisioningError(f"provisioning is not enabled: {ENABLE_HINT} to let pybaton "
                                        f"{request.op.value} through {backend.name}, or use --dry-run to preview")
            with Snapshot.open(settings.c1z_path, backend.name) as snapshot:
                plan = make_plan(request, PlanContext(snapshot, backend, settings.credentials))
        except UserError as exc:
            record("refused", str(exc))
            raise
        if settings.dry_run:
            _show_plan(plan, settings)
            record("planned")
            return 0
        result = _write(plan, backend, record)
        settings.redact = audit.redact = _deliver(plan, result, settings, record)
        _reread(plan.expect(result), backend, settings)
    return 0


def _show_plan(plan: Plan, settings: Settings) -> None:
    out = settings.out
    print(f"dry run: would {plan.summary}", file=out)
    for note in plan.notes:
        print(f"  - {note}", file=out)
    tail = "" if settings.enabled else f"; {ENABLE_HINT} to apply it"
    print(f"nothing was changed{tail}", file=out)


def _write(plan: Plan, backend: Backend, record: Callable[[str, str | None], None]) -> WriteResult:
    """The one call that changes the system; any failure is audited before it propagates."""
    try:
        return plan.write(backend)
    except BaseException as exc:  # Ctrl-C mid-write included: the system may have changed
        record("failed", str(exc) if isinstance(exc, PyBatonError) else f"{type(exc).__name__}: {exc}")
        raise


def _deliver(plan: Plan, result: WriteResult, settings: Settings,
             record: Callable[[str, str | None], None]) -> Callable[[str], str]:
    """Report the result, hand credentials to their sink, audit; return the redactor to use from now on."""
    out, op = settings.out, plan.request.op
    redact = settings.protect([c.value for c in result.credentials]) if result.credentials else settings.redact
    if result.output:
        print(result.output.rstrip("\n"), file=out)
    print(result_line(op, plan.target, result.outcome), file=out)
    if result.message:
        print(f"  {redact(result.message)}", file=out)
    if result.credentials:
        try:
            resource = ref(result.resource.id) if result.resource is not None else plan.target
            settings.credentials.sink.deliver(resource, result.credentials)
        except Exception as exc:
            error = f"generated credentials could not be delivered: {redact(str(exc))}"
            record(result_code(op, result.outcome), error)
            raise ProvisioningError(f"{op.value} {phrase(op, result.outcome)}, but {error}") from None
    record(result_code(op, result.outcome), None)
    return redact


def _reread(expectation: Expectation | None, backend: Backend, settings: Settings) -> None:
    """Show the system's state after the write; a failure here is a warning (the write is done)."""
    if expectation is None:  # e.g. an account made by a subprocess: its id is the system's to choose
        print(f"note: sync {backend.name} to see the result", file=settings.out)
        return
    try:
        sync_id = backend.reread(settings.c1z_path, expectation.reread)
        if sync_id is None:
            print(f"note: {backend.name} cannot re-read single resources; sync it to see the change",
                  file=settings.out)
            return
        with C1ZFile.open(settings.c1z_path) as c1z:
            ok, line = expectation.check(SyncReader.of(c1z, sync_id))
    except (PyBatonError, OSError) as exc:
        print(f"warning: re-reading {expectation.reread} failed: {settings.redact(str(exc))}", file=sys.stderr)
        return
    print(line, file=settings.out)
    if not ok:
        print(f"warning: {line}, which is not what the write should have left; check {backend.name}",
              file=sys.stderr)
