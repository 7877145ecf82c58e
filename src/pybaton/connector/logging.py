"""Logging for connector runs: console or JSON lines on stderr, with secrets scrubbed.

Connectors log what they do, and what they do often involves a password or a
token (a DSN in an error, an ``Authorization`` header in a debug dump). Rather
than trusting every log call, one filter on the handler rewrites every record —
message, arguments and traceback — replacing the config's secret values and
the usual credential patterns before anything is written.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from typing import Literal

LogFormat = Literal["console", "json"]

REDACTED = "<redacted>"

LEVELS: dict[str, int] = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "error": logging.ERROR,
}

# Credentials that look the same whatever connector produced them.
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]{6,}"), rf"\1 {REDACTED}"),
    (re.compile(r"(?i)(authorization\s*[:=]\s*)[^\s,;]+(?:\s+[^\s,;]+)?"), rf"\1{REDACTED}"),
    (re.compile(r"(?i)\b((?:password|passwd|pwd|secret|api[_-]?key|access[_-]?token|client[_-]?secret|token)"
                r"[\"']?\s*[:=]\s*[\"']?)[^\s\"',;&}]+"), rf"\1{REDACTED}"),
    (re.compile(r"(://[^/\s:@]+:)[^@\s/]+@"), rf"\1{REDACTED}@"),
)

_HANDLER_MARK = "_pybaton_handler"

# Names (of headers, query parameters, env vars, config keys) whose values are credentials.
_SECRET_NAME = re.compile(r"(?i)(authorization|cookie|api[-_]?key|token|secret|password|passwd|session|"
                          r"signature|credential|x-auth|auth|key)")


def is_secret_name(name: str) -> bool:
    """Whether a value called ``name`` is a credential, to be redacted wherever it appears."""
    return bool(_SECRET_NAME.search(name))


class Redactor:
    """Replaces known secret values and credential-shaped text in strings."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Longest first, so a secret that contains another is replaced whole.
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return text


class RedactingFilter(logging.Filter):
    """Rewrites each record in place so no formatter can see the original text."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redact = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redact(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


class JSONFormatter(logging.Formatter):
    """One JSON object per line, with the keys Baton's zap logger uses."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "level": record.levelname.lower(),
            "ts": round(record.created, 6),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_text:
            out["error"] = record.exc_text
        return json.dumps(out, ensure_ascii=False)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is *now* (a Rich live display or pytest may swap it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def configure(level: str = "info", fmt: LogFormat = "console", secrets: Iterable[str] = ()) -> Redactor:
    """Install the one pybaton handler on the root logger (replacing an earlier one).

    Returns the redactor so the caller can scrub text it prints itself (errors).
    """
    redactor = Redactor(secrets)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _HANDLER_MARK, False)]:
        root.removeHandler(old)
    handler = _StderrHandler()
    setattr(handler, _HANDLER_MARK, True)
    handler.addFilter(RedactingFilter(redactor))
    handler.setFormatter(JSONFormatter() if fmt == "json" else
                         logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(LEVELS.get(level, logging.INFO))
    return redactor
