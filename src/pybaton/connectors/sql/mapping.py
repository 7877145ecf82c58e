"""Rows to Baton objects: a resource per ``list`` row, entitlements and grants per resource.

Each builder is compiled once from its config section (expressions, queries,
tokens) and then applied to rows. Deliberate differences from baton-sql's Go
output, documented in docs/connectors/sql.md: static entitlements keep their
``grantable_to`` and a configured ``slug``; NULL columns become empty/absent
values, never the string ``NULL_VALUE``; timestamps are ISO 8601.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pybaton import model
from pybaton.connectors.grants import GrantTemplate
from pybaton.connectors.sql import config as cfg
from pybaton.connectors.sql.expr import ColumnExpression, Expression, ExpressionError, to_text
from pybaton.connectors.sql.queries import QueryPage, QueryRunner, Row, SqlQuery, VarSet
from pybaton.connectors.sql.scope import Scope
from pybaton.connectors.sql.traits import ROW_NAMES, TraitBuilder, profile_of, trait_builder
from pybaton.pb.c1.connector.v2 import (
    annotation_entitlement_pb2,
    annotation_external_link_pb2,
    entitlement_pb2,
    grant_pb2,
    resource_pb2,
)

RESOURCE_NAMES = ("cols", "resource")

PURPOSES = {"assignment": model.ASSIGNMENT, "permission": model.PERMISSION}


def resource_env(res: resource_pb2.Resource) -> dict[str, Any]:
    """What ``resource`` means in an expression (baton-sql's keys, plus its older ``ResourceTypeID``)."""
    return {"ID": res.id.resource, "Type": res.id.resource_type, "ResourceTypeID": res.id.resource_type,
            "DisplayName": res.display_name, "profile": profile_of(res.annotations)}


class ResourceBuilder:
    """``list.map``: one resource per row."""

    def __init__(self, scope: Scope, type_id: str, mapping: cfg.ResourceMap) -> None:
        self.scope = scope
        self.type_id = type_id
        self.id = scope.required(mapping.id, "id", names=ROW_NAMES)
        self.display_name = scope.required(mapping.display_name, "display_name", names=ROW_NAMES)
        self.description = scope.expr(mapping.description, "description", names=ROW_NAMES)
        self.trait: TraitBuilder | None = trait_builder(scope.at("traits"), mapping.traits)
        self.annotations = _resource_annotations(mapping.annotations)

    @property
    def traits(self) -> list[int]:
        return [self.trait.trait] if self.trait is not None else []

    def build(self, row: Row) -> resource_pb2.Resource:
        env = {"cols": row}
        rid = self.id.text(env)
        if not rid:
            raise ExpressionError(f"{self.scope.site('id')}: the row gives an empty resource id "
                                  f"(NULL or '') for {self.id.source!r}")
        traits = [self.trait.build(env)] if self.trait is not None else []
        return model.resource(self.type_id, rid, self.display_name.text(env),
                              description=self.description.text(env) if self.description else "",
                              traits=traits, annotations=self.annotations)


def _resource_annotations(annotations: cfg.Annotations | None) -> list[Any]:
    if annotations is None or annotations.external_link is None or not annotations.external_link.url:
        return []
    return [annotation_external_link_pb2.ExternalLink(url=annotations.external_link.url)]


@dataclass(frozen=True)
class EntitlementFields:
    """The parts of an entitlement mapping shared by static and query-built entitlements."""

    display_name: Expression
    description: Expression | None
    purpose: int
    grantable_to: tuple[resource_pb2.ResourceType, ...]
    immutable: bool

    def fill(self, ent: entitlement_pb2.Entitlement, env: Mapping[str, Any]) -> entitlement_pb2.Entitlement:
        ent.display_name = self.display_name.text(env)
        if self.description is not None:
            ent.description = self.description.text(env)
        ent.purpose = self.purpose  # type: ignore[assignment]
        ent.grantable_to.extend(self.grantable_to)
        if self.immutable:
            ent.annotations.append(model.annotations.pack(annotation_entitlement_pb2.EntitlementImmutable()))
        return ent


def _entitlement(res: resource_pb2.Resource, ident: str, slug: str) -> entitlement_pb2.Entitlement:
    ent = entitlement_pb2.Entitlement(id=model.entitlement_id(res.id.resource_type, res.id.resource, ident),
                                      slug=slug)
    ent.resource.CopyFrom(res)
    return ent


class EntitlementCompiler:
    """Compiles entitlement mappings; knows the connector's resource types for ``grantable_to``."""

    def __init__(self, types: Mapping[str, resource_pb2.ResourceType]) -> None:
        self.types = types

    def fields(self, scope: Scope, m: cfg.EntitlementMapping, names: Sequence[str],
               purpose_text: str) -> EntitlementFields:
        purpose = PURPOSES.get(purpose_text.lower(), entitlement_pb2.Entitlement.PURPOSE_VALUE_UNSPECIFIED)
        if purpose_text and purpose_text.lower() not in PURPOSES:
            scope.problem(f"unknown purpose {purpose_text!r} (assignment or permission)", "purpose")
        grantable = []
        for index, type_id in enumerate(m.grantable_to):
            if type_id not in self.types:
                scope.problem(f"unknown resource type {type_id!r} (known: {', '.join(self.types)})",
                              "grantable_to", index)
            else:
                grantable.append(self.types[type_id])
        return EntitlementFields(scope.required(m.display_name, "display_name", names=names),
                                 scope.expr(m.description, "description", names=names), purpose,
                                 tuple(grantable), m.immutable)


class StaticEntitlement:
    """One ``static_entitlements`` entry: the same entitlement on every resource of the type."""

    def __init__(self, scope: Scope, m: cfg.EntitlementMapping, compiler: EntitlementCompiler) -> None:
        if not m.id:
            scope.problem("is required", "id")
        self.id = m.id
        self.slug = m.slug or m.id
        self.fields = compiler.fields(scope, m, ("resource",), m.purpose)
        self.provisioning = m.provisioning

    def build(self, res: resource_pb2.Resource, env: Mapping[str, Any]) -> entitlement_pb2.Entitlement:
        return self.fields.fill(_entitlement(res, self.id, self.slug), env)


class DynamicEntitlement:
    """One ``entitlements.map`` entry, applied to every row of the entitlements query."""

    def __init__(self, scope: Scope, m: cfg.EntitlementMapping, compiler: EntitlementCompiler) -> None:
        self.scope = scope
        self.skip_if = scope.expr(m.skip_if, "skip_if", names=RESOURCE_NAMES)
        self.id = scope.required(m.id, "id", names=RESOURCE_NAMES)
        self.slug = scope.expr(m.slug, "slug", names=RESOURCE_NAMES)
        purpose = scope.expr(m.purpose, "purpose", names=RESOURCE_NAMES)
        constant = purpose.constant if purpose is not None else ""
        self.purpose = None if constant is None else purpose
        self.fields = compiler.fields(scope, m, RESOURCE_NAMES, constant or "")
        self.provisioning = m.provisioning

    def build(self, res: resource_pb2.Resource, env: Mapping[str, Any]) -> entitlement_pb2.Entitlement | None:
        if self.skip_if is not None and self.skip_if.boolean(env):
            return None
        ident = self.id.text(env)
        ent = self.fields.fill(_entitlement(res, ident, self.slug.text(env) if self.slug else ident), env)
        if self.purpose is not None:
            ent.purpose = PURPOSES.get(self.purpose.text(env).lower(),
                                       entitlement_pb2.Entitlement.PURPOSE_VALUE_UNSPECIFIED)
        return ent


class EntitlementsBuilder:
    """All entitlements of one resource: the static ones, then those of the entitlements query."""

    def __init__(self, scope: Scope, rt: cfg.ResourceType, compiler: EntitlementCompiler) -> None:
        self.static = [StaticEntitlement(scope.at("static_entitlements", i), m, compiler)
                       for i, m in enumerate(rt.static_entitlements)]
        self.query: SqlQuery | None = None
        self.dynamic: list[DynamicEntitlement] = []
        self.vars = VarSet()
        section = rt.entitlements
        if section is not None:
            sub = scope.at("entitlements")
            self.vars = sub.vars(section.vars, "vars", names=("resource",))
            self.query = sub.query(section.query, "query", pagination=section.pagination, provided=self.vars.names)
            self.dynamic = [DynamicEntitlement(sub.at("map", i), m, compiler) for i, m in enumerate(section.map)]

    def static_for(self, res: resource_pb2.Resource) -> list[entitlement_pb2.Entitlement]:
        env = {"resource": resource_env(res)}
        return [s.build(res, env) for s in self.static]

    def from_rows(self, res: resource_pb2.Resource, rows: list[Row]) -> Iterator[entitlement_pb2.Entitlement]:
        env_resource = resource_env(res)
        for row in rows:
            env = {"cols": row, "resource": env_resource}
            for mapping in self.dynamic:
                ent = mapping.build(res, env)
                if ent is not None:
                    yield ent


class GrantBuilder:
    """One ``grants[].map`` entry: at most one grant per row."""

    def __init__(self, scope: Scope, m: cfg.GrantMapping) -> None:
        self.skip_if = scope.expr(m.skip_if, "skip_if", names=RESOURCE_NAMES)
        self.principal_id = scope.required(m.principal_id, "principal_id", names=RESOURCE_NAMES)
        if not m.principal_type:
            scope.problem("is required (a resource type id)", "principal_type")
        self.principal_type = m.principal_type
        self.entitlement = scope.required(m.entitlement_id, "entitlement_id", names=RESOURCE_NAMES)
        self.expandable = m.expandable
        expand = scope.at("expandable")
        self.expand_skip_if = expand.expr(m.expandable.skip_if, "skip_if", names=RESOURCE_NAMES) \
            if m.expandable else None
        self.expand_ids = tuple(e for i, src in enumerate(m.expandable.entitlement_ids if m.expandable else ())
                                if (e := expand.expr(src, "entitlement_ids", i, names=RESOURCE_NAMES)))
        self._templates: dict[str, GrantTemplate] = {}

    @property
    def direct_column(self) -> str | None:
        """The column holding the principal id when nothing else varies per row (the common, fast case)."""
        simple = self.skip_if is None and self.expandable is None and self.entitlement.constant is not None
        return self.principal_id.column if simple and isinstance(self.principal_id, ColumnExpression) else None

    def build_many(self, res: resource_pb2.Resource, env_resource: Mapping[str, Any],
                   page: QueryPage) -> list[grant_pb2.Grant]:
        """Grants for a page of rows; without per-row expressions, straight from the principal column."""
        column = self.direct_column
        if column is None:
            made = (self.build(res, {"cols": row, "resource": env_resource}) for row in page.rows)
            return [g for g in made if g is not None]
        if not page.tuples:
            return []
        index = page.column_index(column)
        if index is None:
            self.principal_id.value({"cols": page.rows[0]})  # raises the error naming the field and columns
            return []
        template = self._template(res, self.entitlement.constant or "")
        return [template(v if type(v := row[index]) is str else to_text(v)) for row in page.tuples]

    def build(self, res: resource_pb2.Resource, env: Mapping[str, Any]) -> grant_pb2.Grant | None:
        if self.skip_if is not None and self.skip_if.boolean(env):
            return None
        principal = self.principal_id.text(env)
        slug = self.entitlement.text(env)
        expandable = self._expand(env)
        if expandable is not None:
            ent = model.entitlement_ref(res, slug)
            return model.grant(ent, model.resource_id(self.principal_type, principal), expandable=expandable,
                               shallow=bool(self.expandable and self.expandable.shallow))
        return self._template(res, slug)(principal)

    def _expand(self, env: Mapping[str, Any]) -> list[str] | None:
        if self.expandable is None:
            return None
        if self.expand_skip_if is not None and self.expand_skip_if.boolean(env):
            return None
        return [e.text(env) for e in self.expand_ids]

    def _template(self, res: resource_pb2.Resource, slug: str) -> GrantTemplate:
        """A cached serialized grant per entitlement: most rows of a page grant the same one."""
        key = model.entitlement_id(res.id.resource_type, res.id.resource, slug)
        template = self._templates.get(key)
        if template is None:
            if len(self._templates) > 1024:
                self._templates.clear()
            template = GrantTemplate(model.entitlement_ref(res, slug), self.principal_type)
            self._templates[key] = template
        return template


@dataclass
class GrantsQueryBuilder:
    """One ``grants`` entry: its query, vars and mappings."""

    query: SqlQuery
    vars: VarSet
    maps: list[GrantBuilder]

    @classmethod
    def compile(cls, scope: Scope, section: cfg.GrantsQuery) -> GrantsQueryBuilder:
        var_set = scope.vars(section.vars, "vars", names=("resource",))
        query = scope.query(section.query, "query", pagination=section.pagination, provided=var_set.names)
        if not section.map:
            scope.problem("needs at least one mapping", "map")
        return cls(query, var_set, [GrantBuilder(scope.at("map", i), m) for i, m in enumerate(section.map)])

    def grants(self, res: resource_pb2.Resource, env_resource: Mapping[str, Any],
               page: QueryPage) -> list[grant_pb2.Grant]:
        out: list[grant_pb2.Grant] = []
        for mapping in self.maps:
            out.extend(mapping.build_many(res, env_resource, page))
        return out

    def page(self, runner: QueryRunner, res: resource_pb2.Resource, token: str,
             size: int) -> tuple[list[grant_pb2.Grant], str]:
        env_resource = resource_env(res)
        values = self.vars.values({"resource": env_resource})
        page = runner.page(self.query, values, token, size)
        return self.grants(res, env_resource, page), page.next_token
