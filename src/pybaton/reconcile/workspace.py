"""The workspace file (``pybaton.yaml``): the systems to keep in order, and where their syncs live.

Each system is a built-in connector with its settings, or a connector command
(any Baton-compatible executable, as in ``connectors.yaml``); one or more are
identity providers, whose people are the identities everything else is
compared with. The file is meant to be committed and reviewed, so secrets are
never written in it: a connector's secret settings come from the environment,
either as ``<setting>_env: VARIABLE`` or through ``${VARIABLE}`` inside the
value, and a literal secret is refused with the line it is on. Relative paths
(``data_dir``, a connector's directory settings) are relative to the file.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from pybaton.connector.base import Connector
from pybaton.connector.config import ConnectorConfig, FieldSpec, field_specs
from pybaton.connector.external import ExternalEntry, external_class
from pybaton.connector.logging import Redactor, is_secret_name
from pybaton.connectors import load_builtin
from pybaton.errors import ConfigError, UserError
from pybaton.identity import CorrelationSettings
from pybaton.provision.audit import default_audit_path
from pybaton.reconcile.yamlmodel import error_at, load_model, where
from pybaton.warehouse.settings import WarehouseSettings
from pybaton.yamldoc import Path_, YamlDocument, expand_env

DEFAULT_FILE = "pybaton.yaml"
ENV_VAR = "PYBATON_WORKSPACE"
LOCK_NAME = ".pybaton.lock"

SystemName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
_ENV_REF = re.compile(r"\$\{[A-Za-z0-9_]+\}")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Brake(_Section):
    """The accidental-deletion brake: a plan removing more than this from one system is refused."""

    max_revocations: int = Field(default=10, ge=0, description="revocations, disables and deletions per system")
    max_percent: float = Field(default=5.0, ge=0, le=100, description="… as a share of the system's grants")


class DisableMethod(_Section):
    """How to disable an account in a system that has no "disabled" switch of its own."""

    revoke: str = Field(description="the entitlement whose grant to the account, revoked, disables it "
                                    "(PostgreSQL: cluster:cluster:login)")


class SystemSpec(_Section):
    connector: str | None = Field(default=None, description="a built-in connector (pybaton connectors)")
    config: dict[str, Any] = Field(default_factory=dict, description="the connector's settings")
    command: list[str] | None = Field(default=None, min_length=1, description="a connector executable and its arguments")
    env: dict[str, str] = Field(default_factory=dict, description="environment of the command")
    kind: Literal["baton", "pybaton"] = "baton"
    storage_engine: Literal["sqlite"] | None = None
    identity_provider: bool = False
    read_only: bool = Field(default=False, description="plan for it, but never write to it")
    incremental: bool = Field(default=False, description="sync only what changed since the last full sync "
                                                         "(docs/incremental.md)")
    attributes: dict[str, str] = Field(default_factory=dict, description="identity attribute → profile key "
                                                                         "(identity providers)")
    protected: list[str] = Field(default_factory=list, description="entitlement ids (glob patterns) never revoked")
    disable: DisableMethod | None = None
    brake: Brake | None = None
    account_profile: dict[str, str] = Field(default_factory=dict, description="profile of accounts created "
                                                                              "for people: field → template")

    @model_validator(mode="after")
    def _one_kind(self) -> SystemSpec:
        if (self.connector is None) == (self.command is None):
            raise ValueError("give either connector (a built-in) or command (a connector executable)")
        if self.command is None and (self.env or self.storage_engine):
            raise ValueError("env and storage_engine are for a command; a built-in connector takes config")
        if self.command is not None and self.config:
            raise ValueError("config is for a built-in connector; a command takes its settings in env")
        return self


class CredentialSettings(_Section):
    """Passwords of accounts created for people: none, or encrypted to the operator's key."""

    recipient: str | None = Field(default=None, description="age (age1…) or SSH public key to encrypt generated "
                                                     "passwords to; without it accounts get no password")
    dir: str = Field(default="credentials", description="where the encrypted files go (under data_dir)")
    length: int = Field(default=20, ge=8, le=256)


