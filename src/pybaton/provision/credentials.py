"""Generated credentials: what to ask the connector for, and where the result goes.

A password a connector generates exists in exactly one place afterwards: the
operator's terminal (printed once) or a file encrypted to a public key the
operator gave (age format, X25519 ``age1…`` or SSH recipients). It is never
logged, audited, stored in a ``.c1z`` or put in an error message. Both sinks
check that they can deliver *before* the write, so a password is never created
only to be lost.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import string
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol, TextIO

from pybaton.connector.capabilities import CredentialOptions, GeneratedCredential, PasswordConstraint
from pybaton.errors import UsageError, UserError
from pybaton.extras import optional_import

# Character classes an operator can require at least one of (``--credential-require lower,digit``).
CHARSETS: dict[str, str] = {
    "lower": string.ascii_lowercase,
    "upper": string.ascii_uppercase,
    "digit": string.digits,
    "symbol": "-_.!@#%+=",
}


def credential_options(kind: str, length: int, require: Sequence[str]) -> CredentialOptions:
    """Baton's ``CredentialOptions`` from the operator's flags: a random password or none."""
    if kind not in ("random_password", "none"):
        raise UsageError(f"--credential-kind must be random_password or none, not {kind!r}")
    if kind == "none":
        return CredentialOptions(kind="none")
    unknown = [name for name in require if name not in CHARSETS]
    if unknown:
        raise UsageError(f"--credential-require: unknown character class {unknown[0]!r}; "
                         f"use {', '.join(CHARSETS)}")
    if len(require) > length:
        raise UsageError(f"--credential-length {length} is too short for {len(require)} required classes")
    constraints = [PasswordConstraint(char_set=CHARSETS[name]) for name in dict.fromkeys(require)]
    return CredentialOptions(kind="random_password", length=length, constraints=constraints)


class CredentialSink(Protocol):
    """Where generated credentials go: checked before the write, delivered once after it."""

    def describe(self) -> str:
        """For the dry run: where a generated credential would go."""
        ...

    def check(self) -> None:
        """Raise a :class:`UserError` if delivery would fail (so nothing is written)."""
        ...

    def deliver(self, resource: str, credentials: Sequence[GeneratedCredential]) -> None:
        """Hand over the credentials of ``resource``; called exactly once per write."""
        ...


class TerminalSink:
    """Prints the credentials once on the operator's terminal (stdout), never anywhere else."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def describe(self) -> str:
        return "shown once on this terminal"

    def check(self) -> None:
        return None

    def deliver(self, resource: str, credentials: Sequence[GeneratedCredential]) -> None:
        print(f"generated credentials for {resource} (shown once, stored nowhere; save them now):", file=self.out)
        for cred in credentials:
            print(f"  {cred.name}: {cred.value}", file=self.out)
        self.out.flush()


def _pyrage() -> Any:
    with optional_import("encrypting credentials"):
        import pyrage
    return pyrage


def parse_recipient(text: str) -> Any:
    """An age recipient: an ``age1…`` X25519 key, an ``ssh-ed25519``/``ssh-rsa`` key, or a file holding one."""
    pyrage = _pyrage()
    candidate = Path(text).expanduser()
    if not text.startswith(("age1", "ssh-")) and candidate.is_file():
        lines = [ln.strip() for ln in candidate.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
        text = lines[0] if lines else ""
    module = pyrage.ssh if text.startswith("ssh-") else pyrage.x25519
    try:
        return module.Recipient.from_str(text.strip())
    except Exception:  # pyrage raises its own RecipientError or ValueError, depending on the key type
        raise UsageError("--credential-recipient is not an age public key (age1…), an SSH public key, "
                         "or a file holding one") from None


class AgeFileSink:
    """Encrypts the credentials (JSON) to the operator's public key and writes a new 0600 file."""

    def __init__(self, recipient: str, path: Path) -> None:
        self.recipient_text = recipient
        self.path = path

    def describe(self) -> str:
        return f"encrypted to {self.recipient_text[:16]}… and written to {self.path}"

    def check(self) -> None:
        parse_recipient(self.recipient_text)
        if self.path.exists():
            raise UserError(f"--credential-file {self.path} already exists; choose a new path "
                            "(credentials are never written over another file)")
        if not self.path.parent.is_dir():
            raise UserError(f"--credential-file {self.path}: directory {self.path.parent} does not exist")

    def deliver(self, resource: str, credentials: Sequence[GeneratedCredential]) -> None:
        doc = {
            "resource": resource,
            "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "credentials": [{"name": c.name, "value": c.value, "description": c.description} for c in credentials],
        }
        sealed: bytes = _pyrage().encrypt(json.dumps(doc).encode(), [parse_recipient(self.recipient_text)])
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(sealed)
            fh.flush()
            os.fsync(fh.fileno())


def default_credential_file(c1z_path: Path) -> Path:
    """Beside the ``.c1z``, named by time so a second run never meets the first one's file."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return c1z_path.with_name(f"{c1z_path.name}.credentials-{stamp}.age")


@dataclass
class CredentialSpec:
    """The operator's credential flags: what to generate and where it goes."""

    out: TextIO
    c1z_path: Path
    kind: str = "random_password"
    length: int = 20
    require: Sequence[str] = ()
    recipient: str | None = None
    file: str | None = None

    def options(self) -> CredentialOptions:
        return credential_options(self.kind, self.length, self.require)

    @cached_property
    def sink(self) -> CredentialSink:
        """The terminal, or an age file when the operator gave a recipient (one per run)."""
        if not self.recipient:
            if self.file:
                raise UsageError("--credential-file needs --credential-recipient (the public key to encrypt to)")
            return TerminalSink(self.out)
        return AgeFileSink(self.recipient, Path(self.file) if self.file else default_credential_file(self.c1z_path))
