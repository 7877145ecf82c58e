"""Provisioning: writing access back into systems, through a connector's capabilities.

:func:`provision` runs one :class:`Request` through a :class:`Backend` (a
connector object, or a connector command run as a subprocess) under the
safety rules of DESIGN §5: enabled explicitly, validated against the latest
sync before anything is written, previewable with a dry run, idempotent,
audited line by line, and with generated credentials shown once or encrypted.
The standard runner exposes it as Baton's one-shot flags (:mod:`.oneshot`);
the ``pybaton grant``/``revoke``/… commands are built on that.
"""

from pybaton.provision.audit import AuditLog, default_audit_path
from pybaton.provision.backend import Backend, ConnectorBackend, WriteResult
from pybaton.provision.credentials import CredentialSpec
from pybaton.provision.execute import Settings, provision
from pybaton.provision.requests import Op, Outcome, Request

__all__ = ["AuditLog", "Backend", "ConnectorBackend", "CredentialSpec", "Op", "Outcome", "Request", "Settings",
           "WriteResult", "default_audit_path", "provision"]
