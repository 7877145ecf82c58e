"""The ``scale`` connector: deterministic synthetic data of any size, for benchmarks.

Same flags, same data; nothing held in memory (see :mod:`.model`). Grants are
built from one serialized template per entitlement and page
(:class:`~pybaton.connectors.grants.GrantTemplate`), so the connector is not
what a benchmark of the engine ends up measuring. ``--latency-ms`` sleeps in
every call (releasing the GIL) to imitate a remote API, so workers can overlap.
"""

from __future__ import annotations

import time
from abc import abstractmethod
from collections.abc import Sequence
from typing import ClassVar

from pydantic import Field, model_validator

from pybaton import model
from pybaton.connector import Connector, ConnectorConfig, ConnectorMetadata, Page, PageToken, ResourceSyncer
from pybaton.connectors.entitlements import static_entitlement
from pybaton.connectors.grants import GrantTemplate
from pybaton.connectors.paging import window
from pybaton.connectors.scale.model import APP_SLUGS, ScaleModel
from pybaton.errors import NotFoundError
from pybaton.pb.c1.connector.v2 import (
    annotation_resource_tree_pb2,
    annotation_trait_pb2,
    entitlement_pb2,
    grant_pb2,
    resource_pb2,
)

USER = model.resource_type("user", "User", traits=["user"],
                           annotations=[annotation_resource_tree_pb2.SkipEntitlementsAndGrants()])
GROUP = model.resource_type("group", "Group", traits=["group"])
APP = model.resource_type("app", "Application", traits=["app"])
DOMAIN = "scale.example"


class ScaleConfig(ConnectorConfig):
    users: int = Field(default=1000, ge=1, description="Number of users")
    groups: int = Field(default=100, ge=1, description="Number of groups")
    depth: int = Field(default=3, ge=1, le=64, description="Levels of group nesting (1 = flat)")
    grants: int = Field(default=10000, ge=0, description="Direct user → group membership grants")
    apps: int = Field(default=10, ge=0, description="Number of apps (read/write/admin each)")
    latency_ms: float = Field(default=0, ge=0, description="Artificial delay of every call, in milliseconds")
    seed: int = Field(default=0, description="Varies who is in which group (ids stay the same)")

    @model_validator(mode="after")
    def _consistent(self) -> ScaleConfig:
        """Reject impossible combinations (more grants than users * groups) when flags are read."""
        self.to_model()
        return self

    def to_model(self) -> ScaleModel:
        return ScaleModel(self.users, self.groups, self.depth, self.grants, self.apps, self.seed)


class ScaleSyncer(ResourceSyncer):
    """Offset-paged listing of ``count`` resources named ``{prefix}{index}``."""

    prefix: ClassVar[str]

    def __init__(self, data: ScaleModel, latency: float) -> None:
        self.data = data
        self.latency = latency

    @property
    @abstractmethod
    def count(self) -> int:
        """How many resources of this type there are."""

    @abstractmethod
    def build(self, index: int) -> resource_pb2.Resource:
        """The resource at ``index``."""

    def _call(self, page: PageToken | None = None) -> int:
        """Imitate the remote round trip; return the page size to use (the engine's ``--page-size``)."""
        if self.latency:
            time.sleep(self.latency)
        return page.size if page is not None else 0

    def list(self, parent: resource_pb2.ResourceId | None, page: PageToken) -> Page[resource_pb2.Resource]:
        size = self._call(page)
        if parent is not None:
            return Page()
        positions, token = window(page.token, size, self.count)
        return Page([self.build(i) for i in positions], token)

    def get(self, resource_id: resource_pb2.ResourceId,
            parent: resource_pb2.ResourceId | None = None) -> resource_pb2.Resource | None:
        self._call()
        index = self.index_of(resource_id.resource) if resource_id.resource_type == self.resource_type.id else None
        return None if index is None else self.build(index)

    def index_of(self, rid: str) -> int | None:
        digits = rid[len(self.prefix):]
        if not rid.startswith(self.prefix) or not digits.isdigit() or str(int(digits)) != digits:
            return None
        index = int(digits)
        return index if index < self.count else None

    def _require(self, res: resource_pb2.Resource) -> int:
        index = self.index_of(res.id.resource)
        if index is None:
            raise NotFoundError(f"{res.id.resource_type}:{res.id.resource} does not exist")
        return index


def build_user(index: int) -> resource_pb2.Resource:
    """User ``index`` with the general builders (the reference :class:`UserSyncer` must match)."""
    rid = f"u{index}"
    trait = model.user_trait(emails=[f"{rid}@{DOMAIN}"], login=rid)
    return model.resource(USER, rid, f"User {index}", traits=[trait])