class WorkspaceSpec(_Section):
    version: Literal[1] = 1
    data_dir: str = "data"
    keep_syncs: int = Field(default=2, ge=2, description="full syncs kept per system (two or more, for diff)")
    provisioning: bool = Field(default=False, description="allow apply/reconcile to write (else -p is needed)")
    policies: list[str] = Field(default_factory=list)
    identity: CorrelationSettings = CorrelationSettings()  # frozen: one shared default is safe
    brake: Brake = Brake()
    credentials: CredentialSettings = CredentialSettings()
    systems: dict[SystemName, SystemSpec] = Field(min_length=1)
    warehouse: WarehouseSettings | None = Field(default=None, description="keep every sync in the access "
                                                                          "warehouse (docs/warehouse.md)")
    fleet: dict[str, Any] | None = Field(default=None, description="syncs spread over Celery workers "
                                                                   "(docs/fleet.md; read by pybaton.fleet)")

    @model_validator(mode="after")
    def _has_idp(self) -> WorkspaceSpec:
        if not any(s.identity_provider for s in self.systems.values()):
            raise ValueError("mark at least one system with identity_provider: true")
        return self


def _is_path(spec: FieldSpec) -> bool:
    return spec.annotation is Path or Path in get_args(spec.annotation)


@dataclass
class Workspace:
    """A loaded workspace: the spec, where it came from, and the secrets resolved so far."""

    path: Path
    spec: WorkspaceSpec
    doc: YamlDocument
    _secrets: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def root(self) -> Path:
        return self.path.parent

    @property
    def data_dir(self) -> Path:
        return (self.root / self.spec.data_dir).resolve()

    @property
    def systems(self) -> Mapping[str, SystemSpec]:
        return self.spec.systems

    def system(self, name: str) -> SystemSpec:
        found = self.spec.systems.get(name)
        if found is None:
            raise UserError(f"no system {name!r} in {self.path} (it has {', '.join(self.spec.systems)})")
        return found

    def identity_providers(self) -> list[str]:
        return [name for name, spec in self.systems.items() if spec.identity_provider]

    def c1z(self, name: str) -> Path:
        return self.data_dir / f"{name}.c1z"

    def audit_log(self, name: str) -> Path:
        return default_audit_path(self.c1z(name))

    def policy_paths(self) -> list[Path]:
        return [self.root / p for p in self.spec.policies]

    def brake(self, name: str, policy_brake: Brake | None = None) -> Brake:
        """The system's own brake, else the policy's, else the workspace's."""
        return self.system(name).brake or policy_brake or self.spec.brake

    def redactor(self) -> Redactor:
        """Scrubs every secret resolved so far (connector settings, command env) from text."""
        with self._lock:
            return Redactor(self._secrets)

    def resolve_secrets(self) -> list[str]:
        """Resolve every system's settings now; the secret values found (for log redaction)."""
        for name, spec in self.systems.items():
            if spec.command is not None:
                self.external_entry(name)
            else:
                assert spec.connector is not None
                self._config(name, load_builtin(spec.connector).config_class)
        with self._lock:
            return sorted(self._secrets)

    # -- connectors --------------------------------------------------------------------------------

    def connector(self, name: str) -> Connector[Any]:
        """A connector object for ``name``, its settings resolved from the file and the environment."""
        spec = self.system(name)
        if spec.command is not None:
            cls = external_class(self.external_entry(name))
            return cls(ConnectorConfig())
        assert spec.connector is not None
        try:
            connector_class = load_builtin(spec.connector)
        except UserError as exc:
            raise error_at(self.doc, ("systems", name, "connector"), str(exc)) from None
        return connector_class(self._config(name, connector_class.config_class))

    def external_entry(self, name: str) -> ExternalEntry:
        spec = self.system(name)
        assert spec.command is not None
        env = {key: self._text(value, ("systems", name, "env", key), secret=is_secret_name(key))
               for key, value in spec.env.items()}
        return ExternalEntry(name=name, command=spec.command, env=env, kind=spec.kind,
                             storage_engine=spec.storage_engine)

    def _config(self, name: str, config_class: type[ConnectorConfig]) -> ConnectorConfig:
        base: Path_ = ("systems", name, "config")
        specs = {s.name: s for s in field_specs(config_class)}
        values: dict[str, Any] = {}
        written: dict[str, str] = {}
        for raw_key, raw in self.system(name).config.items():
            key, at = raw_key.replace("-", "_"), (*base, raw_key)
            if key.endswith("_env") and key[:-4] in specs:
                key = key[:-4]
                values[key] = self._env(raw, at)
            else:
                values[key] = self._value(raw, at, specs.get(key))
            written[key] = raw_key
        try:
            return config_class.model_validate(values)
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = str(err["loc"][0]) if err["loc"] else ""
            at = (*base, written.get(loc, loc)) if loc else base
            raise error_at(self.doc, at, str(err["msg"])) from None

    def _value(self, raw: Any, at: Path_, spec: FieldSpec | None) -> Any:
        if isinstance(raw, str):
            text = self._text(raw, at, secret=spec is not None and spec.secret)
            if spec is not None and _is_path(spec) and not Path(text).expanduser().is_absolute():
                return str(self.root / text)
            return text
        if spec is not None and spec.secret and raw is not None:
            raise self._literal_secret(at)
        return raw

    def _text(self, raw: str, at: Path_, *, secret: bool) -> str:
        """A string setting with ``${VAR}`` expanded; a secret one must come from the environment."""
        if secret and not _ENV_REF.search(raw):
            raise self._literal_secret(at)
        value = expand_env(raw, where(self.doc, at))
        if secret:  # the whole value and each variable in it (a password inside a DSN)
            parts = [os.environ.get(ref[2:-1], "") for ref in _ENV_REF.findall(raw)]
            with self._lock:
                self._secrets.update(p for p in (value, *parts) if p)
        return value

    def _env(self, variable: Any, at: Path_) -> str:
        if not isinstance(variable, str) or not variable:
            raise error_at(self.doc, at, "must name an environment variable")
        value = os.environ.get(variable)
        if value is None:
            raise error_at(self.doc, at, f"environment variable {variable} is not set")
        with self._lock:
            self._secrets.add(value)
        return value

    def _literal_secret(self, at: Path_) -> ConfigError:
        key = str(at[-1])
        return error_at(self.doc, at, f"secrets are never written in the workspace file; use "
                                      f"{key.replace('-', '_')}_env: VARIABLE, or ${{VARIABLE}} in the value")


