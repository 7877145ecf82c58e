"""A baton-http config compiled: one :class:`TypeSpec` per resource type, in sync order.

Compiling checks everything that can be checked without the API: every
value's syntax and the names it uses, the references between types, cycles
in ``parent``/``depends_on``. All problems are reported together, each with
the place (and line) it was written, which is what ``pybaton http validate``
prints.
"""

from __future__ import annotations

import graphlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from pybaton import model
from pybaton.connector.http import StatusRules
from pybaton.connectors.http import config as cfg
from pybaton.connectors.http.mapping import EntitlementBuilder, GrantBuilder, ResourceBuilder
from pybaton.connectors.http.requests import Endpoint, status_rules
from pybaton.connectors.http.values import (
    ITEM,
    OUTCOME,
    PROVISION,
    RESOURCE,
    RESOURCE_ITEM,
    Value,
    ValueCompiler,
)
from pybaton.errors import ConfigError
from pybaton.pb.c1.connector.v2 import annotation_resource_tree_pb2, resource_pb2
from pybaton.yamldoc import dotted


@dataclass
class Action:
    """A provisioning request and the condition that says it worked."""

    endpoint: Endpoint
    success: Value | None


@dataclass
class Provisioner:
    vars: dict[str, Value]
    grant: Action | None
    revoke: Action | None


@dataclass
class Listing:
    endpoint: Endpoint
    builder: ResourceBuilder


@dataclass
class Catalog:
    """Dynamic entitlements: one request, several map entries per item."""

    endpoint: Endpoint
    builders: list[EntitlementBuilder]


@dataclass
class GrantSource:
    endpoint: Endpoint
    builders: list[GrantBuilder]


@dataclass
class TypeSpec:
    type_id: str
    resource_type: resource_pb2.ResourceType
    parent: str
    listing: Listing | None
    statics: list[ResourceBuilder]
    catalog: Catalog | None
    static_entitlements: list[EntitlementBuilder]
    grants: list[GrantSource]
    provisioners: dict[str, Provisioner] = field(default_factory=dict)


@dataclass
class Compiled:
    config: cfg.HttpConfig
    types: list[TypeSpec]
    warnings: list[str]

    @property
    def by_id(self) -> dict[str, resource_pb2.ResourceType]:
        return {t.type_id: t.resource_type for t in self.types}


def _trait_of(rt: cfg.ResourceType) -> list[str]:
    maps = [rt.list_.map.traits] if rt.list_ is not None else []
    maps += [s.traits for s in rt.static_resources]
    for traits in maps:
        if traits is not None:
            for kind in ("user", "group", "role", "app"):
                if getattr(traits, kind) is not None:
                    return [kind]
    return []


def _resource_type(type_id: str, rt: cfg.ResourceType) -> resource_pb2.ResourceType:
    skip = rt.skip_entitlements_and_grants or (not rt.grants and not rt.static_entitlements
                                               and rt.entitlements is None)
    annotations = [annotation_resource_tree_pb2.SkipEntitlementsAndGrants()] if skip else []
    return model.resource_type(type_id, rt.name or type_id, traits=_trait_of(rt), description=rt.description,
                               annotations=annotations)


def sync_order(types: Mapping[str, cfg.ResourceType]) -> list[str]:
    """Types after their parents and ``depends_on``, otherwise in file order; a cycle is an error."""
    sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
    for name, rt in types.items():
        sorter.add(name, *[d for d in (rt.parent, *rt.depends_on) if d in types])
    try:
        sorter.prepare()
    except graphlib.CycleError as exc:
        raise ConfigError(f"resource_types: parent/depends_on form a cycle: {' -> '.join(exc.args[1])}") from None
    # No cycle: take, each time, the first type in file order whose dependencies are done.
    done: list[str] = []
    remaining = list(types)
    while remaining:
        ready = next(n for n in remaining if all(d in done for d in (types[n].parent, *types[n].depends_on)
                                                 if d in types))
        done.append(ready)
        remaining.remove(ready)
    return done


