"""Reading a baton-sql YAML file while remembering where every key was written.

Warnings and errors about a config are only useful when they point at the line
to fix ("app.yml:42: unknown key employee_id"), so the file is parsed twice
from the same text: once into plain Python values, once into PyYAML's node
tree, from which a map of *key path* → line number is built.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import yaml

from pybaton.errors import ConfigError

Path_ = tuple[str | int, ...]

_ENV_REF = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


@dataclass
class YamlDocument:
    """The parsed data, the file it came from and the line of every key path."""

    data: Any
    source: str
    lines: dict[Path_, int] = field(default_factory=dict)
    duplicates: list[tuple[Path_, int]] = field(default_factory=list)

    def line(self, path: Path_) -> int | None:
        """The line of ``path``, or of its nearest ancestor that has one."""
        for end in range(len(path), 0, -1):
            found = self.lines.get(tuple(path[:end]))
            if found is not None:
                return found
        return None

    def where(self, path: Path_) -> str:
        line = self.line(path)
        return f"{self.source}:{line}" if line is not None else self.source


def dotted(path: Path_) -> str:
    """``("resource_types", "user", "list", "map")`` → ``resource_types.user.list.map``; indexes as ``[0]``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _record(node: yaml.Node, path: Path_, doc: YamlDocument) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            child = (*path, key)
            if key in seen:
                doc.duplicates.append((child, key_node.start_mark.line + 1))
            seen.add(key)
            doc.lines.setdefault(child, key_node.start_mark.line + 1)
            _record(value_node, child, doc)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            child = (*path, index)
            doc.lines.setdefault(child, item.start_mark.line + 1)
            _record(item, child, doc)


def parse_text(text: str, source: str = "<config>") -> YamlDocument:
    """Parse YAML text; a syntax error becomes a one-line :class:`ConfigError` with its line."""
    try:
        data = yaml.safe_load(text)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{where}: not valid YAML: {problem}") from None
    doc = YamlDocument(data, source)
    if node is not None:
        _record(node, (), doc)
    return doc


def load_file(path: str | Path) -> YamlDocument:
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{file}: no such file") from None
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read: {exc.strerror}") from None
    return parse_text(text, str(file))


def expand_env(value: str, what: str, env: Mapping[str, str] | None = None) -> str:
    """Replace each ``${NAME}`` with the environment variable, as baton-sql does for ``connect``.

    An unset variable is an error naming it: connecting with a literal
    ``${DB_HOST}`` as host name only produces a confusing DNS error later.
    """
    env = os.environ if env is None else env
    missing: list[str] = []

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in env:
            missing.append(name)
            return match.group(0)
        return env[name]

    expanded = _ENV_REF.sub(replace, value)
    if missing:
        raise ConfigError(f"{what}: environment variable(s) {', '.join(sorted(set(missing)))} not set")
    return expanded


C = TypeVar("C")


@dataclass
class LoadedConfig(Generic[C]):
    """A validated config, the document it came from (for line numbers) and its findings (warnings)."""

    config: C
    doc: YamlDocument
    issues: list[Any]

    def where(self, path: Path_) -> str:
        return self.doc.where(path)
