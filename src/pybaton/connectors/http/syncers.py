"""One resource syncer per configured type, with exactly the capabilities its config provides.

The engine discovers capabilities with ``isinstance`` against small Protocols,
so a syncer *has* ``static_entitlements`` or ``grant``/``revoke`` only when
its config declares them: :func:`syncer_for` builds each type's class from
the mixins it needs.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any, ClassVar

from pybaton import model
from pybaton.connector import GrantResult, Page, PageToken, ResourceSyncer, RevokeResult
from pybaton.connector.http import Action as Verdict
from pybaton.connector.http import HttpClient, HttpStatusError, StatusRule
from pybaton.connectors.http.compiled import Action, Compiled, Provisioner, TypeSpec
from pybaton.connectors.http.mapping import resource_view
from pybaton.connectors.http.requests import response_env
from pybaton.connectors.http.values import truth
from pybaton.errors import FatalError, ProvisioningError
from pybaton.pb.c1.connector.v2 import entitlement_pb2, grant_pb2, resource_pb2

log = logging.getLogger("pybaton.connectors.http")


def _id_view(rid: resource_pb2.ResourceId) -> dict[str, Any]:
    return {"id": rid.resource, "type": rid.resource_type}


class HttpSyncer(ResourceSyncer):
    """Lists a type (static resources first, then its ``list`` pages), its entitlements and grants."""

    resource_type: ClassVar[resource_pb2.ResourceType]

    def __init__(self, spec: TypeSpec, compiled: Compiled, client: HttpClient) -> None:
        self.spec = spec
        self.compiled = compiled
        self.client = client

    def list(self, parent: resource_pb2.ResourceId | None, page: PageToken) -> Page[resource_pb2.Resource]:
        if (parent is None) != (not self.spec.parent) or (parent is not None
                                                           and parent.resource_type != self.spec.parent):
            return Page()
        env: dict[str, Any] = {"vars": self.compiled.vars}
        if parent is not None:
            env["parent_resource"] = _id_view(parent)
        items = [b.build(env, parent) for b in self.spec.statics] if page.first else []
        listing = self.spec.listing
        if listing is None:
            return Page(items)
        fetched = listing.endpoint.page(self.client, env, page.token, page.size)
        items += [listing.builder.build({**env, "item": item}, parent) for item in fetched.items]
        return Page(items, fetched.next_token)

    def entitlements(self, resource: resource_pb2.Resource,
                     page: PageToken) -> Page[entitlement_pb2.Entitlement]:
        """The static entitlements (first page), then each ``entitlements`` request in turn."""
        env, types = self._env(resource), self.compiled.by_id
        out = [b.build(env, resource, types) for b in self.spec.static_entitlements] if page.first else []
        if not self.spec.entitlements:
            return Page(out)
        index, inner = _split(page.token, len(self.spec.entitlements), "entitlements")
        source = self.spec.entitlements[index]
        fetched = source.endpoint.page(self.client, env, inner, page.size)
        out += [source.builder.build({**env, "item": item}, resource, types) for item in fetched.items]
        return Page(out, _next(index, fetched.next_token, len(self.spec.entitlements)))

    def grants(self, resource: resource_pb2.Resource, page: PageToken) -> Page[grant_pb2.Grant]:
        """Each ``grants`` request in turn; the token says which one and where in it."""
        if not self.spec.grants:
            return Page()
        index, inner = _split(page.token, len(self.spec.grants), "grants")
        source, env = self.spec.grants[index], self._env(resource)
        fetched = source.endpoint.page(self.client, env, inner, page.size)
        out = [source.builder.build({**env, "item": item}, resource) for item in fetched.items]
        return Page(out, _next(index, fetched.next_token, len(self.spec.grants)))

    def _env(self, resource: resource_pb2.Resource) -> dict[str, Any]:
        env: dict[str, Any] = {"resource": resource_view(resource), "vars": self.compiled.vars}
        if resource.HasField("parent_resource_id"):
            env["parent_resource"] = _id_view(resource.parent_resource_id)
        return env


class GranterMixin(HttpSyncer):
    """Grant and revoke with the configured requests; ``success_condition`` decides what worked.

    Pre-requests run first and their answers are ``pre_requests.NAME``.
    Without a condition a 2xx answer is success. A 409 (or 304) that the
    condition accepts is reported as "already granted", a 404/410 on revoke as
    "already revoked", so the audit log tells no-ops from writes.
    """

    def grant(self, principal: resource_pb2.Resource, entitlement: entitlement_pb2.Entitlement) -> GrantResult:
        env = self._provision_env(entitlement, principal=principal)
        status = self._run("grant", env)
        rtype, rid, name = self._target(entitlement)
        result = [model.grant(model.entitlement_ref(model.resource_id(rtype, rid), name), principal.id)]
        return GrantResult(result, already_exists=status in (304, 409))

    def revoke(self, grant: grant_pb2.Grant) -> RevokeResult:
        env = self._provision_env(grant.entitlement, principal=grant.principal)
        status = self._run("revoke", env)
        return RevokeResult(already_revoked=status in (404, 410))

    def _target(self, entitlement: entitlement_pb2.Entitlement) -> tuple[str, str, str]:
        rtype, rid, name = model.split_entitlement_id(entitlement.id)
        if rtype != self.spec.type_id:
            raise ProvisioningError(f"{entitlement.id} is not an entitlement of {self.spec.type_id}")
        return rtype, rid, name

    def _provisioner(self, name: str) -> Provisioner:
        found = self.spec.provisioners.get(name) or self.spec.provisioners.get("*")
        if found is None:
            raise ProvisioningError(f"{self.spec.type_id}: entitlement {name!r} has no provisioning in the config")
        return found

    def _provision_env(self, entitlement: entitlement_pb2.Entitlement, *,
                       principal: resource_pb2.Resource) -> dict[str, Any]:
        rtype, rid, name = self._target(entitlement)
        resource = resource_view(entitlement.resource) if entitlement.resource.id.resource else \
            _id_view(model.resource_id(rtype, rid))
        env: dict[str, Any] = {
            "principal": resource_view(principal), "resource": resource, "vars": self.compiled.vars,
            "entitlement": {"id": entitlement.id, "name": name, "slug": entitlement.slug or name,
                            "resource_id": rid, "resource_type": rtype},
            "_name": name,
        }
        if entitlement.resource.HasField("parent_resource_id"):
            env["parent_resource"] = _id_view(entitlement.resource.parent_resource_id)
        return env

    def _run(self, which: str, env: Mapping[str, Any]) -> int:
        """Send the grant/revoke request; its status, or a :class:`ProvisioningError` if it did not work."""
        action: Action | None = getattr(self._provisioner(env["_name"]), which)
        if action is None:
            raise ProvisioningError(f"{self.spec.type_id}: entitlement {env['_name']!r} has no {which} request")
        endpoint = action.endpoint
        rules = {"4xx": StatusRule(Verdict.IGNORE), **endpoint.rules} if action.success is not None \
            else endpoint.rules
        try:
            env = endpoint.with_pre_requests(self.client, env)
        except HttpStatusError as exc:
            raise ProvisioningError(f"{self.spec.type_id} {which}: a pre-request failed: {exc}") from exc
        response = endpoint.send(self.client, env, rules=rules)
        outcome = {**env, "response": response_env(response)}
        ok = truth(action.success, outcome, f"{endpoint.site}.success_condition") \
            if action.success is not None else response.is_success
        if not ok:
            raise ProvisioningError(f"{self.spec.type_id} {which}: the API answered {response.status_code} and "
                                    "the success_condition is false")
        return response.status_code


def _next(index: int, inner: str, count: int) -> str:
    """The token after a page of request ``index``: more of it, else the next request, else done."""
    if inner:
        return json.dumps({"b": index, "t": inner}, separators=(",", ":"))
    return json.dumps({"b": index + 1, "t": ""}, separators=(",", ":")) if index + 1 < count else ""


def _split(token: str, count: int, what: str) -> tuple[int, str]:
    if not token:
        return 0, ""
    try:
        state = json.loads(token)
        index, inner = int(state["b"]), str(state["t"])
    except (ValueError, KeyError, TypeError):
        raise FatalError(f"malformed {what} page token {token[:60]!r}") from None
    if not 0 <= index < count:
        raise FatalError(f"{what} page token names request {index}, which does not exist")
    return index, inner


def syncer_for(spec: TypeSpec, compiled: Compiled, client: HttpClient) -> HttpSyncer:
    """An instance of a class made for ``spec``: its resource type and only the capabilities it has."""
    bases: list[type[HttpSyncer]] = []
    if any(p.grant or p.revoke for p in spec.provisioners.values()):
        bases.append(GranterMixin)
    cls = type(f"HttpSyncer_{spec.type_id}", (*bases, HttpSyncer), {"resource_type": spec.resource_type})
    syncer: HttpSyncer = cls(spec, compiled, client)
    return syncer


__all__ = ["GranterMixin", "HttpSyncer", "syncer_for"]