def find_workspace(given: str | Path | None = None) -> Path:
    """``-w PATH``, else ``$PYBATON_WORKSPACE``, else ``./pybaton.yaml``."""
    path = Path(given or os.environ.get(ENV_VAR) or DEFAULT_FILE)
    if not path.exists():
        raise UserError(f"{path}: no such workspace file (give -w PATH or set {ENV_VAR}; "
                        "docs/reconcile.md shows how to write one)")
    return path


def load_workspace(path: str | Path | None = None) -> Workspace:
    """Read and validate the workspace file; literal secrets are refused here, before any connector runs."""
    file = find_workspace(path).resolve()
    spec, doc = load_model(file, WorkspaceSpec)
    workspace = Workspace(file, spec, doc)
    for name, system in spec.systems.items():
        _refuse_literal_secrets(workspace, name, system)
    return workspace


def _refuse_literal_secrets(ws: Workspace, name: str, system: SystemSpec) -> None:
    """Check every secret setting without resolving anything (the environment may not be set yet)."""
    for key, value in system.env.items():
        if is_secret_name(key) and not _ENV_REF.search(value):
            raise ws._literal_secret(("systems", name, "env", key))
    if system.connector is None:
        return
    try:
        specs = {s.name: s for s in field_specs(load_builtin(system.connector).config_class)}
    except UserError as exc:
        raise error_at(ws.doc, ("systems", name, "connector"), str(exc)) from None
    for raw_key, value in system.config.items():
        spec = specs.get(raw_key.replace("-", "_"))
        literal = value is not None and not (isinstance(value, str) and _ENV_REF.search(value))
        if spec is not None and spec.secret and literal:
            raise ws._literal_secret(("systems", name, "config", raw_key))


@contextlib.contextmanager
def workspace_lock(ws: Workspace, what: str) -> Iterator[None]:
    """One writer per workspace: syncs, applies and the reconcile loop take this lock (never blocking)."""
    ws.data_dir.mkdir(parents=True, exist_ok=True)
    path = ws.data_dir / LOCK_NAME
    with path.open("a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another pybaton process"
            raise UserError(f"workspace {ws.path} is busy: {holder} holds {path}; "
                            f"one sync, apply or reconcile at a time") from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"{what} (pid {os.getpid()})\n")
        fh.flush()
        try:
            yield
        finally:
            fh.seek(0)
            fh.truncate()
