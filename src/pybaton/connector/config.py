"""Connector configuration: declared once, read from flags, ``BATON_*`` env vars and ``.baton.yaml``.

A connector's config is a pydantic model. Each field becomes a flag
(``--field-name``), an environment variable (``BATON_FIELD_NAME``) and a
``.baton.yaml`` key (``field-name`` or ``field_name``), with that precedence:
flag, then env, then file, then the default. Fields typed ``SecretStr`` (or marked
``secret=True`` in ``json_schema_extra``) are never echoed: ``repr``, errors and
the ``config`` command show them redacted.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, get_args, get_origin

import yaml
from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from pybaton.errors import ConfigError

ENV_PREFIX = "BATON_"
CONFIG_FILE = ".baton.yaml"

T = TypeVar("T", bound="ConnectorConfig")


class ConnectorConfig(BaseModel):
    """Base of every connector's config model (no fields by default)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class FieldSpec:
    """How one config field appears on the command line and in the environment."""

    name: str
    flag: str
    env: str
    annotation: Any
    required: bool
    default: Any
    secret: bool
    description: str
    is_bool: bool
    is_list: bool


def flag_name(name: str) -> str:
    return "--" + name.replace("_", "-")


def env_name(name: str) -> str:
    return ENV_PREFIX + name.upper().replace("-", "_")


def _is_secret(annotation: Any, extra: Any) -> bool:
    if isinstance(extra, dict) and extra.get("secret"):
        return True
    if annotation is SecretStr:
        return True
    return any(arg is SecretStr for arg in get_args(annotation))


def _is_list(annotation: Any) -> bool:
    origin = get_origin(annotation)
    if origin in (list, tuple, set, frozenset):
        return True
    return any(get_origin(a) in (list, tuple, set) for a in get_args(annotation))


def field_specs(config_class: type[ConnectorConfig]) -> list[FieldSpec]:
    specs = []
    for name, info in config_class.model_fields.items():
        annotation = info.annotation
        is_bool = annotation is bool or (get_args(annotation) and bool in get_args(annotation)
                                         and type(None) in get_args(annotation) and len(get_args(annotation)) == 2)
        specs.append(FieldSpec(
            name=name, flag=flag_name(name), env=env_name(name), annotation=annotation,
            required=info.is_required(), default=None if info.is_required() else info.get_default(call_default_factory=True),
            secret=_is_secret(annotation, info.json_schema_extra), description=info.description or "",
            is_bool=bool(is_bool), is_list=_is_list(annotation),
        ))
    return specs


def read_config_file(path: Path | None) -> dict[str, Any]:
    """Load ``.baton.yaml`` (keys may use dashes or underscores); missing file → empty."""
    if path is None:
        candidate = Path(CONFIG_FILE)
        if not candidate.exists():
            return {}
        path = candidate
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file {path} not found") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}{where}: not valid YAML") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level")
    return {str(k).replace("-", "_"): v for k, v in raw.items()}


def _coerce_env(spec: FieldSpec, raw: str) -> Any:
    if spec.is_list:
        return [part.strip() for part in raw.split(",") if part.strip()]
    if spec.is_bool:
        return raw.strip().lower() in ("1", "true", "yes", "on")
    return raw


def gather(specs: list[FieldSpec], flags: Mapping[str, Any], env: Mapping[str, str],
           file_values: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Merge the sources by precedence; return values and where each came from."""
    values: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for spec in specs:
        if flags.get(spec.name) is not None:
            values[spec.name], origin[spec.name] = flags[spec.name], spec.flag
        elif spec.env in env:
            values[spec.name], origin[spec.name] = _coerce_env(spec, env[spec.env]), spec.env
        elif spec.name in file_values:
            values[spec.name], origin[spec.name] = file_values[spec.name], CONFIG_FILE
    return values, origin


def load_config(config_class: type[T], flags: Mapping[str, Any] | None = None, *,
                env: Mapping[str, str] | None = None, config_file: Path | None = None,
                file_values: Mapping[str, Any] | None = None) -> T:
    """Build and validate ``config_class`` from flags, env and file; one-line errors."""
    specs = field_specs(config_class)
    if file_values is None:
        file_values = read_config_file(config_file)
    known = {s.name for s in specs}
    values, origin = gather(specs, flags or {}, os.environ if env is None else env,
                            {k: v for k, v in file_values.items() if k in known})
    try:
        return config_class.model_validate(values)
    except ValidationError as exc:
        raise _config_error(exc, specs, origin) from None


def _config_error(exc: ValidationError, specs: list[FieldSpec], origin: Mapping[str, str]) -> ConfigError:
    by_name = {s.name: s for s in specs}
    err = exc.errors()[0]
    loc = str(err["loc"][0]) if err.get("loc") else ""
    spec = by_name.get(loc)
    if spec is None:
        return ConfigError(err.get("msg", "invalid value"), field=loc or None)
    if err.get("type") == "missing":
        return ConfigError(f"required; set {spec.flag} or {spec.env}", field=spec.name)
    where = f" (from {origin[spec.name]})" if spec.name in origin else ""
    shown = "" if spec.secret else f": got {err.get('input')!r}"
    msg = str(err.get("msg", "invalid value"))
    return ConfigError(f"{msg}{shown}{where}", field=spec.name)


def redacted(config: ConnectorConfig) -> dict[str, Any]:
    """The config as a dict with every secret replaced, for display."""
    specs = {s.name: s for s in field_specs(type(config))}
    out: dict[str, Any] = {}
    for name, value in config.model_dump().items():
        if specs.get(name) and specs[name].secret:
            out[name] = "<redacted>" if value not in (None, "") else value
        else:
            out[name] = value
    return out


def secret_values(config: ConnectorConfig) -> list[str]:
    """Plain values of every secret field (for log redaction)."""
    out = []
    for spec in field_specs(type(config)):
        value = getattr(config, spec.name, None)
        if not spec.secret or value is None:
            continue
        text = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
        if text:
            out.append(text)
    return out
