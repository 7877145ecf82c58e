"""YAML files read into pydantic models, with errors that name the file, the line and the key.

The workspace and the policy files are reviewed like code; a mistake in one
must point at the line to fix (``pybaton.yaml:14: systems.pg.config.dsn: …``),
in one line, and never echo the value (it may be a secret pasted by mistake).
The line map comes from the same reader the YAML meta-connectors use.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from pybaton.errors import ConfigError
from pybaton.yamldoc import Path_, YamlDocument, dotted, load_file

M = TypeVar("M", bound=BaseModel)


def where(doc: YamlDocument, path: Path_) -> str:
    """``pybaton.yaml:14: systems.pg.config`` (the file alone for the top level)."""
    key = dotted(path)
    return f"{doc.where(path)}: {key}" if key else doc.where(path)


def error_at(doc: YamlDocument, path: Path_, message: str) -> ConfigError:
    return ConfigError(f"{where(doc, path)}: {message}")


def load_model(path: Path, model: type[M]) -> tuple[M, YamlDocument]:
    """Parse ``path`` into ``model``; the first problem becomes a one-line :class:`ConfigError`."""
    doc = load_file(path)
    if doc.duplicates:
        key, line = doc.duplicates[0]
        raise ConfigError(f"{doc.source}:{line}: {dotted(key)}: written twice")
    try:
        return model.model_validate(doc.data if doc.data is not None else {}), doc
    except ValidationError as exc:
        err = exc.errors()[0]
        loc: Path_ = tuple(p if isinstance(p, (str, int)) else str(p) for p in err["loc"])
        raise error_at(doc, loc, str(err["msg"]).removeprefix("Value error, ")) from None
