"""Policy files: the access that *should* exist, as YAML reviewed like code.

Five kinds of rule, each with a name unique across the workspace's policy
files (plans and logs cite rules as ``birthright/engineering-db``):

- ``birthright``: people matching ``when`` hold ``entitlement`` in ``system``;
  with ``create_account`` their account is created first when missing;
- ``exclusive``: only people matching ``allow`` (or listed) may hold it;
- ``leavers``: people matching ``when`` (default: not enabled in the IdP) lose
  every grant in ``systems``, and their accounts are kept, disabled or deleted;
- ``orphans``: accounts that belong to nobody are reported, or deleted once
  they have been orphans for ``grace``;
- ``toxic``: two entitlements nobody may hold together; reported, and only
  fixed when ``drop`` says which side goes.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from pybaton.errors import ConfigError
from pybaton.reconcile.conditions import Condition, compile_condition
from pybaton.reconcile.workspace import Brake, Workspace
from pybaton.reconcile.yamlmodel import error_at, load_model, where
from pybaton.yamldoc import Path_, YamlDocument

RuleName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,80}$")]

_DURATION = re.compile(r"(\d+)([smhdw])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> dt.timedelta:
    """``90s``, ``10m``, ``12h``, ``7d``, ``1w``, or combined (``1d12h``); ``0`` is none."""
    text = text.strip()
    if text == "0":
        return dt.timedelta(0)
    if not text or _DURATION.sub("", text):
        raise ValueError(f"{text!r} is not a duration such as 90s, 10m, 12h, 7d or 1d12h")
    return dt.timedelta(seconds=sum(int(n) * _UNITS[u] for n, u in _DURATION.findall(text)))


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: RuleName
    description: str = ""


class EntitlementRef(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    system: str
    entitlement: str


class BirthrightRule(_Rule):
    when: str = Field(default="true", description="CEL over the person's attributes")
    system: str
    entitlement: str
    create_account: bool = Field(default=False, description="create the account first when the person has none")


class ExclusiveRule(_Rule):
    system: str
    entitlement: str
    allow: str | None = Field(default=None, description="CEL: who may hold it")
    identities: list[str] = Field(default_factory=list, description="people who may hold it (login, email or id)")
    accounts: list[str] = Field(default_factory=list, description="accounts that may hold it (TYPE:ID), e.g. "
                                                                  "service accounts")

    @model_validator(mode="after")
    def _someone(self) -> ExclusiveRule:
        if self.allow is None and not self.identities and not self.accounts:
            raise ValueError("say who may hold it: allow, identities or accounts (allow: 'false' for nobody)")
        return self


class LeaverRule(_Rule):
    when: str = Field(default="!enabled", description="CEL: who is a leaver (default: disabled in the IdP)")
    systems: list[str] = Field(default_factory=list, description="default: every system but the IdPs")
    account: Literal["keep", "disable", "delete"] = "keep"


class OrphanRule(_Rule):
    systems: list[str] = Field(default_factory=list, description="default: every system but the IdPs")
    action: Literal["report", "delete"] = "report"
    grace: str = Field(default="7d", description="how long an account must have been an orphan before it is deleted")

    @field_validator("grace")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value

    @property
    def grace_period(self) -> dt.timedelta:
        return parse_duration(self.grace)


class ToxicRule(_Rule):
    a: EntitlementRef
    b: EntitlementRef
    drop: Literal["a", "b"] | None = Field(default=None, description="which side to revoke (default: report only)")


class PolicySpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1] = 1
    brake: Brake | None = None
    birthright: list[BirthrightRule] = Field(default_factory=list)
    exclusive: list[ExclusiveRule] = Field(default_factory=list)
    leavers: list[LeaverRule] = Field(default_factory=list)
    orphans: list[OrphanRule] = Field(default_factory=list)
    toxic: list[ToxicRule] = Field(default_factory=list)


@dataclass
class Policy:
    """Every rule of the workspace's policy files, conditions compiled, systems checked."""

    birthright: list[BirthrightRule] = field(default_factory=list)
    exclusive: list[ExclusiveRule] = field(default_factory=list)
    leavers: list[LeaverRule] = field(default_factory=list)
    orphans: list[OrphanRule] = field(default_factory=list)
    toxic: list[ToxicRule] = field(default_factory=list)
    brake: Brake | None = None
    files: list[Path] = field(default_factory=list)
    _conditions: dict[tuple[str, str], Condition] = field(default_factory=dict)
    _sites: dict[str, str] = field(default_factory=dict)

    def condition(self, rule_id: str, key: str) -> Condition | None:
        return self._conditions.get((rule_id, key))

    def rule_ids(self) -> list[str]:
        return list(self._sites)


def rule_id(kind: str, name: str) -> str:
    return f"{kind}/{name}"


_KINDS = ("birthright", "exclusive", "leavers", "orphans", "toxic")
_CONDITIONS = {"birthright": ("when",), "exclusive": ("allow",), "leavers": ("when",)}


def _systems_of(rule: BaseModel) -> Iterator[tuple[Path_, str]]:
    """Every system a rule names, with its key path inside the rule."""
    value = getattr(rule, "system", None)
    if isinstance(value, str):
        yield ("system",), value
    for i, name in enumerate(getattr(rule, "systems", ())):
        yield ("systems", i), name
    for side in ("a", "b"):
        ref = getattr(rule, side, None)
        if isinstance(ref, EntitlementRef):
            yield (side, "system"), ref.system


def _add_file(policy: Policy, spec: PolicySpec, doc: YamlDocument, ws: Workspace) -> None:
    for kind in _KINDS:
        for i, rule in enumerate(getattr(spec, kind)):
            at: Path_ = (kind, i)
            rid = rule_id(kind, rule.name)
            if rid in policy._sites:
                raise error_at(doc, (*at, "name"), f"{rid} is also defined at {policy._sites[rid]}")
            policy._sites[rid] = where(doc, at)
            for sub, system in _systems_of(rule):
                if system not in ws.systems:
                    raise error_at(doc, (*at, *sub), f"no system {system!r} in {ws.path.name} "
                                                     f"(it has {', '.join(ws.systems)})")
            for key in _CONDITIONS.get(kind, ()):
                source = getattr(rule, key)
                if source is not None:
                    policy._conditions[(rid, key)] = compile_condition(source, where(doc, (*at, key)))
            getattr(policy, kind).append(rule)


def load_policy(ws: Workspace, paths: Iterable[str | Path] | None = None) -> Policy:
    """The rules of ``paths`` (default: the workspace's ``policies``), merged; one-line errors with lines."""
    files = [Path(p) for p in paths] if paths is not None else ws.policy_paths()
    if not files:
        raise ConfigError(f"{ws.path}: no policy files: list them under 'policies:' or give --policy FILE")
    policy = Policy(files=files)
    for file in files:
        spec, doc = load_model(file, PolicySpec)
        if spec.brake is not None:
            if policy.brake is not None:
                raise error_at(doc, ("brake",), "the brake is already set in another policy file")
            policy.brake = spec.brake
        _add_file(policy, spec, doc, ws)
    return policy
