"""A whole config compiled: every expression, query and token checked before anything connects.

Both the connector and ``pybaton sql validate`` go through :func:`compile_config`,
so a config that validates offline is one the connector accepts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pybaton import model
from pybaton.connectors.sql import config as cfg
from pybaton.connectors.sql.expr import Compiler, literal
from pybaton.connectors.sql.mapping import (
    EntitlementCompiler,
    EntitlementsBuilder,
    GrantsQueryBuilder,
    ResourceBuilder,
)
from pybaton.connectors.sql.provisioning import (
    ANY_SLUG,
    AccountProvisioner,
    ActionSpec,
    CredentialRotatorSpec,
    EntitlementWrites,
)
from pybaton.connectors.sql.queries import SqlQuery, VarSet
from pybaton.connectors.sql.scope import Scope
from pybaton.connectors.sql.traits import tr_trait
from pybaton.pb.c1.connector.v2 import annotation_resource_tree_pb2, resource_pb2

_TRAIT_NAMES = ("user", "group", "role", "app", "secret")


@dataclass(frozen=True)
class ChangesSpec:
    """The compiled ``changes:`` section (pybaton's extension; see :class:`cfg.ChangesQuery`)."""

    query: SqlQuery
    vars: VarSet
    primary_key: str
    deleted: str = ""
    head: SqlQuery | None = None

    @classmethod
    def compile(cls, scope: Scope, raw: cfg.ChangesQuery) -> ChangesSpec:
        if raw.pagination is None or raw.pagination.strategy != "cursor":
            scope.problem("needs pagination with strategy cursor (primary_key: the change position column)",
                          "pagination")
        variables = scope.vars(raw.vars, "vars", names=())
        query = scope.query(raw.query, "query", pagination=raw.pagination, provided=variables.names)
        head = scope.query(raw.head, "head", pagination=None, provided=variables.names) if raw.head else None
        key = raw.pagination.primary_key if raw.pagination is not None else ""
        return cls(query, variables, key, raw.deleted, head)


@dataclass
class TypeSpec:
    """Everything about one resource type, compiled."""

    type_id: str
    message: resource_pb2.ResourceType
    list_query: SqlQuery | None = None
    list_vars: VarSet = field(default_factory=VarSet)
    resources: ResourceBuilder | None = None
    entitlements: EntitlementsBuilder | None = None
    grants: list[GrantsQueryBuilder] = field(default_factory=list)
    changes: ChangesSpec | None = None
    writes: dict[str, EntitlementWrites] = field(default_factory=dict)
    accounts: AccountProvisioner | None = None
    rotation: CredentialRotatorSpec | None = None


@dataclass
class CompiledConfig:
    loaded: cfg.LoadedConfig
    types: dict[str, TypeSpec]
    actions: dict[str, ActionSpec]

    @property
    def config(self) -> cfg.SqlConfig:
        return self.loaded.config


def _trait_of(rt: cfg.ResourceType) -> list[int]:
    traits = rt.list_.map.traits if rt.list_ is not None and rt.list_.map is not None else None
    for name in _TRAIT_NAMES:
        if traits is not None and getattr(traits, name) is not None:
            return [tr_trait(f"TRAIT_{name.upper()}")]
    return []


def _has_access_data(rt: cfg.ResourceType) -> bool:
    return bool(rt.static_entitlements or rt.entitlements is not None or rt.grants)


def _type_message(type_id: str, rt: cfg.ResourceType) -> resource_pb2.ResourceType:
    """The resource type; one whose config lists no entitlements and no grants says so to the engine.

    ``SkipEntitlementsAndGrants`` spares the engine a call per resource that can
    only return nothing (100,000 users, 200,000 empty calls): a deliberate
    difference from baton-sql, which sets it only for ``skip_entitlements_and_grants``.
    """
    skip = rt.skip_entitlements_and_grants or not _has_access_data(rt)
    notes = [annotation_resource_tree_pb2.SkipEntitlementsAndGrants()] if skip else []
    return model.resource_type(type_id, rt.name or type_id, traits=_trait_of(rt), description=rt.description,
                               annotations=notes)


def _compile_type(scope: Scope, spec: TypeSpec, rt: cfg.ResourceType, ents: EntitlementCompiler) -> None:
    if rt.list_ is None or rt.list_.map is None:
        scope.problem("needs list.query and list.map", "list")
    else:
        listing = scope.at("list")
        spec.list_vars = listing.vars(rt.list_.vars, "vars", names=())
        spec.list_query = listing.query(rt.list_.query, "query", pagination=rt.list_.pagination,
                                        provided=spec.list_vars.names)
        spec.resources = ResourceBuilder(listing.at("map"), spec.type_id, rt.list_.map)
    if rt.changes is not None:
        spec.changes = ChangesSpec.compile(scope.at("changes"), rt.changes)
    spec.entitlements = EntitlementsBuilder(scope, rt, ents)
    spec.grants = [GrantsQueryBuilder.compile(scope.at("grants", i), g) for i, g in enumerate(rt.grants)]
    mappings = [("static_entitlements", i, m) for i, m in enumerate(rt.static_entitlements)]
    if rt.entitlements is not None:
        mappings += [("entitlements", i, m) for i, m in enumerate(rt.entitlements.map)]
    for part, index, mapping in mappings:
        if mapping.provisioning is None:
            continue
        static = part == "static_entitlements"
        where = scope.at(*((part, index) if static else (part, "map", index)))
        key = (mapping.slug or mapping.id) if static else literal(mapping.slug or mapping.id)
        if key is None and ANY_SLUG in spec.writes:
            where.problem("more than one query-built entitlement with a computed slug has provisioning; "
                          "pybaton cannot tell which one a grant is for")
        spec.writes[key or ANY_SLUG] = EntitlementWrites.compile(where.at("provisioning"), mapping.provisioning)
    if rt.account_provisioning is not None:
        spec.accounts = AccountProvisioner(scope.at("account_provisioning"), rt.account_provisioning,
                                           spec.resources)
    if rt.credential_rotation is not None:
        spec.rotation = CredentialRotatorSpec(scope.at("credential_rotation"), rt.credential_rotation)


def compile_config(loaded: cfg.LoadedConfig) -> CompiledConfig:
    """Compile ``loaded``; one :class:`~pybaton.errors.ConfigError` lists every problem found."""
    root = Scope(loaded, Compiler())
    config = loaded.config
    if not config.resource_types:
        root.problem("defines no resource types", "resource_types")
    messages = {type_id: _type_message(type_id, rt) for type_id, rt in config.resource_types.items()}
    ents = EntitlementCompiler(messages)
    types = {}
    for type_id, rt in config.resource_types.items():
        spec = TypeSpec(type_id, messages[type_id])
        _compile_type(root.at("resource_types", type_id), spec, rt, ents)
        types[type_id] = spec
    actions = {key: ActionSpec(root.at("actions", key), key, action) for key, action in config.actions.items()}
    root.check()
    return CompiledConfig(loaded, types, actions)
