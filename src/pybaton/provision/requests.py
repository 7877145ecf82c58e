"""What an operator asks provisioning to do, and what came of it.

A request holds the operator's input exactly as given (strings), so that a
refusal can be audited with the target the operator named even when that
target is malformed; parsing and lookup happen later, in :mod:`.plan`.

Outcomes are the words the operator reads (``granted``, ``already exists`` …).
One table maps each operation's outcomes to those words, both for printing and
for reading the result line back from a connector run as a subprocess, so the
two can never drift apart.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pybaton.errors import UsageError


class Op(StrEnum):
    """The five writes, named as the CLI commands are."""

    GRANT = "grant"
    REVOKE = "revoke"
    CREATE_ACCOUNT = "create-account"
    DELETE_RESOURCE = "delete-resource"
    ROTATE_CREDENTIALS = "rotate-credentials"


class Outcome(StrEnum):
    """How a write ended; ``ALREADY`` is Baton's GrantAlreadyExists / GrantAlreadyRevoked (a no-op)."""

    DONE = "done"
    ALREADY = "already"
    ACTION_REQUIRED = "action_required"
    IN_PROGRESS = "in_progress"


_PHRASES: dict[tuple[Op, Outcome], str] = {
    (Op.GRANT, Outcome.DONE): "granted",
    (Op.GRANT, Outcome.ALREADY): "already exists",
    (Op.REVOKE, Outcome.DONE): "revoked",
    (Op.REVOKE, Outcome.ALREADY): "already revoked",
    (Op.CREATE_ACCOUNT, Outcome.DONE): "created",
    (Op.CREATE_ACCOUNT, Outcome.ALREADY): "already exists",
    (Op.CREATE_ACCOUNT, Outcome.ACTION_REQUIRED): "action required",
    (Op.CREATE_ACCOUNT, Outcome.IN_PROGRESS): "in progress",
    (Op.DELETE_RESOURCE, Outcome.DONE): "deleted",
    (Op.DELETE_RESOURCE, Outcome.ALREADY): "already deleted",
    (Op.ROTATE_CREDENTIALS, Outcome.DONE): "rotated",
}


def phrase(op: Op, outcome: Outcome) -> str:
    """The operator's word for ``outcome`` of ``op`` (also the audit ``result``, with underscores)."""
    return _PHRASES.get((op, outcome), outcome.value.replace("_", " "))


def result_code(op: Op, outcome: Outcome) -> str:
    """The audit log's ``result`` value: ``granted``, ``already_exists``, ``already_revoked`` …"""
    return phrase(op, outcome).replace(" ", "_")


def result_line(op: Op, target: str, outcome: Outcome) -> str:
    """The one line that reports a write, e.g. ``grant group:eng:member to user:ada: already exists``."""
    return f"{op.value} {target}: {phrase(op, outcome)}"


def parse_result(op: Op, text: str) -> Outcome | None:
    """Read the outcome back from a connector subprocess's output (the last result line of ``op``)."""
    by_phrase = {p: o for (o_op, o), p in _PHRASES.items() if o_op is op}
    pattern = re.compile(rf"^{re.escape(op.value)} .*: ({'|'.join(map(re.escape, by_phrase))})$", re.M)
    found = pattern.findall(text)
    return by_phrase[found[-1]] if found else None


@dataclass(frozen=True)
class Request:
    """One write as the operator asked for it; ``params`` are the raw strings given."""

    op: Op
    params: Mapping[str, str] = field(default_factory=dict)

    def get(self, name: str) -> str:
        return self.params.get(name, "")

    def target(self) -> dict[str, str]:
        """What the audit log records as the target: the given ids, never a profile's values."""
        out = {k: v for k, v in self.params.items() if v and k != "profile"}
        if self.get("profile"):
            try:
                out["profile_fields"] = ",".join(sorted(profile_of(self)))
            except UsageError:
                out["profile_fields"] = "<not a JSON object>"
        return out


def profile_of(request: Request) -> dict[str, Any]:
    """The ``--profile`` JSON object of a create-account request (``{}`` when not given)."""
    raw = request.get("profile")
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise UsageError(f"--create-account-profile is not valid JSON ({exc.msg} at position {exc.pos})") from None
    if not isinstance(value, dict):
        raise UsageError("--create-account-profile must be a JSON object, e.g. '{\"department\": \"sales\"}'")
    return value
