"""Connector executables registered in ``connectors.yaml``: any Baton-compatible command.

This is how pybaton reuses the catalogue of existing Baton connectors (Go
``baton-*`` binaries) and runs its own in a separate process: an entry names a
command and its environment, and pybaton talks to it only through Baton's
standard command line (``-f``, ``--sync-resources``, the one-shot provisioning
flags, the ``capabilities`` subcommand). An entry becomes a connector class
(:func:`external_class`) so that the standard runner and the CLI treat it like
any other connector; the sync and provisioning operations recognise it and
run the command instead of calling syncers.

``connectors.yaml``::

    connectors:
      - name: github
        command: [/usr/local/bin/baton-github]
        env: {BATON_TOKEN: "..."}
        # storage_engine: sqlite      # optional: Go's default v3 (Pebble) output is read directly
      - name: acme
        command: [python, -m, pybaton.connectors.demo]
        kind: pybaton                 # one of ours: may also take pybaton's credential flags
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pybaton.connector.base import Connector, ConnectorMetadata, ResourceSyncer
from pybaton.connector.capabilities import PROVISIONING_CAPABILITIES, ResourceGetter
from pybaton.connector.config import ConnectorConfig
from pybaton.connector.describe import CAPABILITY_OF
from pybaton.connector.logging import Redactor, is_secret_name
from pybaton.errors import ConfigError, ConnectorError, UserError
from pybaton.pb.c1.connector.v2 import connector_pb2

log = logging.getLogger("pybaton.external")

CONFIG_ENV = "PYBATON_CONNECTORS_CONFIG"
DEFAULT_CONFIG = "connectors.yaml"

# Env variable names whose values are scrubbed from anything we print about the command.

# Baton's capability enum name → our capability name, derived from the two existing tables.
_CAPABILITY_NAMES: dict[str, str] = {
    connector_pb2.Capability.Name(enum): name
    for proto, enum in CAPABILITY_OF
    for name, candidate in (*PROVISIONING_CAPABILITIES.items(), ("get", ResourceGetter))
    if candidate is proto
}


class ExternalEntry(BaseModel):
    """One registered connector command."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    command: list[str] = Field(min_length=1)
    env: dict[str, str] = Field(default_factory=dict)
    kind: Literal["baton", "pybaton"] = "baton"
    storage_engine: Literal["sqlite"] | None = None

    def redactor(self) -> Redactor:
        """Scrubs the values of secret-looking env entries (tokens, passwords) from messages."""
        return Redactor(v for k, v in self.env.items() if is_secret_name(k))

    def argv(self, args: Sequence[str]) -> list[str]:
        """The command with ``args``; ``--storage-engine`` comes first so every action uses it."""
        engine = ["--storage-engine", self.storage_engine] if self.storage_engine else []
        return [*self.command, *engine, *args]


def config_path(given: str | Path | None = None, env: Mapping[str, str] | None = None) -> Path:
    """``--connectors-config``, else ``$PYBATON_CONNECTORS_CONFIG``, else ``./connectors.yaml``."""
    env = os.environ if env is None else env
    return Path(given or env.get(CONFIG_ENV) or DEFAULT_CONFIG)


def load_registry(path: Path) -> dict[str, ExternalEntry]:
    """The entries of ``connectors.yaml`` by name (a missing default file means none)."""
    if not path.exists():
        return {}
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError:
        raise ConfigError(f"{path}: not valid YAML") from None
    items = raw.get("connectors") if isinstance(raw, dict) else None
    if not isinstance(items, list):
        raise ConfigError(f"{path}: expected a 'connectors:' list of entries with name and command")
    entries: dict[str, ExternalEntry] = {}
    for i, item in enumerate(items):
        try:
            entry = ExternalEntry.model_validate(item)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            raise ConfigError(f"{path}: connectors[{i}].{where}: {err['msg']}") from None
        if entry.name in entries:
            raise ConfigError(f"{path}: connector {entry.name!r} is defined twice")
        entries[entry.name] = entry
    return entries


class ExternalConnector(Connector[ConnectorConfig]):
    """A registered connector command, as a connector class; it has no syncers of its own."""

    entry: ClassVar[ExternalEntry]

    def syncers(self) -> Sequence[ResourceSyncer]:
        return ()


def external_class(entry: ExternalEntry) -> type[ExternalConnector]:
    """A connector class for ``entry`` (the runner and the CLI work with classes)."""
    meta = ConnectorMetadata(name=entry.name, display_name=entry.name,
                             description=f"external connector: {' '.join(entry.command)}")
    return type(f"External_{entry.name}", (ExternalConnector,), {"entry": entry, "metadata": meta})


def run_command(entry: ExternalEntry, args: Sequence[str], *, what: str) -> subprocess.CompletedProcess[str]:
    """Run the connector command; a failure is one line naming the command's own error."""
    argv = entry.argv(args)
    redact = entry.redactor()
    log.debug("running %s", redact(" ".join(argv)))
    try:
        proc = subprocess.run(argv, env={**os.environ, **entry.env}, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise UserError(f"connector {entry.name}: cannot run {argv[0]!r} ({exc.strerror}); "
                        "check its command in connectors.yaml") from None
    for line in proc.stderr.splitlines():
        log.debug("%s: %s", entry.name, redact(line))
    if proc.returncode != 0:
        raise ConnectorError(f"{what} failed (exit {proc.returncode}): {redact(_last_error(proc.stderr))}")
    return proc


def _last_error(stderr: str) -> str:
    """The command's own error line (``error: …``), else its last line of output."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.lower().startswith("error")]
    return (errors or lines or ["no error output"])[-1]


def capabilities(entry: ExternalEntry) -> dict[str, set[str]] | None:
    """Per resource type, what the command's ``capabilities`` subcommand reports; None if it cannot say."""
    try:
        doc: Any = json.loads(run_command(entry, ["capabilities"], what="capabilities").stdout)
    except (ConnectorError, UserError, ValueError):
        return None
    out: dict[str, set[str]] = {}
    for item in doc.get("resourceTypeCapabilities", []) if isinstance(doc, dict) else []:
        type_id = item.get("resourceType", {}).get("id", "")
        out[type_id] = {_CAPABILITY_NAMES[c] for c in item.get("capabilities", []) if c in _CAPABILITY_NAMES}
    return out or None
