"""``sync --incremental`` against the real SCIM server: ``meta.lastModified`` filter plus an id-only scan."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest
from incremental_support import COMPACTED_RUNS, assert_same_as_full, run_types, sync_once

from pybaton.connectors.scim import ScimConfig, ScimConnector
from pybaton.connectors.scim.client import GROUP_SCHEMA, USER_SCHEMA
from pybaton.testing.servers import ScimServer

pytestmark = [pytest.mark.servers, pytest.mark.xdist_group("scim")]

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


class Service:
    """Users and groups under a unique prefix, changed over SCIM as an administrator would."""

    def __init__(self, server: ScimServer) -> None:
        self.server = server
        self.prefix = f"i{secrets.token_hex(3)}-"
        self.ids: dict[str, str] = {}

    def call(self, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
        status, answer = self.server.request(method, path, body)
        assert status in (expect, 204 if method == "PATCH" else expect), answer
        return answer

    def user(self, name: str) -> None:
        self.ids[name] = self.call("POST", "Users", {"schemas": [USER_SCHEMA], "userName": self.prefix + name},
                                   201)["id"]

    def group(self, name: str, *members: str) -> None:
        value = [{"value": self.ids[m], "type": "Group" if m.startswith("g") else "User"} for m in members]
        self.ids[name] = self.call("POST", "Groups", {"schemas": [GROUP_SCHEMA], "displayName": self.prefix + name,
                                                      "members": value}, 201)["id"]

    def patch(self, name: str, op: str, path: str, value: Any) -> None:
        kind = "Groups" if name.startswith("g") else "Users"
        self.call("PATCH", f"{kind}/{self.ids[name]}", {"schemas": [PATCH], "Operations": [
            {"op": op, "path": path, **({"value": value} if value is not None else {})}]})

    def add_member(self, group: str, member: str) -> None:
        self.patch(group, "add", "members", [{"value": self.ids[member],
                                              "type": "Group" if member.startswith("g") else "User"}])

    def remove_member(self, group: str, member: str) -> None:
        self.patch(group, "remove", f'members[value eq "{self.ids[member]}"]', None)

    def delete(self, name: str) -> None:
        self.call("DELETE", f"{'Groups' if name.startswith('g') else 'Users'}/{self.ids.pop(name)}", expect=204)

    def connector(self) -> ScimConnector:
        return ScimConnector(ScimConfig(url=self.server.base_url, token=self.server.token,  # type: ignore[arg-type]
                                        user_filter=f'userName sw "{self.prefix}"',
                                        group_filter=f'displayName sw "{self.prefix}"'))


def synced(service: Service, path: Path, incremental: bool) -> None:
    sync_once(service.connector, path, incremental=incremental)


def test_each_kind_of_change_equals_a_full_sync(scim_server: ScimServer, tmp_path: Path) -> None:
    service = Service(scim_server)
    for name in ("ann", "ben", "cat", "dan"):
        service.user(name)
    service.group("g-inner", "ann", "ben")
    service.group("g-outer", "cat", "g-inner")
    path = tmp_path / "scim.c1z"
    synced(service, path, incremental=False)
    steps = [
        lambda: service.patch("ann", "replace", "displayName", "Ann A"),
        lambda: service.patch("ben", "replace", "active", False),
        lambda: service.add_member("g-inner", "dan"),
        lambda: service.remove_member("g-outer", "g-inner"),
        lambda: service.user("eve"),
        lambda: service.group("g-new", "eve", "g-outer"),
        lambda: service.delete("cat"),
        lambda: service.delete("g-inner"),
    ]
    for step in steps:
        step()
        synced(service, path, incremental=True)
        assert run_types(path)[-3:] == COMPACTED_RUNS
        assert_same_as_full(service.connector, path, tmp_path)
