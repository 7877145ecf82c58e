"""From response items to Baton objects: the ``map`` blocks of resources, entitlements and grants.

Each builder is compiled once from its config block and then applied per item
with an environment of names (``item``, ``resource``, ``parent``…). What
expressions see of a Baton resource is :func:`resource_view`: its id (also as
``ID``, baton-sql's spelling), type, display name, parent and trait profile.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message

from pybaton import model
from pybaton.connectors.http import config as cfg
from pybaton.connectors.http.values import Value, ValueCompiler, text, truth
from pybaton.connectors.sql.traits import ACCOUNT_TYPES, STATUS_VALUES
from pybaton.errors import FatalError
from pybaton.model import annotations as ann
from pybaton.pb.c1.connector.v2 import annotation_trait_pb2, entitlement_pb2, grant_pb2, resource_pb2

_TRAIT_MESSAGES: dict[str, type[Message]] = {
    "user": annotation_trait_pb2.UserTrait, "group": annotation_trait_pb2.GroupTrait,
    "role": annotation_trait_pb2.RoleTrait, "app": annotation_trait_pb2.AppTrait,
}
_PURPOSES = {"assignment": model.ASSIGNMENT, "permission": model.PERMISSION}


def resource_view(res: resource_pb2.Resource) -> dict[str, Any]:
    """A resource as expressions see it: ``resource.id``, ``.type``, ``.display_name``, ``.profile``…"""
    view: dict[str, Any] = {
        "id": res.id.resource, "ID": res.id.resource, "type": res.id.resource_type,
        "display_name": res.display_name, "parent_id": res.parent_resource_id.resource,
        "parent_type": res.parent_resource_id.resource_type, "profile": {},
    }
    for cls in _TRAIT_MESSAGES.values():
        trait = ann.find(res.annotations, cls)
        if trait is not None:
            view["profile"] = json_format.MessageToDict(trait.profile)  # type: ignore[attr-defined]
            if isinstance(trait, annotation_trait_pb2.UserTrait):
                view["login"] = trait.login
                view["email"] = trait.emails[0].address if trait.emails else ""
            break
    return view


def _status(raw: Any) -> str:
    if isinstance(raw, bool):
        return "enabled" if raw else "disabled"
    value = STATUS_VALUES.get(str(raw).strip().lower())
    if value is None:
        return "enabled" if raw in (None, "") else "unspecified"
    return annotation_trait_pb2.UserTrait.Status.Status.Name(value).removeprefix("STATUS_").lower()


def _account_type(raw: str) -> str:
    value = ACCOUNT_TYPES.get(raw.strip().lower(), annotation_trait_pb2.UserTrait.ACCOUNT_TYPE_HUMAN)
    return annotation_trait_pb2.UserTrait.AccountType.Name(value).removeprefix("ACCOUNT_TYPE_").lower()


@dataclass
class TraitBuilder:
    """One trait (user/group/role/app) of a resource map."""

    kind: str
    profile: dict[str, Value] = field(default_factory=dict)
    emails: list[Value] = field(default_factory=list)
    login_aliases: list[Value] = field(default_factory=list)
    employee_ids: list[Value] = field(default_factory=list)
    status: Value | None = None
    login: Value | None = None
    account_type: Value | None = None

    @classmethod
    def compile(cls, c: ValueCompiler, site: str, traits: cfg.Traits | None,
                names: tuple[str, ...]) -> TraitBuilder | None:
        if traits is None:
            return None
        chosen = [(k, getattr(traits, k)) for k in _TRAIT_MESSAGES if getattr(traits, k) is not None]
        if len(chosen) > 1:
            c.problem(f"{site}.traits", f"one trait per resource type ({', '.join(k for k, _ in chosen)} given)")
        if not chosen:
            return None
        kind, spec = chosen[0]
        at = f"{site}.traits.{kind}"
        out = cls(kind, {k: c.compile(v, f"{at}.profile.{k}", names) for k, v in spec.profile.items()})
        if isinstance(spec, cfg.UserTraitMap):
            many = {"emails": spec.emails, "login_aliases": spec.login_aliases, "employee_ids": spec.employee_ids}
            for attr, raws in many.items():
                setattr(out, attr, [c.compile(v, f"{at}.{attr}[{i}]", names) for i, v in enumerate(raws)])
            out.status = c.optional(spec.status, f"{at}.status", names)
            out.login = c.optional(spec.login, f"{at}.login", names)
            out.account_type = c.optional(spec.account_type, f"{at}.account_type", names)
        return out

    def build(self, env: Mapping[str, Any]) -> Message:
        profile = {k: v.value(env) for k, v in self.profile.items()}
        profile = {k: v for k, v in profile.items() if v is not None}
        if self.kind != "user":
            return {"group": model.group_trait, "role": model.role_trait, "app": model.app_trait}[self.kind](profile)
        return model.user_trait(
            emails=[e for e in (text(v, env) for v in self.emails) if e], login=text(self.login, env),
            status=_status(self.status.value(env) if self.status is not None else None),
            account_type=_account_type(text(self.account_type, env)), profile=profile,
            employee_ids=[e for e in (text(v, env) for v in self.employee_ids) if e],
            login_aliases=[a for a in (text(v, env) for v in self.login_aliases) if a])


@dataclass
class ResourceBuilder:
    """A ``map`` (or one static resource): id, display name, description, trait, ``skip_if``."""

    site: str
    type_id: str
    id: Value
    display_name: Value | None
    description: Value | None
    skip_if: Value | None
    trait: TraitBuilder | None
    child_types: Sequence[str] = ()

    @classmethod
    def compile(cls, c: ValueCompiler, site: str, type_id: str, spec: cfg.ResourceMap | cfg.StaticResource,
                names: tuple[str, ...], child_types: Sequence[str] = ()) -> ResourceBuilder:
        if not spec.id:
            c.problem(f"{site}.id", "is required")
        return cls(site, type_id, c.compile(spec.id, f"{site}.id", names),
                   c.optional(spec.display_name, f"{site}.display_name", names),
                   c.optional(spec.description, f"{site}.description", names),
                   c.optional(getattr(spec, "skip_if", ""), f"{site}.skip_if", names),
                   TraitBuilder.compile(c, site, spec.traits, names), child_types)

    def build(self, env: Mapping[str, Any], parent: resource_pb2.ResourceId | None) -> resource_pb2.Resource | None:
        """The resource, or None when ``skip_if`` says so; an empty id is an error naming the map."""
        if truth(self.skip_if, env, f"{self.site}.skip_if"):
            return None
        rid = text(self.id, env)
        if not rid:
            raise FatalError(f"{self.site}.id: evaluated to an empty id")
        traits = [self.trait.build(env)] if self.trait is not None else []
        return model.resource(self.type_id, rid, text(self.display_name, env) or rid, parent=parent,
                              description=text(self.description, env), traits=traits, child_types=self.child_types)


@dataclass
class EntitlementBuilder:
    """An entitlement map entry (dynamic) or a static entitlement (a template stamped on each resource)."""

    site: str
    slug: Value
    display_name: Value | None
    description: Value | None
    purpose: Value
    grantable_to: list[Value]
    skip_if: Value | None

    @classmethod
    def compile(cls, c: ValueCompiler, site: str, spec: cfg.EntitlementMap, names: tuple[str, ...]
                ) -> EntitlementBuilder:
        if not spec.id:
            c.problem(f"{site}.id", "is required")
        return cls(site, c.compile(spec.id, f"{site}.id", names),
                   c.optional(spec.display_name, f"{site}.display_name", names),
                   c.optional(spec.description, f"{site}.description", names),
                   c.compile(spec.purpose or "assignment", f"{site}.purpose", names),
                   [c.compile(t, f"{site}.grantable_to[{i}]", names) for i, t in enumerate(spec.grantable_to)],
                   c.optional(spec.skip_if, f"{site}.skip_if", names))

    def slug_of(self, env: Mapping[str, Any]) -> str:
        return text(self.slug, env)

    def template(self, env: Mapping[str, Any], types: Mapping[str, resource_pb2.ResourceType]
                 ) -> entitlement_pb2.Entitlement:
        """The entitlement without a resource (the engine stamps it onto each resource)."""
        slug = self.slug_of(env)
        purpose = text(self.purpose, env).lower()
        if purpose not in _PURPOSES:
            raise FatalError(f"{self.site}.purpose: {purpose!r} is not assignment or permission")
        ent = entitlement_pb2.Entitlement(slug=slug, display_name=text(self.display_name, env) or slug,
                                          description=text(self.description, env),
                                          purpose=_PURPOSES[purpose])
        for value in self.grantable_to:
            target = types.get(text(value, env))
            if target is not None:
                ent.grantable_to.append(target)
        return ent

    def build(self, env: Mapping[str, Any], res: resource_pb2.Resource,
              types: Mapping[str, resource_pb2.ResourceType]) -> entitlement_pb2.Entitlement | None:
        if truth(self.skip_if, env, f"{self.site}.skip_if"):
            return None
        ent = self.template(env, types)
        ent.id = model.entitlement_id(res.id.resource_type, res.id.resource, ent.slug)
        ent.resource.CopyFrom(res)
        return ent


@dataclass
class GrantBuilder:
    site: str
    principal_id: Value
    principal_type: Value
    entitlement: Value
    skip_if: Value | None
    expand_ids: list[Value]
    expand_skip_if: Value | None
    shallow: bool

    @classmethod
    def compile(cls, c: ValueCompiler, site: str, spec: cfg.GrantMap, names: tuple[str, ...]) -> GrantBuilder:
        for key in ("principal_id", "principal_type", "entitlement_id"):
            if not getattr(spec, key):
                c.problem(f"{site}.{key}", "is required")
        expand = spec.expandable or cfg.Expandable.model_validate({})
        return cls(site, c.compile(spec.principal_id, f"{site}.principal_id", names),
                   c.compile(spec.principal_type, f"{site}.principal_type", names),
                   c.compile(spec.entitlement_id, f"{site}.entitlement_id", names),
                   c.optional(spec.skip_if, f"{site}.skip_if", names),
                   [c.compile(v, f"{site}.expandable.entitlement_ids[{i}]", names)
                    for i, v in enumerate(expand.entitlement_ids)],
                   c.optional(expand.skip_if, f"{site}.expandable.skip_if", names), expand.shallow)

    def build(self, env: Mapping[str, Any], res: resource_pb2.Resource) -> grant_pb2.Grant | None:
        if truth(self.skip_if, env, f"{self.site}.skip_if"):
            return None
        pid, ptype, slug = text(self.principal_id, env), text(self.principal_type, env), text(self.entitlement, env)
        if not (pid and ptype and slug):
            raise FatalError(f"{self.site}: principal_id, principal_type and entitlement_id must not be empty "
                             f"(got {pid!r}, {ptype!r}, {slug!r})")
        expand: list[str] = []
        if self.expand_ids and not truth(self.expand_skip_if, env, f"{self.site}.expandable.skip_if"):
            expand = [e for e in (text(v, env) for v in self.expand_ids) if e]
        return model.grant(model.entitlement_ref(res, slug), model.resource_id(ptype, pid), expandable=expand,
                           shallow=self.shallow)


__all__ = ["EntitlementBuilder", "GrantBuilder", "ResourceBuilder", "TraitBuilder", "resource_view"]
