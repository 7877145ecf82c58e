"""A baton-http config compiled: one :class:`TypeSpec` per resource type, in sync order.

Compiling checks everything that can be checked without the API: every
value's syntax and the names it uses, the references between types, cycles
in ``parent_type``/``depends_on``. All problems are reported together, each
with the place (and line) it was written, which is what ``pybaton http
validate`` prints.
"""

from __future__ import annotations

import graphlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pybaton import model
from pybaton.connector.http import StatusRules
from pybaton.connectors.http import config as cfg
from pybaton.connectors.http.mapping import EntitlementBuilder, GrantBuilder, ResourceBuilder
from pybaton.connectors.http.requests import Endpoint, status_rules
from pybaton.connectors.http.values import OUTCOME, PROVISION, RESOURCE, RESOURCE_ITEM, Value, ValueCompiler
from pybaton.errors import ConfigError
from pybaton.pb.c1.connector.v2 import annotation_resource_tree_pb2, resource_pb2
from pybaton.yamldoc import dotted

B = TypeVar("B")


@dataclass
class Action:
    """A provisioning request and the condition that says it worked."""

    endpoint: Endpoint
    success: Value | None


@dataclass
class Provisioner:
    grant: Action | None
    revoke: Action | None


@dataclass
class Listing:
    endpoint: Endpoint
    builder: ResourceBuilder


@dataclass
class EntitlementSource:
    """One ``entitlements`` entry: a request whose items each make one entitlement."""

    endpoint: Endpoint
    builder: EntitlementBuilder


@dataclass
class GrantSource:
    endpoint: Endpoint
    builder: GrantBuilder


@dataclass
class TypeSpec:
    type_id: str
    resource_type: resource_pb2.ResourceType
    parent: str
    listing: Listing | None
    statics: list[ResourceBuilder]
    static_entitlements: list[EntitlementBuilder]
    entitlements: list[EntitlementSource]
    grants: list[GrantSource]
    provisioners: dict[str, Provisioner] = field(default_factory=dict)


@dataclass
class Compiled:
    config: cfg.HttpConfig
    types: list[TypeSpec]
    warnings: list[str]
    vars: dict[str, Any] = field(default_factory=dict)

    @property
    def by_id(self) -> dict[str, resource_pb2.ResourceType]:
        return {t.type_id: t.resource_type for t in self.types}


def _traits_of(rt: cfg.ResourceType) -> list[str]:
    """The declared ``traits``, else the trait blocks the mappings use."""
    if rt.traits:
        return list(dict.fromkeys(rt.traits))
    maps = [rt.list_.response.resource_mapping] if rt.list_ is not None else []
    for mapping in [*maps, *rt.static_resources]:
        for kind in cfg.TRAITS:
            if mapping is not None and getattr(mapping, f"{kind}_traits") is not None:
                return [kind]
    return []


def _resource_type(type_id: str, rt: cfg.ResourceType) -> resource_pb2.ResourceType:
    skip = rt.skip_entitlements_and_grants or not (rt.grants or rt.static_entitlements or rt.entitlements)
    annotations = [annotation_resource_tree_pb2.SkipEntitlementsAndGrants()] if skip else []
    return model.resource_type(type_id, rt.name or type_id, traits=_traits_of(rt), description=rt.description,
                               annotations=annotations)


def sync_order(types: Mapping[str, cfg.ResourceType]) -> list[str]:
    """Types after their parents and ``depends_on``, otherwise in file order; a cycle is an error."""
    def needs(rt: cfg.ResourceType) -> list[str]:
        return [d for d in (rt.parent_type, *rt.depends_on) if d in types]

    sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
    for name, rt in types.items():
        sorter.add(name, *needs(rt))
    try:
        sorter.prepare()
    except graphlib.CycleError as exc:
        raise ConfigError(f"resource_types: parent_type/depends_on form a cycle: {' -> '.join(exc.args[1])}") \
            from None
    # No cycle: take, each time, the first type in file order whose dependencies are done.
    done: list[str] = []
    remaining = list(types)
    while remaining:
        ready = next(n for n in remaining if all(d in done for d in needs(types[n])))
        done.append(ready)
        remaining.remove(ready)
    return done


@dataclass
class Defaults:
    """What every request of the file inherits: status rules, pagination, content type."""

    rules: StatusRules
    pagination: cfg.Pagination | None
    content_type: str


