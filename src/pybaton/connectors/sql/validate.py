"""``pybaton sql validate``: everything that can be checked about a config without a database.

Schema (keys, types, unknown keys with their lines), every CEL expression
compiled, every ``?<token>`` defined, pagination consistent, and the
``connect`` section naming a supported engine. The environment variables the
DSN needs are listed but not required: validation runs anywhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from pybaton.connectors.sql import backends, config
from pybaton.connectors.sql.compiled import CompiledConfig, TypeSpec, compile_config
from pybaton.errors import ConfigError
from pybaton.yamldoc import load_file

_ENV_REF = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


@dataclass
class Report:
    """What validation found: the warnings, and a summary of what the config defines."""

    warnings: list[str] = field(default_factory=list)
    summary: list[str] = field(default_factory=list)
    env: list[str] = field(default_factory=list)


def _engine_of(connect: config.Connect) -> str:
    scheme = connect.scheme or urlsplit(connect.dsn).scheme
    if not scheme:
        raise ConfigError("connect: set dsn, or scheme with host/port/database/user/password")
    if "${" in scheme:
        return "(from the environment)"
    return backends._engine(scheme)


def _describe(spec: TypeSpec) -> str:
    parts = []
    if spec.list_query is not None:
        strategy = spec.list_query.pagination.strategy if spec.list_query.paginated and spec.list_query.pagination \
            else "one page"
        parts.append(f"list ({strategy})")
    ents = spec.entitlements
    if ents is not None and (ents.static or ents.dynamic):
        parts.append(f"{len(ents.static)} static + {len(ents.dynamic)} query entitlement mapping(s)")
    if spec.grants:
        parts.append(f"{len(spec.grants)} grants query(ies)")
    writes = [name for name, w in spec.writes.items() if w.grant or w.revoke]
    if writes:
        parts.append(f"grant/revoke of {', '.join(writes)}")
    if spec.accounts is not None:
        parts.append("account creation")
    if spec.rotation is not None:
        parts.append("credential rotation")
    return f"{spec.type_id}: " + ("; ".join(parts) or "nothing configured")


def summarize(compiled: CompiledConfig) -> list[str]:
    lines = [_describe(spec) for spec in compiled.types.values()]
    lines += [f"action {key}: {len(spec.statements.queries)} statement(s)" for key, spec in compiled.actions.items()]
    return lines


def check(path: str | Path, *, strict: bool = False) -> Report:
    """Validate the file at ``path``; raises :class:`ConfigError` listing every error found."""
    loaded = config.from_document(load_file(path), strict=strict)
    compiled = compile_config(loaded)
    connect = loaded.config.connect
    engine = _engine_of(connect)
    values = [connect.dsn, connect.scheme, connect.host, connect.port, connect.database, connect.user,
              connect.password, *connect.params.values()]
    env = sorted({name for value in values for name in _ENV_REF.findall(value)})
    summary = [f"connects to {engine}", *summarize(compiled)]
    return Report([str(issue) for issue in loaded.issues], summary, env)
