"""Small connectors for tests of the runner, the engine and the conformance kit.

``Toy`` is a well-behaved connector (users, groups with a static ``member``
entitlement, offset pagination) whose size, latency and secrets are config, so
each test builds exactly the data it needs without depending on the built-ins.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from pydantic import Field, SecretStr

from pybaton import model
from pybaton.connector import (
    AccountInfo,
    Connector,
    ConnectorConfig,
    ConnectorMetadata,
    CreateAccountResult,
    CreateAccountStatus,
    CredentialOptions,
    Page,
    PageToken,
    ResourceSyncer,
)
from pybaton.pb.c1.connector.v2 import entitlement_pb2, grant_pb2, resource_pb2

log = logging.getLogger("toy.connector")

USER = model.resource_type("user", "User", traits=["user"])
GROUP = model.resource_type("group", "Group", traits=["group"])


class ToyConfig(ConnectorConfig):
    users: int = Field(10, ge=0, description="how many users")
    groups: int = Field(3, ge=0, description="how many groups")
    latency_ms: float = Field(0, ge=0, description="sleep in every call")
    api_token: SecretStr = Field(SecretStr("default-token-Zq9"), description="the API token")
    region: str = Field("eu", description="where the toy lives")
    tags: list[str] = Field(default_factory=list, description="free-form tags")


def window(token: str, size: int, total: int) -> tuple[range, str]:
    start = int(token or 0)
    stop = min(start + size, total)
    return range(start, stop), (str(stop) if stop < total else "")


class ToySyncer(ResourceSyncer):
    def __init__(self, config: ToyConfig) -> None:
        self.config = config

    def pause(self) -> None:
        if self.config.latency_ms:
            time.sleep(self.config.latency_ms / 1000)


class UserSyncer(ToySyncer):
    resource_type = USER

    def list(self, parent: resource_pb2.ResourceId | None, page: PageToken) -> Page[resource_pb2.Resource]:
        self.pause()
        log.debug("listing users with token %s", self.config.api_token.get_secret_value())
        positions, token = window(page.token, page.size, self.config.users)
        return Page([model.resource(USER, f"u{i}", f"User {i}", traits=[model.user_trait(login=f"u{i}")])
                     for i in positions], token)

    def get(self, resource_id: resource_pb2.ResourceId,
            parent: resource_pb2.ResourceId | None = None) -> resource_pb2.Resource | None:
        i = int(resource_id.resource.removeprefix("u"))
        return model.resource(USER, f"u{i}", f"User {i}", traits=[model.user_trait(login=f"u{i}")])

    def create_account(self, info: AccountInfo, credentials: CredentialOptions) -> CreateAccountResult:
        return CreateAccountResult(CreateAccountStatus.SUCCESS)

    def account_creation_schema(self) -> dict[str, Any]:
        return {"login": {"display_name": "Login", "required": True, "string_field": {}}}


class GroupSyncer(ToySyncer):
    resource_type = GROUP

    def list(self, parent: resource_pb2.ResourceId | None, page: PageToken) -> Page[resource_pb2.Resource]:
        self.pause()
        positions, token = window(page.token, page.size, self.config.groups)
        return Page([model.resource(GROUP, f"g{i}", f"Group {i}", traits=[model.group_trait()])
                     for i in positions], token)

    def static_entitlements(self) -> Sequence[entitlement_pb2.Entitlement]:
        return [entitlement_pb2.Entitlement(slug="member", display_name="member")]

    def members(self, group: int) -> list[int]:
        return [u for u in range(self.config.users) if u % max(self.config.groups, 1) == group]

    def grants(self, resource: resource_pb2.Resource, page: PageToken) -> Page[grant_pb2.Grant]:
        self.pause()
        members = self.members(int(resource.id.resource.removeprefix("g")))
        positions, token = window(page.token, page.size, len(members))
        ent = model.entitlement_ref(resource, "member")
        return Page([model.grant(ent, model.resource_id("user", f"u{members[i]}")) for i in positions], token)

    def grant(self, principal: resource_pb2.Resource,
              entitlement: entitlement_pb2.Entitlement) -> Sequence[grant_pb2.Grant] | None:
        return None

    def revoke(self, grant: grant_pb2.Grant) -> None:
        return None


class Toy(Connector[ToyConfig]):
    metadata = ConnectorMetadata("toy", "Toy connector", "users and groups for tests")
    config_class = ToyConfig

    def syncers(self) -> Sequence[ResourceSyncer]:
        return [UserSyncer(self.config), GroupSyncer(self.config)]

    def expected_counts(self) -> dict[str, int]:
        """What a full sync must hold: every user, group, member entitlement and membership."""
        return {"resources": self.config.users + self.config.groups, "entitlements": self.config.groups,
                "grants": self.config.users if self.config.groups else 0}


def toy(**settings: Any) -> Toy:
    return Toy(ToyConfig(**settings))
