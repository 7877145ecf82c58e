"""The built-in ``demo`` connector (Acme Corp), called directly without the engine."""

from __future__ import annotations

import importlib
import importlib.metadata
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from connector_walk import Walk, check_references, check_traits, exhaust, walk

from pybaton import model
from pybaton.connector import (
    AccountCreator,
    AccountInfo,
    CreateAccountStatus,
    CredentialOptions,
    CredentialRotator,
    DeleteResult,
    Granter,
    GrantResult,
    PageToken,
    PasswordConstraint,
    ResourceDeleter,
    ResourceGetter,
    RevokeResult,
    StaticEntitlements,
)
from pybaton.connector.capabilities import capabilities_of
from pybaton.connectors import BUILTIN, builtin_connectors, load_builtin
from pybaton.connectors.demo import DemoConfig, DemoConnector, default_data_dir, seed
from pybaton.connectors.demo.syncers import DemoSyncer
from pybaton.errors import FatalError, ProvisioningError, UserError
from pybaton.model import annotations as ann
from pybaton.pb.c1.connector.v2 import annotation_trait_pb2, resource_pb2


def demo(data_dir: Path, **settings: object) -> DemoConnector:
    return DemoConnector(DemoConfig(data_dir=data_dir, **settings))  # type: ignore[arg-type]


@pytest.fixture
def connector(tmp_path: Path) -> Iterator[DemoConnector]:
    c = demo(tmp_path / "acme")
    yield c
    c.close()


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DemoConnector, Walk]]:
    """One read-only walk shared by the tests that only look."""
    c = demo(tmp_path_factory.mktemp("acme"))
    yield c, walk(c, size=100)
    c.close()


def syncer(c: DemoConnector, type_id: str) -> DemoSyncer:
    s = c.syncer_for(type_id)
    assert isinstance(s, DemoSyncer)
    return s


def rid(type_id: str, resource_id: str) -> resource_pb2.ResourceId:
    return model.resource_id(type_id, resource_id)


def principal(type_id: str, resource_id: str) -> resource_pb2.Resource:
    return resource_pb2.Resource(id=rid(type_id, resource_id))


def ent(c: DemoConnector, ent_id: str) -> model.Entitlement:
    rtype, res_id, slug = model.split_entitlement_id(ent_id)
    res = syncer(c, rtype).get(rid(rtype, res_id))
    assert res is not None
    return model.entitlement(res, slug)


def holders(c: DemoConnector, ent_id: str) -> set[str]:
    rtype, res_id, _ = model.split_entitlement_id(ent_id)
    s = syncer(c, rtype)
    res = s.get(rid(rtype, res_id))
    assert res is not None
    grants, _ = exhaust(lambda pt: s.grants(res, pt), 100)
    return {f"{g.principal.id.resource_type}:{g.principal.id.resource}" for g in grants
            if g.entitlement.id == ent_id}


# -- what a sync sees ------------------------------------------------------------------------------

def test_everything_listed_once_matches_the_seed(seeded: tuple[DemoConnector, Walk]) -> None:
    _, w = seeded
    assert len(w.of_type("user")) == len(seed.people()) == 51
    assert len(w.of_type("group")) == len(seed.groups())
    assert len(w.of_type("role")) == len(seed.ROLES)
    assert len(w.of_type("app")) == len(seed.APPS)
    assert len(w.of_type("project")) == len(seed.PROJECTS)
    assert len(w.of_type("api_key")) == len(seed.api_keys())
    static = len(seed.groups()) + len(seed.ROLES)
    assert len(w.entitlements) == static + len(list(seed.entitlement_rows()))
    assert len(w.grants) == len(list(seed.access()))


def test_users_need_three_pages_at_the_default_cap(connector: DemoConnector) -> None:
    users = syncer(connector, "user")
    items, pages = exhaust(lambda pt: users.list(None, pt), 100)
    assert pages >= 3 and len(items) == 51
    first = users.list(None, PageToken("", 5))
    assert len(first.items) == 5 and first.next_token