class TypeCompiler:
    """Compiles one resource type; ``c`` collects the problems of the whole file."""

    def __init__(self, c: ValueCompiler, defaults: Defaults) -> None:
        self.c = c
        self.defaults = defaults

    def site(self, *path: str | int) -> str:
        """A dotted config path; the compiler adds its file and line where it reports or raises."""
        return dotted(("resource_types", *path))

    def endpoint(self, at: str, block: cfg.Block, names: tuple[str, ...]) -> Endpoint:
        d = self.defaults
        return Endpoint.compile(self.c, f"{at}.request", block.request, names, response=block.response,
                                pagination=block.pagination or d.pagination, rules=d.rules,
                                content_type=d.content_type)

    def compile(self, type_id: str, rt: cfg.ResourceType, children: list[str]) -> TypeSpec:
        parent_names = ("parent_resource",) if rt.parent_type else ()
        listing = None
        if rt.list_ is not None and rt.list_.response.resource_mapping is not None:
            at = self.site(type_id, "list")
            listing = Listing(
                self.endpoint(at, rt.list_, ("vars", *parent_names)),
                ResourceBuilder.compile(self.c, f"{at}.response.resource_mapping", type_id,
                                        rt.list_.response.resource_mapping, rt.traits,
                                        ("item", "response", "vars", *parent_names), children))
        statics = [ResourceBuilder.compile(self.c, self.site(type_id, "static_resources", i), type_id, s, rt.traits,
                                           ("vars",), children) for i, s in enumerate(rt.static_resources)]
        spec = TypeSpec(type_id, _resource_type(type_id, rt), rt.parent_type, listing, statics, [],
                        self._entitlements(type_id, rt), self._grants(type_id, rt))
        for i, ent in enumerate(rt.static_entitlements):
            spec.static_entitlements.append(EntitlementBuilder.compile(
                self.c, self.site(type_id, "static_entitlements", i), ent, RESOURCE))
            self._provisioner(spec, ent, ("static_entitlements", i))
        return spec

    def _sources(self, type_id: str, key: str, blocks: list[cfg.Block], attr: str,
                 build: Callable[[str, Any], B]) -> list[tuple[Endpoint, B]]:
        """Each ``entitlements``/``grants`` block with a mapping: its endpoint and its builder."""
        out = []
        for i, block in enumerate(blocks):
            at = self.site(type_id, key, i)
            mapping = getattr(block.response, attr)
            if mapping is not None:
                out.append((self.endpoint(at, block, RESOURCE), build(f"{at}.response.{attr}", mapping)))
        return out

    def _entitlements(self, type_id: str, rt: cfg.ResourceType) -> list[EntitlementSource]:
        return [EntitlementSource(*pair) for pair in self._sources(
            type_id, "entitlements", rt.entitlements, "entitlement_mapping",
            lambda at, m: EntitlementBuilder.compile(self.c, at, m, RESOURCE_ITEM))]

    def _grants(self, type_id: str, rt: cfg.ResourceType) -> list[GrantSource]:
        return [GrantSource(*pair) for pair in self._sources(
            type_id, "grants", rt.grants, "grant_mapping",
            lambda at, m: GrantBuilder.compile(self.c, at, m, RESOURCE_ITEM))]

    def _provisioner(self, spec: TypeSpec, ent: cfg.StaticEntitlement, path: tuple[str | int, ...]) -> None:
        prov = ent.provisioning
        if prov is None:
            return
        at = self.site(spec.type_id, *path, "provisioning")
        actions = {}
        for name in ("grant", "revoke"):
            action: cfg.ProvisioningAction | None = getattr(prov, name)
            if action is not None:
                d = self.defaults
                actions[name] = Action(
                    Endpoint.compile(self.c, f"{at}.{name}.request", action.request, PROVISION, rules=d.rules,
                                     content_type=d.content_type),
                    self.c.optional(action.success_condition, f"{at}.{name}.success_condition", OUTCOME))
        key = ent.id if not ent.id.strip().startswith(("cel:", "tmpl:")) else "*"
        spec.provisioners[key] = Provisioner(actions.get("grant"), actions.get("revoke"))


def undotted(site: str) -> tuple[str | int, ...]:
    """``resource_types.user.list.request.url`` / ``a[0].b`` back into a key path (for line numbers)."""
    return tuple(int(p[1:-1]) if p.startswith("[") else p for p in re.findall(r"\[\d+\]|[^.\[\]]+", site))


def is_command_action(definition: Any) -> bool:
    """An action that runs a shell command (``type: command`` or a ``command`` key)."""
    return isinstance(definition, Mapping) and (definition.get("type") == "command" or "command" in definition)


def _action_warnings(config: cfg.HttpConfig, enable_command_actions: bool) -> list[str]:
    out = []
    for name, definition in config.actions.items():
        if is_command_action(definition) and not enable_command_actions:
            out.append(f"actions.{name}: a command action; disabled (pass --enable-command-actions to allow it)")
        else:
            out.append(f"actions.{name}: read, but pybaton does not run custom actions yet")
    return out


def compile_config(loaded: cfg.LoadedConfig, *, env: Mapping[str, str] | None = None,
                   check_env: bool = True, enable_command_actions: bool = False) -> Compiled:
    """Every type compiled, in sync order; one :class:`ConfigError` lists all the problems."""
    config = loaded.config
    c = ValueCompiler(env, check_env, locate=lambda site: f"{loaded.where(undotted(site))}: {site}")
    defaults = Defaults(status_rules(config.error_handling), config.connect.pagination,
                        config.connect.request_defaults.content_type)
    types = TypeCompiler(c, defaults)
    children: dict[str, list[str]] = {name: list(rt.child_types) for name, rt in config.resource_types.items()}
    for name, rt in config.resource_types.items():
        if rt.parent_type and name not in children.setdefault(rt.parent_type, []):
            children[rt.parent_type].append(name)
    variables = {k: c.compile(v, f"vars.{k}", ()) for k, v in config.vars.items()}
    specs = [types.compile(name, config.resource_types[name], children.get(name, []))
             for name in sync_order(config.resource_types)]
    c.check()
    return Compiled(config, specs, c.warnings + _action_warnings(config, enable_command_actions),
                    {k: v.value({}) for k, v in variables.items()})


__all__ = ["Action", "Compiled", "EntitlementSource", "GrantSource", "Listing", "Provisioner", "TypeSpec",
           "compile_config", "is_command_action", "sync_order"]
