"""From response items to Baton objects: ``resource_mapping``, ``entitlement_mapping``, ``grant_mapping``.

Each builder is compiled once from its config block and then applied per item
with an environment of names (``item``, ``resource``, ``parent_resource``…).
What expressions and templates see of a Baton resource is
:func:`resource_view`: ``id``, ``type``, ``display_name``, ``description``,
``parent_id`` and ``traits`` (``traits.user.email``, ``.login``, ``.profile``…).
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
# Baton has no "role" purpose: a role entitlement is assigned, so it is an assignment.
_PURPOSES = {"assignment": model.ASSIGNMENT, "permission": model.PERMISSION, "role": model.ASSIGNMENT}


def _trait_view(trait: Message) -> dict[str, Any]:
    view: dict[str, Any] = {"profile": json_format.MessageToDict(trait.profile)}  # type: ignore[attr-defined]
    if isinstance(trait, annotation_trait_pb2.UserTrait):
        emails = [e.address for e in trait.emails]
        view.update(email=emails[0] if emails else "", emails=emails, login=trait.login,
                    status=annotation_trait_pb2.UserTrait.Status.Status.Name(trait.status.status)
                    .removeprefix("STATUS_").lower())
    return view


def resource_view(res: resource_pb2.Resource) -> dict[str, Any]:
    """A resource as expressions see it: ``resource.id``, ``.display_name``, ``.traits.user.email``…"""
    view: dict[str, Any] = {
        "id": res.id.resource, "type": res.id.resource_type, "display_name": res.display_name,
        "description": res.description, "parent_id": res.parent_resource_id.resource,
        "parent_type": res.parent_resource_id.resource_type, "traits": {},
    }
    for kind, cls in _TRAIT_MESSAGES.items():
        trait = ann.find(res.annotations, cls)
        if trait is not None:
            view["traits"][kind] = _trait_view(trait)
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
    """The trait of a resource mapping (``user_traits``, ``group_traits``, ``role_traits``, ``app_traits``)."""

    kind: str
    profile: dict[str, Value] = field(default_factory=dict)
    emails: list[Value] = field(default_factory=list)
    login_aliases: list[Value] = field(default_factory=list)
    employee_ids: list[Value] = field(default_factory=list)
    status: Value | None = None
    login: Value | None = None
    account_type: Value | None = None

    @classmethod
    def compile(cls, c: ValueCompiler, site: str, spec: cfg.ResourceMapping, declared: Sequence[str],
                names: tuple[str, ...]) -> TraitBuilder | None:
        """The mapping's trait block, or an empty one of the type's declared trait; None for neither."""
        given = [k for k in _TRAIT_MESSAGES if getattr(spec, f"{k}_traits") is not None]
        if len(given) > 1:
            c.problem(site, f"one trait block per mapping ({', '.join(f'{k}_traits' for k in given)} given)")
        kind = given[0] if given else next((t for t in declared if t in _TRAIT_MESSAGES), "")
        if not kind:
            return None
        block = getattr(spec, f"{kind}_traits") or (cfg.UserTraits() if kind == "user" else cfg.ProfileTraits())
        at = f"{site}.{kind}_traits"
        out = cls(kind, {k: c.compile(v, f"{at}.profile.{k}", names) for k, v in block.profile.items()})
        if isinstance(block, cfg.UserTraits):
            emails = ([block.email] if block.email else []) + list(block.emails)
            out.emails = [c.compile(v, f"{at}.emails[{i}]", names) for i, v in enumerate(emails)]
            out.login_aliases = [c.compile(v, f"{at}.login_aliases[{i}]", names)
                                 for i, v in enumerate(block.login_aliases)]
            out.employee_ids = [c.compile(block.employee_id, f"{at}.employee_id", names)] if block.employee_id else []
            out.status = c.optional(block.status, f"{at}.status", names)
            out.login = c.optional(block.login, f"{at}.login", names)
            out.account_type = c.optional(block.account_type, f"{at}.account_type", names)
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
    """A ``resource_mapping`` (or one static resource): id, display name, description, trait."""

    site: str
    type_id: str
    id: Value
    display_name: Value | None
    description: Value | None
    trait: TraitBuilder | None
    child_types: Sequence[str] = ()

    @classmethod
    def compile(cls, c: ValueCompiler, site: str, type_id: str, spec: cfg.ResourceMapping, declared: Sequence[str],
                names: tuple[str, ...], child_types: Sequence[str] = ()) -> ResourceBuilder:
        if not spec.id:
            c.problem(f"{site}.id", "is required")
        return cls(site, type_id, c.compile(spec.id, f"{site}.id", names),
                   c.optional(spec.display_name, f"{site}.display_name", names),
                   c.optional(spec.description, f"{site}.description", names),
                   TraitBuilder.compile(c, site, spec, declared, names), child_types)

    def build(self, env: Mapping[str, Any], parent: resource_pb2.ResourceId | None) -> resource_pb2.Resource:
        """The resource; an empty id is an error naming the mapping."""
        rid = text(self.id, env)
        if not rid:
            raise FatalError(f"{self.site}.id: evaluated to an empty id")
        traits = [self.trait.build(env)] if self.trait is not None else []
        return model.resource(self.type_id, rid, text(self.display_name, env) or rid, parent=parent,
                              description=text(self.description, env), traits=traits, child_types=self.child_types)


@dataclass
class EntitlementBuilder:
    """An ``entitlement_mapping`` (dynamic) or a static entitlement, built for one resource.

    ``id`` names the entitlement inside its resource (the last part of its
    Baton id, what a ``grant_mapping.entitlement_name`` refers to); ``slug``
    is the short label shown to reviewers (the id when unset).
    """

    site: str
    id: Value
    slug: Value | None
    display_name: Value | None
    description: Value | None
    purpose: Value
    grantable_to: list[Value]

    @classmethod
    def compile(cls, c: ValueCompiler, site: str, spec: cfg.EntitlementMapping, names: tuple[str, ...]
                ) -> EntitlementBuilder:
        if not spec.id:
            c.problem(f"{site}.id", "is required")
        return cls(site, c.compile(spec.id, f"{site}.id", names),
                   c.optional(spec.slug, f"{site}.slug", names),
                   c.optional(spec.display_name, f"{site}.display_name", names),
                   c.optional(spec.description, f"{site}.description", names),
                   c.compile(spec.purpose or "assignment", f"{site}.purpose", names),
                   [c.compile(t, f"{site}.grantable_to[{i}]", names) for i, t in enumerate(spec.grantable_to)])

    def build(self, env: Mapping[str, Any], res: resource_pb2.Resource,
              types: Mapping[str, resource_pb2.ResourceType]) -> entitlement_pb2.Entitlement:
        name = text(self.id, env)
        if not name:
            raise FatalError(f"{self.site}.id: evaluated to an empty id")
        purpose = text(self.purpose, env).lower()
        if purpose not in _PURPOSES:
            raise FatalError(f"{self.site}.purpose: {purpose!r} is not assignment, permission or role")
        slug = text(self.slug, env) or name
        ent = entitlement_pb2.Entitlement(id=model.entitlement_id(res.id.resource_type, res.id.resource, name),
                                          slug=slug, display_name=text(self.display_name, env) or slug,
                                          description=text(self.description, env), purpose=_PURPOSES[purpose])
        ent.resource.CopyFrom(res)
        for value in self.grantable_to:
            target = types.get(text(value, env))
            if target is not None:
                ent.grantable_to.append(target)
        return ent


@dataclass
class GrantBuilder:
    """A ``grant_mapping``: who (``principal_id``, ``principal_type``) has which entitlement of the resource."""

    site: str
    principal_id: Value
    principal_type: Value
    entitlement: Value
    expand_ids: list[Value]
    expand_skip_if: Value | None
    shallow: bool

    @classmethod
    def compile(cls, c: ValueCompiler, site: str, spec: cfg.GrantMapping, names: tuple[str, ...]) -> GrantBuilder:
        for key in ("principal_id", "principal_type", "entitlement_name"):
            if not getattr(spec, key):
                c.problem(f"{site}.{key}", "is required")
        expand = spec.expandable or cfg.Expandable.model_validate({})
        return cls(site, c.compile(spec.principal_id, f"{site}.principal_id", names),
                   c.compile(spec.principal_type, f"{site}.principal_type", names),
                   c.compile(spec.entitlement_name, f"{site}.entitlement_name", names),
                   [c.compile(v, f"{site}.expandable.entitlement_ids[{i}]", names)
                    for i, v in enumerate(expand.entitlement_ids)],
                   c.optional(expand.skip_if, f"{site}.expandable.skip_if", names), expand.shallow)

    def build(self, env: Mapping[str, Any], res: resource_pb2.Resource) -> grant_pb2.Grant:
        pid, ptype, name = text(self.principal_id, env), text(self.principal_type, env), text(self.entitlement, env)
        if not (pid and ptype and name):
            raise FatalError(f"{self.site}: principal_id, principal_type and entitlement_name must not be empty "
                             f"(got {pid!r}, {ptype!r}, {name!r})")
        expand: list[str] = []
        if self.expand_ids and not truth(self.expand_skip_if, env, f"{self.site}.expandable.skip_if"):
            expand = [e for e in (text(v, env) for v in self.expand_ids) if e]
        return model.grant(model.entitlement_ref(res, name), model.resource_id(ptype, pid), expandable=expand,
                           shallow=self.shallow)


__all__ = ["EntitlementBuilder", "GrantBuilder", "ResourceBuilder", "TraitBuilder", "resource_view"]