@pytest.mark.parametrize("size", [1, 3, 50])
def test_page_size_does_not_change_the_data(seeded: tuple[DemoConnector, Walk], size: int) -> None:
    c, full = seeded
    w = walk(c, size=size)
    assert w.resources.keys() == full.resources.keys()
    assert w.entitlements.keys() == full.entitlements.keys()
    assert w.grants.keys() == full.grants.keys()


def test_malformed_grant_token_is_fatal(connector: DemoConnector) -> None:
    groups = syncer(connector, "group")
    res = groups.get(rid("group", "everyone"))
    assert res is not None
    with pytest.raises(FatalError):
        groups.grants(res, PageToken("not-a-number", 10))


def test_ids_and_bytes_stable_across_instances(tmp_path: Path, seeded: tuple[DemoConnector, Walk]) -> None:
    _, first = seeded
    c = demo(tmp_path / "other")
    second = walk(c, size=9)
    c.close()
    for key, res in first.resources.items():
        assert second.resources[key].SerializeToString(deterministic=True) == \
            res.SerializeToString(deterministic=True)
    assert second.entitlements.keys() == first.entitlements.keys()
    assert second.grants.keys() == first.grants.keys()


def test_traits_match_types_and_references_resolve(seeded: tuple[DemoConnector, Walk]) -> None:
    c, w = seeded
    check_traits(c, w)
    check_references(w)


def test_nested_group_grants_are_expandable(seeded: tuple[DemoConnector, Walk]) -> None:
    _, w = seeded
    for g in w.grants.values():
        pid = g.principal.id
        want = [f"group:{pid.resource}:member"] if pid.resource_type == "group" else []
        assert model.expandable_from(g) == want, g.id
    chain = {"group:engineering:member:group:platform", "group:platform:member:group:sre"}
    assert chain <= w.grants.keys()


def test_projects_are_children_of_apps(seeded: tuple[DemoConnector, Walk]) -> None:
    c, w = seeded
    projects = syncer(c, "project")
    assert not projects.list(None, PageToken()).items
    for project in w.of_type("project"):
        app = project.parent_resource_id
        assert app.resource_type == "app" and ("app", app.resource) in w.resources
        assert project.id.resource.startswith(app.resource + "/")
    assert {g.id for g in w.grants.values() if g.entitlement.resource.id.resource_type == "project"}


def test_people_details(seeded: tuple[DemoConnector, Walk]) -> None:
    _, w = seeded
    traits = {r.id.resource: ann.find(r.annotations, annotation_trait_pb2.UserTrait) for r in w.of_type("user")}
    kinds = annotation_trait_pb2.UserTrait
    service = [u for u, t in traits.items() if t is not None and t.account_type == kinds.ACCOUNT_TYPE_SERVICE]
    disabled = [u for u, t in traits.items() if t is not None and t.status.status == kinds.Status.STATUS_DISABLED]
    assert service == [seed.SERVICE_ACCOUNT] and len(disabled) == 1
    everyone = {t.profile["manager_id"] for t in traits.values() if t is not None and "manager_id" in t.profile}
    assert everyone <= traits.keys()
    for key in w.of_type("api_key"):
        secret = ann.find(key.annotations, annotation_trait_pb2.SecretTrait)
        assert secret is not None and secret.identity_id == rid("user", seed.SERVICE_ACCOUNT)


def test_capabilities(connector: DemoConnector) -> None:
    caps = {s.resource_type.id: set(capabilities_of(s)) for s in connector.syncers()}
    assert caps["group"] == {"static_entitlements", "get", "changes", "grant", "delete_resource"}
    assert caps["role"] == {"static_entitlements", "get", "changes", "grant"}
    assert caps["app"] == caps["project"] == {"get", "changes", "grant"}
    assert caps["user"] == {"get", "changes", "create_account", "delete_resource", "rotate_credentials"}
    assert caps["api_key"] == {"get", "changes", "delete_resource", "rotate_credentials"}
    assert isinstance(syncer(connector, "role"), StaticEntitlements)


def test_targeted_get(seeded: tuple[DemoConnector, Walk]) -> None:
    c, w = seeded
    for (type_id, res_id), res in w.resources.items():
        s = syncer(c, type_id)
        assert isinstance(s, ResourceGetter)
        assert s.get(rid(type_id, res_id)) == res
    assert syncer(c, "user").get(rid("user", "nobody")) is None
    assert syncer(c, "user").get(rid("group", "everyone")) is None