class TypeCompiler:
    """Compiles one resource type; ``c`` collects the problems of the whole file."""

    def __init__(self, c: ValueCompiler, rules: StatusRules) -> None:
        self.c = c
        self.rules = rules

    def site(self, *path: str | int) -> str:
        """A dotted config path; the compiler adds its file and line where it reports or raises."""
        return dotted(("resource_types", *path))

    def compile(self, type_id: str, rt: cfg.ResourceType, children: list[str]) -> TypeSpec:
        rules = {**self.rules, **status_rules(rt.error_handling)}
        parent_names = ("parent",) if rt.parent else ()
        listing = None
        if rt.list_ is not None:
            block = rt.list_
            listing = Listing(
                Endpoint.compile(self.c, self.site(type_id, "list"), block.request, parent_names,
                                 response=block.response, pagination=block.pagination, rules=rules),
                ResourceBuilder.compile(self.c, self.site(type_id, "list", "map"), type_id, block.map,
                                        (*ITEM, *parent_names), children))
        statics = [ResourceBuilder.compile(self.c, self.site(type_id, "static_resources", i), type_id, s, (),
                                           children) for i, s in enumerate(rt.static_resources)]
        spec = TypeSpec(type_id, _resource_type(type_id, rt), rt.parent, listing, statics,
                        self._catalog(type_id, rt, rules), [], self._grants(type_id, rt, rules))
        for i, ent in enumerate(rt.static_entitlements):
            spec.static_entitlements.append(EntitlementBuilder.compile(
                self.c, self.site(type_id, "static_entitlements", i), ent, ()))
            self._provisioner(spec, ent, ("static_entitlements", i), rules)
        if rt.entitlements is not None:
            for i, ent in enumerate(rt.entitlements.map):
                self._provisioner(spec, ent, ("entitlements", "map", i), rules)
        return spec

    def _catalog(self, type_id: str, rt: cfg.ResourceType, rules: StatusRules) -> Catalog | None:
        block = rt.entitlements
        if block is None:
            return None
        at = self.site(type_id, "entitlements")
        return Catalog(Endpoint.compile(self.c, at, block.request, RESOURCE, response=block.response,
                                        pagination=block.pagination, rules=rules),
                       [EntitlementBuilder.compile(self.c, f"{at}.map[{i}]", m, RESOURCE_ITEM)
                        for i, m in enumerate(block.map)])

    def _grants(self, type_id: str, rt: cfg.ResourceType, rules: StatusRules) -> list[GrantSource]:
        out = []
        for i, block in enumerate(rt.grants):
            at = self.site(type_id, "grants", i)
            out.append(GrantSource(Endpoint.compile(self.c, at, block.request, RESOURCE, response=block.response,
                                                    pagination=block.pagination, rules=rules),
                                   [GrantBuilder.compile(self.c, f"{at}.map[{j}]", m, RESOURCE_ITEM)
                                    for j, m in enumerate(block.map)]))
        return out

    def _provisioner(self, spec: TypeSpec, ent: cfg.EntitlementMap, path: tuple[str | int, ...],
                     rules: StatusRules) -> None:
        prov = ent.provisioning
        if prov is None:
            return
        at = self.site(spec.type_id, *path, "provisioning")
        actions = {}
        for name in ("grant", "revoke"):
            action: cfg.ProvisioningAction | None = getattr(prov, name)
            if action is not None:
                actions[name] = Action(
                    Endpoint.compile(self.c, f"{at}.{name}", action.request, PROVISION, rules=rules),
                    self.c.optional(action.success_condition, f"{at}.{name}.success_condition", OUTCOME))
        key = ent.id if ent.id and ":" not in ent.id and not ent.id.startswith(("cel:", "tmpl:")) else "*"
        spec.provisioners[key] = Provisioner(
            {k: self.c.compile(v, f"{at}.vars.{k}", PROVISION) for k, v in prov.vars.items()},
            actions.get("grant"), actions.get("revoke"))


def undotted(site: str) -> tuple[str | int, ...]:
    """``resource_types.user.list.map.id`` / ``a[0].b`` back into a key path (for line numbers)."""
    return tuple(int(p[1:-1]) if p.startswith("[") else p for p in re.findall(r"\[\d+\]|[^.\[\]]+", site))


def compile_config(loaded: cfg.LoadedConfig, *, env: Mapping[str, str] | None = None,
                   check_env: bool = True) -> Compiled:
    """Every type compiled, in sync order; one :class:`ConfigError` lists all the problems."""
    config = loaded.config
    c = ValueCompiler(env, check_env, locate=lambda site: f"{loaded.where(undotted(site))}: {site}")
    types = TypeCompiler(c, status_rules(config.error_handling))
    children: dict[str, list[str]] = {}
    for name, rt in config.resource_types.items():
        if rt.parent:
            children.setdefault(rt.parent, []).append(name)
    specs = [types.compile(name, config.resource_types[name], children.get(name, []))
             for name in sync_order(config.resource_types)]
    c.check()
    return Compiled(config, specs, c.warnings)


__all__ = ["Action", "Catalog", "Compiled", "GrantSource", "Listing", "Provisioner", "TypeSpec",
           "compile_config", "sync_order"]
