"""The ``scim`` connector against a real scim2-server on 127.0.0.1, seeded over HTTP.

The server is shared by the session, so each test works on its own userName /
displayName prefix and syncs with a SCIM filter on it.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pybaton import model
from pybaton.c1z import C1ZFile, SyncReader
from pybaton.connector import AccountInfo, CreateAccountStatus, CredentialOptions, GrantResult
from pybaton.connectors.scim import ScimConfig, ScimConnector
from pybaton.connectors.scim.client import ENTERPRISE_SCHEMA, GROUP_SCHEMA, USER_SCHEMA
from pybaton.connectors.scim.syncers import GroupSyncer, UserSyncer, user_trait_of
from pybaton.errors import ConfigError
from pybaton.sync import SyncOptions, sync
from pybaton.testing.servers import ScimServer

pytestmark = [pytest.mark.servers, pytest.mark.xdist_group("scim")]


class Seeded:
    """Users and nested groups created for one test, under a unique prefix."""

    def __init__(self, server: ScimServer) -> None:
        self.server = server
        self.prefix = f"t{secrets.token_hex(3)}-"
        self.users: dict[str, str] = {}
        self.groups: dict[str, str] = {}

    def user(self, name: str, **extra: Any) -> str:
        status, body = self.server.request("POST", "Users", {"schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
                                                             "userName": self.prefix + name, **extra})
        assert status == 201, body
        self.users[name] = body["id"]
        return str(body["id"])

    def group(self, name: str, users: list[str] = (), groups: list[str] = ()) -> str:  # type: ignore[assignment]
        members = [{"value": self.users[u], "type": "User"} for u in users]
        members += [{"value": self.groups[g], "type": "Group"} for g in groups]
        status, body = self.server.request("POST", "Groups", {"schemas": [GROUP_SCHEMA],
                                                              "displayName": self.prefix + name, "members": members})
        assert status == 201, body
        self.groups[name] = body["id"]
        return str(body["id"])

    def members(self, group: str) -> set[str]:
        _, body = self.server.request("GET", f"Groups/{self.groups[group]}")
        return {m["value"] for m in body.get("members") or []}

    def connector(self, **extra: Any) -> ScimConnector:
        return ScimConnector(ScimConfig(url=self.server.base_url, token=self.server.token,  # type: ignore[arg-type]
                                        user_filter=f'userName sw "{self.prefix}"',
                                        group_filter=f'displayName sw "{self.prefix}"', **extra))


@pytest.fixture()
def seeded(scim_server: ScimServer) -> Iterator[Seeded]:
    s = Seeded(scim_server)
    s.user("alice", emails=[{"value": "alice@work.example", "primary": True},
                            {"value": "alice@home.example"}], externalId="ext-1", title="Engineer",
           **{ENTERPRISE_SCHEMA: {"employeeNumber": "E1", "department": "R&D", "manager": {"value": "boss"}}})
    s.user("bob", active=False)
    for i in range(12):
        s.user(f"u{i:02d}")
    s.group("inner", users=["alice", "u00"])
    s.group("middle", users=["u01"], groups=["inner"])
    s.group("outer", users=["bob"], groups=["middle"])
    yield s


def _sync(connector: ScimConnector, path: Path, **options: Any) -> SyncReader:
    sync(connector, path, SyncOptions(page_size=5, **options))
    return SyncReader.of(C1ZFile.open(path))


def test_sync_reads_users_groups_and_nested_memberships(seeded: Seeded, tmp_path: Path) -> None:
    connector = seeded.connector()
    reader = _sync(connector, tmp_path / "scim.c1z", workers=4)
    users = {r.id.resource: r for r in reader.resources("user")}
    assert set(users) == set(seeded.users.values())
    alice = user_trait_of(users[seeded.users["alice"]])
    assert alice is not None
    assert alice.login == seeded.prefix + "alice"
    assert [e.address for e in alice.emails] == ["alice@work.example", "alice@home.example"]
    assert alice.emails[0].is_primary and list(alice.employee_ids) == ["E1"]
    profile = dict(alice.profile.fields)
    assert profile["externalId"].string_value == "ext-1" and profile["manager_id"].string_value == "boss"
    assert profile["department"].string_value == "R&D"
    bob = user_trait_of(users[seeded.users["bob"]])
    assert bob is not None and bob.status.status == bob.status.STATUS_DISABLED
    grants = {g.id for g in reader.grants()}
    g = seeded.groups
    assert model.grant_id(f"group:{g['middle']}:member", "group", g["inner"]) in grants
    # expansion: alice is in inner, inner in middle, middle in outer
    for outer in ("middle", "outer"):
        assert model.grant_id(f"group:{g[outer]}:member", "user", seeded.users["alice"]) in grants
    assert {r.id.resource for r in reader.resources("group")} == set(g.values())
    assert connector.http.stats.requests > 0


def test_targeted_get(seeded: Seeded) -> None:
    connector = seeded.connector()
    users, groups = connector.syncers()
    assert isinstance(users, UserSyncer) and isinstance(groups, GroupSyncer)
    got = users.get(model.resource_id("user", seeded.users["alice"]))
    assert got is not None and got.display_name
    assert groups.get(model.resource_id("group", seeded.groups["outer"])) is not None
    assert users.get(model.resource_id("user", "no-such-id")) is None


def test_grant_and_revoke_membership_round_trip(seeded: Seeded) -> None:
    connector = seeded.connector()
    groups = connector.syncers()[1]
    assert isinstance(groups, GroupSyncer)
    ent = model.entitlement_ref(model.resource_id("group", seeded.groups["inner"]), "member")
    bob = model.resource("user", seeded.users["bob"], "bob")
    result = groups.grant(bob, ent)
    assert isinstance(result, GrantResult) and not result.already_exists
    assert seeded.users["bob"] in seeded.members("inner")
    again = groups.grant(bob, ent)
    assert isinstance(again, GrantResult) and again.already_exists
    grant = model.grant(ent, bob.id)
    first = groups.revoke(grant)
    assert first is not None and not first.already_revoked
    assert seeded.users["bob"] not in seeded.members("inner")
    second = groups.revoke(grant)
    assert second is not None and second.already_revoked


def test_members_are_added_in_batches(seeded: Seeded) -> None:
    connector = seeded.connector(max_members_per_patch=2)
    groups = connector.syncers()[1]
    assert isinstance(groups, GroupSyncer)
    target = seeded.group("big")
    _ = connector.client.capabilities  # discovery first, so only the PATCH requests are counted
    before = connector.http.stats.requests
    added = groups.add_members(target, [("user", seeded.users[f"u{i:02d}"]) for i in range(5)])
    assert added == 5 and connector.http.stats.requests - before == 3  # 2 + 2 + 1
    assert seeded.members("big") == {seeded.users[f"u{i:02d}"] for i in range(5)}
    groups.remove_members(target, [seeded.users["u00"], seeded.users["u01"], seeded.users["u02"]])
    assert seeded.members("big") == {seeded.users["u03"], seeded.users["u04"]}


def test_create_delete_and_deactivate_accounts(seeded: Seeded, scim_server: ScimServer) -> None:
    users = seeded.connector().syncers()[0]
    assert isinstance(users, UserSyncer)
    info = AccountInfo(login=seeded.prefix + "carol", emails=["carol@example.org"],
                       profile={"givenName": "Carol", "department": "Ops"})
    created = users.create_account(info, CredentialOptions(length=16))
    assert created.status is CreateAccountStatus.SUCCESS and created.resource is not None
    assert len(created.credentials) == 1 and "value=<redacted>" in repr(created.credentials[0])
    rid = created.resource.id.resource
    status, body = scim_server.request("GET", f"Users/{rid}")
    assert status == 200 and body["emails"][0]["value"] == "carol@example.org"
    assert body[ENTERPRISE_SCHEMA]["department"] == "Ops" and "password" not in body
    assert users.create_account(info, CredentialOptions(kind="none")).status is CreateAccountStatus.ALREADY_EXISTS
    assert users.rotate_credentials(created.resource.id, CredentialOptions(length=20))[0].value
    deactivating = seeded.connector(deactivate_on_delete=True).syncers()[0]
    assert isinstance(deactivating, UserSyncer)
    assert not deactivating.delete_resource(created.resource.id).already_deleted
    assert scim_server.request("GET", f"Users/{rid}")[1]["active"] is False
    assert deactivating.delete_resource(created.resource.id).already_deleted
    assert not users.delete_resource(created.resource.id).already_deleted
    assert scim_server.request("GET", f"Users/{rid}")[0] == 404
    assert users.delete_resource(created.resource.id).already_deleted


def test_members_without_type_are_told_apart_by_group_ids(seeded: Seeded, tmp_path: Path) -> None:
    status, body = seeded.server.request("POST", "Groups", {
        "schemas": [GROUP_SCHEMA], "displayName": seeded.prefix + "untyped",
        "members": [{"value": seeded.groups["inner"]}, {"value": seeded.users["u05"]}]})
    assert status == 201
    connector = seeded.connector()
    groups = connector.syncers()[1]
    assert isinstance(groups, GroupSyncer)
    assert set(groups.members(body["id"])) == {("group", seeded.groups["inner"]), ("user", seeded.users["u05"])}


def test_bad_token_fails_validation_clearly(scim_server: ScimServer) -> None:
    from pybaton.errors import AuthenticationError

    connector = ScimConnector(ScimConfig(url=scim_server.base_url, token="wrong"))  # type: ignore[arg-type]
    with pytest.raises(AuthenticationError):
        connector.validate()


def test_one_auth_method_at_a_time() -> None:
    with pytest.raises(ConfigError):
        ScimConnector(ScimConfig(url="http://127.0.0.1:1", token="t", username="u",  # type: ignore[arg-type]
                                 password="p"))  # type: ignore[arg-type]


def test_cursor_pagination_rfc9865(tmp_path: Path) -> None:
    pytest.importorskip("cryptography", reason="scim2-server's cursors need the cryptography package")
    config = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
              "patch": {"supported": True}, "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
              "filter": {"supported": True, "maxResults": 100}, "changePassword": {"supported": False},
              "sort": {"supported": False}, "etag": {"supported": False},
              "pagination": {"cursor": True, "index": True, "defaultPaginationMethod": "cursor",
                             "maxPageSize": 4}}
    spc = tmp_path / "spc.json"
    spc.write_text(json.dumps(config))
    with ScimServer(extra_args=["--service-provider-config", str(spc)]) as server:
        ids = {server.request("POST", "Users", {"schemas": [USER_SCHEMA], "userName": f"c{i}"})[1]["id"]
               for i in range(11)}
        connector = ScimConnector(ScimConfig(url=server.base_url, token=server.token))  # type: ignore[arg-type]
        assert connector.client.uses_cursor()
        reader = _sync(connector, tmp_path / "cursor.c1z")
        assert {r.id.resource for r in reader.resources("user")} == ids
        # 11 users in pages of at most 4 (the server's maxPageSize caps our page size of 5)
        assert connector.client.capabilities.page_cap(5) == 4