# -- provisioning ----------------------------------------------------------------------------------

def test_grant_and_revoke_are_idempotent_and_seen_by_the_next_sync(tmp_path: Path) -> None:
    c = demo(tmp_path)
    apps = syncer(c, "app")
    assert isinstance(apps, Granter)
    github_admin = ent(c, "app:github:admin")
    before = holders(c, "app:github:admin")
    first = apps.grant(principal("user", "ada.lovelace"), github_admin)
    again = apps.grant(principal("user", "ada.lovelace"), github_admin)
    assert isinstance(first, GrantResult) and isinstance(again, GrantResult)
    assert (first.already_exists, again.already_exists) == (False, True)
    assert first.grants[0].id == again.grants[0].id == "app:github:admin:user:ada.lovelace"
    c.close()
    c = demo(tmp_path)  # a later run sees the change
    assert holders(c, "app:github:admin") == before | {"user:ada.lovelace"}
    assert syncer(c, "app").revoke(first.grants[0]) == RevokeResult(already_revoked=False)
    assert syncer(c, "app").revoke(first.grants[0]) == RevokeResult(already_revoked=True)
    assert holders(c, "app:github:admin") == before
    c.close()


def test_group_grant_is_expandable_and_cycles_are_refused(connector: DemoConnector) -> None:
    groups = syncer(connector, "group")
    assert isinstance(groups, Granter)
    granted = groups.grant(principal("group", "security"), ent(connector, "group:on-call:member"))
    assert isinstance(granted, GrantResult) and model.expandable_from(granted.grants[0]) == ["group:security:member"]
    with pytest.raises(ProvisioningError, match="cycle"):
        groups.grant(principal("group", "engineering"), ent(connector, "group:sre:member"))
    with pytest.raises(ProvisioningError, match="cycle"):
        groups.grant(principal("group", "sre"), ent(connector, "group:sre:member"))


def test_bad_grants_are_refused(connector: DemoConnector) -> None:
    roles = syncer(connector, "role")
    with pytest.raises(ProvisioningError, match="does not exist"):
        roles.grant(principal("user", "nobody"), ent(connector, "role:admin:assigned"))
    with pytest.raises(ProvisioningError, match="no entitlement"):
        roles.grant(principal("user", "ada.lovelace"), model.entitlement_ref(rid("role", "admin"), "owner"))
    with pytest.raises(ProvisioningError, match="not a role"):
        roles.grant(principal("user", "ada.lovelace"), ent(connector, "group:everyone:member"))
    with pytest.raises(ProvisioningError, match="only users and groups"):
        roles.grant(principal("role", "auditor"), ent(connector, "role:admin:assigned"))


def test_create_rotate_delete_account(connector: DemoConnector) -> None:
    users = syncer(connector, "user")
    assert isinstance(users, AccountCreator) and isinstance(users, CredentialRotator)
    assert isinstance(users, ResourceDeleter)
    info = AccountInfo("New.Hire", emails=["new.hire@acme.example"],
                       profile={"display_name": "New Hire", "department": "support", "manager_id": "ivan.li"})
    options = CredentialOptions(length=16, constraints=[PasswordConstraint("0123456789", 2)])
    result = users.create_account(info, options)
    assert result.status is CreateAccountStatus.SUCCESS and result.resource is not None
    assert result.resource.id == rid("user", "new.hire")
    (password,) = result.credentials
    assert len(password.value) == 16 and sum(ch.isdigit() for ch in password.value) >= 2
    assert password.value not in repr(password)
    store = connector.store
    assert store.check_password("new.hire", password.value)
    assert not store.check_password("new.hire", password.value + "x")
    assert users.create_account(info, options).status is CreateAccountStatus.ALREADY_EXISTS

    (rotated,) = users.rotate_credentials(rid("user", "new.hire"), CredentialOptions())
    assert not store.check_password("new.hire", password.value)
    assert store.check_password("new.hire", rotated.value)

    assert users.delete_resource(rid("user", "new.hire")) == DeleteResult(already_deleted=False)
    assert users.delete_resource(rid("user", "new.hire")) == DeleteResult(already_deleted=True)
    assert users.get(rid("user", "new.hire")) is None
    assert not store.check_password("new.hire", rotated.value)
    with pytest.raises(ProvisioningError):
        users.rotate_credentials(rid("user", "new.hire"), CredentialOptions())