class UserSyncer(ScaleSyncer):
    """Users, built from one serialized template (a sync lists 100k of them): the same message as
    :func:`build_user` at about a third of the cost (``tests/test_connector_scale.py`` compares them)."""

    resource_type = USER
    prefix = "u"

    def __init__(self, data: ScaleModel, latency: float) -> None:
        super().__init__(data, latency)
        template = build_user(0)
        self._resource = template.SerializeToString()
        trait = annotation_trait_pb2.UserTrait()
        template.annotations[0].Unpack(trait)
        self._trait = trait.SerializeToString()

    @property
    def count(self) -> int:
        return self.data.users

    def build(self, index: int) -> resource_pb2.Resource:
        rid = f"u{index}"
        trait = annotation_trait_pb2.UserTrait.FromString(self._trait)
        trait.login = rid
        trait.emails[0].address = f"{rid}@{DOMAIN}"
        res = resource_pb2.Resource.FromString(self._resource)
        res.id.resource = rid
        res.display_name = f"User {index}"
        res.annotations[0].value = trait.SerializeToString()
        return res


class GroupSyncer(ScaleSyncer):
    """Groups: nested children first (expandable grants), then direct user members."""

    resource_type = GROUP
    prefix = "g"

    @property
    def count(self) -> int:
        return self.data.groups

    def build(self, index: int) -> resource_pb2.Resource:
        return model.resource(GROUP, f"g{index}", f"Group {index}",
                              traits=[model.group_trait({"level": self.data.level(index)})])

    def static_entitlements(self) -> Sequence[entitlement_pb2.Entitlement]:
        return [static_entitlement("member", grantable_to=[USER, GROUP])]

    def grants(self, resource: resource_pb2.Resource, page: PageToken) -> Page[grant_pb2.Grant]:
        size = self._call(page)
        group = self._require(resource)
        children = self.data.children(group)
        positions, token = window(page.token, size, len(children) + self.data.direct_count(group))
        ent = model.entitlement_ref(resource, "member")
        nested = [_expandable(ent, f"g{c}") for c in children[positions.start:positions.stop]]
        first, stop = max(positions.start - len(children), 0), max(positions.stop - len(children), 0)
        member = GrantTemplate(ent, USER.id)
        return Page(nested + [member(f"u{u}") for u in self.data.members(group, range(first, stop))], token)


def _expandable(ent: entitlement_pb2.Entitlement, group_id: str) -> grant_pb2.Grant:
    """A group holding ``ent``: its members hold it too (resolved by the engine's expansion)."""
    return model.grant(ent, model.resource_id(GROUP.id, group_id),
                       expandable=[model.entitlement_id(GROUP.id, group_id, "member")])


class AppSyncer(ScaleSyncer):
    """Apps with per-resource entitlements (read/write/admin), granted to groups and users."""

    resource_type = APP
    prefix = "app"

    @property
    def count(self) -> int:
        return self.data.apps

    def build(self, index: int) -> resource_pb2.Resource:
        return model.resource(APP, f"app{index}", f"App {index}",
                              traits=[model.app_trait(help_url=f"https://app{index}.{DOMAIN}")])

    def entitlements(self, resource: resource_pb2.Resource,
                     page: PageToken) -> Page[entitlement_pb2.Entitlement]:
        size = self._call(page)
        self._require(resource)
        positions, token = window(page.token, size, len(APP_SLUGS))
        return Page([model.permission(resource, APP_SLUGS[i], grantable_to=[USER, GROUP]) for i in positions],
                    token)

    def grants(self, resource: resource_pb2.Resource, page: PageToken) -> Page[grant_pb2.Grant]:
        """All of an app's grants in one page: a handful, however large the config."""
        self._call(page)
        app = self._require(resource)
        out: list[grant_pb2.Grant] = []
        for slug_index, slug in enumerate(APP_SLUGS):
            ent = model.entitlement_ref(resource, slug)
            out += [_expandable(ent, f"g{g}") for g in self.data.app_groups(app, slug_index)]
            user = GrantTemplate(ent, USER.id)
            out += [user(f"u{u}") for u in self.data.app_users(app, slug_index)]
        return Page(out)


class ScaleConnector(Connector[ScaleConfig]):
    """Synthetic users, nested groups and apps of any size; deterministic for a given set of flags."""

    metadata = ConnectorMetadata(
        name="scale", display_name="Synthetic scale data",
        description="Deterministic synthetic users, nested groups and apps of any size, for benchmarks")
    config_class = ScaleConfig
    fork_safe = True  # pure arithmetic: the engine may list grants in a forked child

    def __init__(self, config: ScaleConfig) -> None:
        super().__init__(config)
        args = (config.to_model(), config.latency_ms / 1000)
        self._syncers = [UserSyncer(*args), GroupSyncer(*args), AppSyncer(*args)]

    def syncers(self) -> Sequence[ScaleSyncer]:
        return self._syncers
