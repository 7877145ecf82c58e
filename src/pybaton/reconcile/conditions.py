"""Policy conditions: CEL expressions over a person's identity attributes.

``department == "Engineering"``, ``"admins" in groups``, ``!enabled``: the same
CEL library the SQL and HTTP meta-connectors use, behind a wrapper that
compiles once (a syntax error names the policy file and line), gives every
attribute a condition mentions a value (``null`` when the person lacks it, so
``department == "Sales"`` is simply false for someone without a department)
and insists on a boolean result.

Evaluation is three-valued on purpose: ``None`` means the condition could not
be evaluated for this person (a type error, a method on a missing value). The
planner then does nothing for that person and reports it: a broken condition
must never read as "not allowed" and revoke someone's access.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import cel

from pybaton.errors import ConfigError


def _cel_value(value: Any) -> Any:
    """Profile numbers arrive as floats (protobuf ``Struct``): ``1000.0`` is the integer 1000 to CEL."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {str(k): _cel_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_cel_value(v) for v in value]
    return value


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:300] if lines else type(exc).__name__


@dataclass(frozen=True)
class Condition:
    """A compiled condition; ``site`` (file:line: key) is where it is written, for messages."""

    source: str
    site: str
    program: Any
    variables: tuple[str, ...]

    def evaluate(self, attributes: Mapping[str, Any]) -> tuple[bool | None, str]:
        """``(True|False, "")``, or ``(None, why)`` when it cannot be evaluated for these attributes."""
        activation = {name: _cel_value(attributes.get(name)) for name in self.variables}
        try:
            result = self.program.execute(activation)
        except (RuntimeError, ValueError, TypeError, KeyError, OverflowError) as exc:
            unset = [name for name, value in activation.items() if value is None]
            hint = f" ({', '.join(unset)}: not set for this person)" if unset else ""
            return None, f"{self.site}: {self.source!r}: {_first_line(exc)}{hint}"
        if not isinstance(result, bool):
            return None, f"{self.site}: {self.source!r} gave {result!r}, not true or false"
        return result, ""


def compile_condition(source: str, site: str) -> Condition:
    """Compile ``source``; a syntax error is a one-line :class:`ConfigError` at ``site``."""
    try:
        program = cel.compile(source)
    except (ValueError, RuntimeError) as exc:
        detail = next((ln.strip() for ln in str(exc).splitlines() if "ERROR" in ln), _first_line(exc))
        raise ConfigError(f"{site}: {source!r} is not a valid CEL expression: {detail}") from None
    return Condition(source, site, program, tuple(program.variables()))

