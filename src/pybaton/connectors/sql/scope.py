"""Compiling a config section by section, with every message naming the place it came from."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from pybaton.connectors.sql.config import LoadedConfig, Pagination
from pybaton.connectors.sql.expr import Compiler, Expression
from pybaton.connectors.sql.queries import SqlQuery, VarSet, VarSpec
from pybaton.errors import ConfigError
from pybaton.yamldoc import Path_, dotted


def describe(path: Path_, where: str) -> str:
    """``resource type 'user', list.map.status (app.yml:48)``: how errors point at a config value."""
    if len(path) >= 2 and path[0] in ("resource_types", "actions"):
        kind = "resource type" if path[0] == "resource_types" else "action"
        rest = dotted(path[2:])
        return f"{kind} {path[1]!r}, {rest} ({where})" if rest else f"{kind} {path[1]!r} ({where})"
    return f"{dotted(path)} ({where})"


@dataclass(frozen=True)
class Scope:
    """A position in the config; compiles the expressions and queries found below it."""

    loaded: LoadedConfig
    compiler: Compiler
    path: Path_ = ()

    def at(self, *parts: str | int) -> Scope:
        return Scope(self.loaded, self.compiler, (*self.path, *parts))

    def site(self, *parts: str | int) -> str:
        full = (*self.path, *parts)
        return describe(full, self.loaded.where(full))

    def problem(self, message: str, *parts: str | int) -> None:
        self.compiler.problems.append(f"{self.site(*parts)}: {message}")

    def expr(self, source: str, *parts: str | int, names: Iterable[str]) -> Expression | None:
        """The compiled expression, or None when the field is empty (not configured)."""
        if not source:
            return None
        return self.compiler.compile(source, self.site(*parts), names)

    def required(self, source: str, *parts: str | int, names: Iterable[str]) -> Expression:
        found = self.expr(source, *parts, names=names)
        if found is None:
            self.problem("is required", *parts)
            return self.compiler.compile("''", self.site(*parts), names)
        return found

    def query(self, text: str, *parts: str | int, pagination: Pagination | None,
              provided: Iterable[str]) -> SqlQuery:
        if not text.strip():
            self.problem("is required (an SQL query)", *parts)
        return SqlQuery.compile(text, self.site(*parts), pagination, provided, self.compiler.problems)

    def vars(self, raw: Mapping[str, str], *parts: str | int, names: Iterable[str]) -> VarSet:
        allowed = tuple(names)
        return VarSet(tuple(VarSpec(name.lower(), source, self.compiler.compile(source, self.site(*parts, name), allowed))
                            for name, source in raw.items()))

    def check(self) -> None:
        if self.compiler.problems:
            problems = self.compiler.problems
            raise ConfigError(problems[0] + "".join(f"\n  {p}" for p in problems[1:]))
