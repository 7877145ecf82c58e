"""The append-only audit log of provisioning: one JSON object per line, per attempted write.

Every write, dry run and refusal is recorded with who (the OS user), when,
which connector, what operation on which target, and how it ended. The file is
opened before anything is written to a system, so a log that cannot be
written stops the write instead of leaving it unrecorded. Lines are appended
with one ``write`` under an exclusive lock and fsynced, so concurrent runs
never interleave and a crash never leaves half a line.

Nothing secret is ever passed in: targets are ids, and the error text goes
through the caller's redactor (the connector's secrets and any generated
credential) before it is written.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import getpass
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pybaton.errors import UserError

AUDIT_SUFFIX = ".audit.jsonl"


def default_audit_path(c1z_path: str | Path) -> Path:
    """``sync.c1z`` → ``sync.c1z.audit.jsonl``, beside the file the targets were resolved from."""
    path = Path(c1z_path)
    return path.with_name(path.name + AUDIT_SUFFIX)


def operator() -> str:
    """The OS user running the command (``$USER``/``$LOGNAME`` or the password database)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid:{os.getuid()}"


def _one_line(text: str) -> str:
    return " ".join(text.split())


class AuditLog:
    """Appends records to one JSON-lines file; open it with :meth:`open` before writing anything."""

    def __init__(self, path: Path, fd: int, connector: str, redact: Callable[[str], str]) -> None:
        self.path = path
        self._fd = fd
        self.connector = connector
        self.redact = redact

    @classmethod
    def open(cls, path: str | Path, connector: str, redact: Callable[[str], str] = str) -> AuditLog:
        """Open (creating, mode 0600) for appending; a one-line error when that is impossible."""
        path = Path(path)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise UserError(f"audit log {path}: cannot open for appending ({exc.strerror}); "
                            "nothing was written (set --audit-log to a writable path)") from None
        return cls(path, fd, connector, redact)

    def record(self, operation: str, target: Mapping[str, str], *, dry_run: bool, result: str,
               error: str | None = None) -> None:
        """Append one record; ``error`` is redacted and flattened to one line."""
        entry: dict[str, Any] = {
            "time": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "operator": operator(),
            "connector": self.connector,
            "operation": operation,
            "target": dict(target),
            "dry_run": dry_run,
            "result": result,
            "error": _one_line(self.redact(error)) if error else None,
        }
        line = (json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            os.write(self._fd, line)
            os.fsync(self._fd)
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def record_refusal(path: str | Path, connector: str, operation: str, target: Mapping[str, str],
                   error: str, *, dry_run: bool = False) -> None:
    """Audit a write refused before a connector was even loaded (unknown connector, malformed input)."""
    with AuditLog.open(path, connector) as log:
        log.record(operation, target, dry_run=dry_run, result="refused", error=error)