def test_secrets_never_stored_in_clear(connector: DemoConnector) -> None:
    users = syncer(connector, "user")
    result = users.create_account(AccountInfo("temp.worker"), CredentialOptions())
    secret = result.credentials[0].value
    assert secret.encode() not in connector.store.path.read_bytes()


def test_account_without_password_and_invalid_logins(connector: DemoConnector) -> None:
    users = syncer(connector, "user")
    result = users.create_account(AccountInfo("sso.only"), CredentialOptions(kind="sso"))
    assert result.status is CreateAccountStatus.SUCCESS and not result.credentials
    with pytest.raises(ProvisioningError):
        users.create_account(AccountInfo("bad login!"), CredentialOptions())
    with pytest.raises(ProvisioningError, match="manager"):
        users.create_account(AccountInfo("x.y", profile={"manager_id": "ghost"}), CredentialOptions())


def test_deleting_a_user_removes_its_grants_and_keys(connector: DemoConnector) -> None:
    users = syncer(connector, "user")
    users.delete_resource(rid("user", seed.SERVICE_ACCOUNT))
    w = walk(connector, size=100)
    assert ("user", seed.SERVICE_ACCOUNT) not in w.resources
    assert not w.of_type("api_key")
    check_references(w)


def test_deleting_a_group_removes_nesting(connector: DemoConnector) -> None:
    syncer(connector, "group").delete_resource(rid("group", "platform"))
    w = walk(connector, size=100)
    assert not [g for g in w.grants.values() if "platform" in (g.principal.id.resource,
                                                                g.entitlement.resource.id.resource)]
    check_references(w)


def test_rotate_api_key(connector: DemoConnector) -> None:
    keys = syncer(connector, "api_key")
    assert isinstance(keys, CredentialRotator)
    (key,) = keys.rotate_credentials(rid("api_key", "deploy-bot-ci"), CredentialOptions(length=32))
    assert key.name == "api_key" and connector.store.check_secret("api_key", "deploy-bot-ci", key.value)


def test_reset_reseeds(tmp_path: Path) -> None:
    c = demo(tmp_path)
    syncer(c, "user").delete_resource(rid("user", "ada.lovelace"))
    c.close()
    c = demo(tmp_path, reset=True)
    assert syncer(c, "user").get(rid("user", "ada.lovelace")) is not None
    c.close()


def test_default_data_dir_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_data_dir() == tmp_path / "pybaton" / "demo"
    monkeypatch.delenv("XDG_DATA_HOME")
    assert default_data_dir() == Path.home() / ".local" / "share" / "pybaton" / "demo"


# -- registry --------------------------------------------------------------------------------------

def test_registry_and_entry_points() -> None:
    assert builtin_connectors()["demo"] is DemoConnector
    assert load_builtin("demo").metadata.name == "demo"
    with pytest.raises(UserError, match=re.escape(f"built-ins are {', '.join(sorted(BUILTIN))}")):
        load_builtin("nope")
    points = {ep.name: ep.value for ep in importlib.metadata.entry_points(group="pybaton.connectors")}
    if points:  # installed metadata is only refreshed by a (re)install
        assert points == BUILTIN


# -- with the engine -------------------------------------------------------------------------------

def test_sync_smoke(tmp_path: Path) -> None:
    sync_mod = pytest.importorskip("pybaton.sync")
    c = demo(tmp_path / "data")
    result = sync_mod.sync(c, tmp_path / "demo.c1z", sync_mod.SyncOptions(expand=False))
    c.close()
    assert result.stats["grants"] == len(list(seed.access()))
    assert result.stats["resources"] == 51 + len(seed.groups()) + len(seed.ROLES) + len(seed.APPS) + \
        len(seed.PROJECTS) + len(seed.api_keys())
