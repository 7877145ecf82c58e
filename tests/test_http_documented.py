"""ConductorOne's documented baton-http format, example by example, and against the suite's REST app.

``tests/fixtures/http/docs/`` holds every YAML example of the published page
(``baton/baton-http.mdx``), verbatim, each with the section it comes from and,
for a fragment, where it sits in a config (``# place:``). Each must load and
compile offline with no warning; the whole configs that fit the suite's REST
app (the GitHub example, the OAuth2 example, the ConfigMap's config) also sync
against it. Then: every documented auth type served by that app, provisioning
with ``pre_requests`` and ``success_condition``, the ``error_handling``
actions under injected 404/429/500 answers, and data that looks like code.
"""

from __future__ import annotations

import copy
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
import yaml
from rest_app import (
    API_KEY,
    BASIC_PASSWORD,
    BASIC_USER,
    CLIENT_ID,
    CLIENT_SECRET,
    LOGIN_PASSWORD,
    LOGIN_USER,
    STATIC_TOKEN,
    RestApp,
    org_members,
    org_teams,
)

from pybaton import model
from pybaton.c1z import C1ZFile, SyncReader
from pybaton.cli.main import run as cli
from pybaton.connector import Granter, PageToken
from pybaton.connector.http import HttpRetryableError, HttpStatusError
from pybaton.connectors.http import HttpConnector, HttpConnectorConfig
from pybaton.connectors.http import config as cfg
from pybaton.connectors.http.compiled import compile_config
from pybaton.connectors.http.connector import make_client
from pybaton.connectors.http.values import ITEM, PROVISION, URL, ValueCompiler
from pybaton.errors import ProvisioningError
from pybaton.sync import SyncOptions, sync

DOCS = Path(__file__).parent / "fixtures" / "http" / "docs"
REST_CONFIG = Path(__file__).parent / "fixtures" / "http" / "rest_app.yml"
ENV_REF = re.compile(r"\$\{([A-Za-z0-9_]+)\}")

# A whole config in the documented format, for placing the page's fragments in.
BASE: dict[str, Any] = yaml.safe_load("""
version: "1"
app_name: Base
connect:
  base_url: https://api.example.com/v1
  auth: {type: none}
resource_types:
  user:
    name: User
    traits: [user]
    list:
      request: {url: /users}
      response:
        mapping_type: resource
        resource_mapping: {id: cel:item.id}
  group:
    name: Group
    traits: [group]
    list:
      request: {url: /groups}
      response:
        mapping_type: resource
        resource_mapping: {id: cel:item.id, display_name: cel:item.name}
    static_entitlements:
      - id: member
        grantable_to: [user]
""")


def place_of(path: Path) -> str | None:
    found = re.search(r"^# place: ?(.*)$", path.read_text(), re.M)
    return found.group(1).strip() if found else None


def placed(fragment: dict[str, Any], place: str) -> dict[str, Any]:
    """The base config with ``fragment``'s keys set at ``place`` (dotted; numbers index lists)."""
    config = copy.deepcopy(BASE)
    node: Any = config
    for part in place.split(".") if place else []:
        node = node[int(part)] if part.isdigit() else node[part]
    node.update(fragment)
    return config


def env_for(text: str) -> dict[str, str]:
    return {name: f"value-of-{name.lower()}" for name in ENV_REF.findall(text)}


def check_offline(text: str, source: str) -> cfg.LoadedConfig:
    """Load and compile as ``pybaton http validate`` does; nothing may warn."""
    loaded = cfg.loads(text, source=source, strict=True)
    assert loaded.issues == []
    compiled = compile_config(loaded, env=env_for(text), check_env=False)
    assert compiled.warnings == []
    make_client(loaded.config, env_for(text)).close()  # the auth block builds a client
    return loaded


CONFIG_EXAMPLES = sorted(p for p in DOCS.glob("*.yml") if place_of(p) in (None, "", "connect", "configmap")
                         or (place_of(p) or "").startswith("resource_types"))


def config_text(path: Path) -> str:
    """The example as a whole config: itself, its ConfigMap's config, or placed in :data:`BASE`."""
    place, data = place_of(path), yaml.safe_load(path.read_text())
    if place is None:
        return path.read_text()
    if place == "configmap":
        return str(data["data"]["config.yaml"])
    return yaml.safe_dump(placed(data, place), sort_keys=False)


def test_every_example_of_the_page_is_here() -> None:
    assert len(list(DOCS.glob("*.yml"))) == 29
    assert all("baton/baton-http.mdx" in p.read_text().splitlines()[0] for p in DOCS.glob("*.yml"))


@pytest.mark.parametrize("path", CONFIG_EXAMPLES, ids=lambda p: p.stem)
def test_documented_example_validates_offline(path: Path) -> None:
    if path.stem == "01_structure":
        # The page's skeleton leaves the resource type as a comment; with the page's "Basic structure" type in
        # its place it is a whole config.
        skeleton = yaml.safe_load(path.read_text())
        skeleton["resource_types"] = yaml.safe_load((DOCS / "10_basic_structure.yml").read_text())["resource_types"]
        check_offline(yaml.safe_dump(skeleton, sort_keys=False), path.name)
        return
    check_offline(config_text(path), path.name)


def test_documented_cel_patterns_compile() -> None:
    values = yaml.safe_load((DOCS / "12_cel_patterns.yml").read_text())
    c = ValueCompiler()
    compiled = {k: c.compile(v, k, ITEM) for k, v in values.items()}
    c.check()
    item = {"active": False, "firstName": "Ada", "lastName": "Lovelace", "parent": {},
            "emails": [{"address": "ada@example.org"}]}
    got = {k: v.value({"item": item}) for k, v in compiled.items()}
    assert got == {"status": "disabled", "display_name": "Ada Lovelace", "parent_id": None,
                   "primary_email": "ada@example.org"}


def test_documented_templates_compile_and_render() -> None:
    # The example repeats "url:" (three alternatives in one block): read it one key at a time.
    text = (DOCS / "13_templates.yml").read_text()
    chunks = re.split(r"\n(?=# )", text)
    c = ValueCompiler()
    values = [c.compile(v, k, PROVISION, mode=URL if k == "url" else "json")
              for chunk in chunks for k, v in (yaml.safe_load(chunk) or {}).items()]
    c.check()
    env = {"resource": {"id": "t/1"}, "parent_resource": {"id": "acme"}, "principal": {"id": 'u"7'}}
    url, nested, body = (v.value(env) for v in values)
    assert (url, nested) == ("/groups/t%2F1/members", "/orgs/acme/teams/t%2F1")
    assert json.loads(body) == {"user_id": 'u"7', "role": "member"}


# -- against the REST app ------------------------------------------------------------------------

@pytest.fixture()
def app() -> Iterator[RestApp]:
    with RestApp() as served:
        yield served


def run_sync(text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> SyncReader:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    path = tmp_path / "config.yml"
    path.write_text(text)
    out = tmp_path / "out.c1z"
    sync(HttpConnector(HttpConnectorConfig(config=path, strict=True)), out, SyncOptions(page_size=10))
    return SyncReader.of(C1ZFile.open(out))


def test_documented_github_example_syncs(app: RestApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = (DOCS / "28_github.yml").read_text().replace("https://api.github.com", app.base_url)
    reader = run_sync(text, tmp_path, monkeypatch, {"GITHUB_TOKEN": STATIC_TOKEN})
    data = app.data
    orgs = [a["id"] for a in data.apps]
    want = {f"org:{o}" for o in orgs}
    want |= {f"user:{u['username']}" for o in orgs for u in org_members(data, o)}
    want |= {f"team:{g['id']}" for o in orgs for g in org_teams(data, o)}
    assert {f"{r.id.resource_type}:{r.id.resource}" for r in reader.resources()} == want
    logins = {u["id"]: u["username"] for u in data.users}
    grants = {model.grant_id(f"team:{g['id']}:member", "user", logins[m["id"]])
              for o in orgs for g in org_teams(data, o) for m in data.members[g["id"]] if m["type"] == "user"}
    assert {g.id for g in reader.grants()} == grants
    team = reader.resource("team", org_teams(data, "a1")[0]["id"])
    assert team is not None and team.parent_resource_id.resource == "a1"
    assert app.auth_seen == {"bearer": app.auth_seen["bearer"]}


def test_documented_oauth2_example_syncs(app: RestApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = (DOCS / "29_oauth2_provisioning.yml").read_text().replace("https://", "http://")
    reader = run_sync(text, tmp_path, monkeypatch, {"C1_ENDPOINT": app.base_url.removeprefix("http://"),
                                                    "C1_CLIENT_ID": CLIENT_ID, "C1_CLIENT_SECRET": CLIENT_SECRET})
    users = {r.id.resource: r for r in reader.resources()}
    assert set(users) == {u["id"] for u in app.data.users}
    assert users["u0003"].display_name == "User 3" and app.token_requests == 1


def test_documented_configmap_config_syncs(app: RestApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = config_text(DOCS / "27_configmap.yml").replace("https://api.example.com", app.base_url)
    reader = run_sync(text, tmp_path, monkeypatch, {"API_TOKEN": STATIC_TOKEN})
    from pybaton.connectors.scim.syncers import user_trait_of

    users = {r.id.resource: user_trait_of(r) for r in reader.resources()}
    assert set(users) == {u["id"] for u in app.data.users}
    first = users["u0000"]
    assert first is not None and first.status.status == first.status.STATUS_DISABLED  # user 0 is inactive
    assert first.emails[0].address == "user0@example.org"


# -- every auth type, served by the app -------------------------------------------------------------

AUTH_BLOCKS = {
    "bearer": ("bearer", {"type": "bearer", "token": "${T_TOKEN}"}, {"T_TOKEN": STATIC_TOKEN}),
    "basic": ("basic", {"type": "basic", "username": "${T_USER}", "password": "${T_PASS}"},
              {"T_USER": BASIC_USER, "T_PASS": BASIC_PASSWORD}),
    "api_key": ("api_key", {"type": "api_key", "api_key": {"header": "X-API-Key", "prefix": "ApiKey",
                                                            "key": "${T_KEY}"}}, {"T_KEY": API_KEY}),
    "oauth2_issuer": ("token", {"type": "oauth2_client_credentials", "oauth2_client_credentials": {
        "issuer": "${REST_APP_URL}", "client_id": "${REST_CLIENT_ID}", "client_secret": "${REST_CLIENT_SECRET}",
        "scope": "read:users"}}, {}),
    "oauth2_password": ("token", {"type": "oauth2_password", "oauth2_password": {
        "token_url": "${REST_APP_URL}/oauth/token", "client_id": "${REST_CLIENT_ID}",
        "client_secret": "${REST_CLIENT_SECRET}", "username": "${T_USER}", "password": "${T_PASS}", "scope": "api"}},
        {"T_USER": LOGIN_USER, "T_PASS": LOGIN_PASSWORD}),
    "bearer_dynamic": ("token", {"type": "bearer_dynamic", "bearer_dynamic": {
        "token_url": "${REST_APP_URL}/login", "username": "${T_USER}", "password": "${T_PASS}",
        "token_field": "access_token", "expiry_field": "expires_at", "token_expiry_padding": 60}},
        {"T_USER": LOGIN_USER, "T_PASS": LOGIN_PASSWORD}),
}


def rest_connector(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, app: RestApp,
                   edit: Any = None, env: dict[str, str] | None = None) -> HttpConnector:
    """The suite's REST config, optionally edited (a function of the parsed YAML)."""
    for name, value in {"REST_APP_URL": app.base_url, "REST_CLIENT_ID": CLIENT_ID,
                        "REST_CLIENT_SECRET": CLIENT_SECRET, **(env or {})}.items():
        monkeypatch.setenv(name, value)
    data = yaml.safe_load(REST_CONFIG.read_text())
    if edit is not None:
        edit(data)
    path = tmp_path / "rest.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return HttpConnector(HttpConnectorConfig(config=path, strict=True))


@pytest.mark.parametrize("name", sorted(AUTH_BLOCKS))
def test_each_documented_auth_type_against_the_app(name: str, app: RestApp, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    seen_as, block, env = AUTH_BLOCKS[name]
    c = rest_connector(tmp_path, monkeypatch, app, lambda d: d["connect"].__setitem__("auth", block), env)
    users = c.syncers()[0]
    first = users.list(None, PageToken("", 20))
    users.list(None, PageToken(first.next_token, 20))
    assert app.auth_seen == {seen_as: 2}
    if name == "bearer_dynamic":
        assert app.login_requests == 1 and app.token_requests == 0
    if name in ("oauth2_issuer", "oauth2_password"):
        assert app.token_requests == 1


# -- provisioning ---------------------------------------------------------------------------------

def groups_of(c: HttpConnector) -> Granter:
    groups = next(s for s in c.syncers() if s.resource_type.id == "group")
    assert isinstance(groups, Granter)
    return groups


def test_grant_through_a_pre_request(app: RestApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    groups = groups_of(rest_connector(tmp_path, monkeypatch, app))
    newcomer = next(u for u in app.data.users if all(m["id"] != u["id"] for m in app.data.members["g01"]))
    ent = model.entitlement_ref(model.resource_id("group", "g01"), "member_by_name")
    result = groups.grant(model.resource("user", newcomer["id"], newcomer["name"]), ent)
    assert result is not None and not result.already_exists
    assert {"id": newcomer["id"], "type": "user"} in app.data.members["g01"]
    # the success_condition (status 201) says a second PUT (409) did not work
    with pytest.raises(ProvisioningError, match="answered 409 and the success_condition is false"):
        groups.grant(model.resource("user", newcomer["id"], newcomer["name"]), ent)
    unknown = model.resource("user", "u-nobody", "nobody")
    with pytest.raises(ProvisioningError, match=r"grant: a pre-request failed: .*/api/users/u-nobody: status 404"):
        groups.grant(unknown, ent)


def test_data_that_looks_like_code_stays_data(app: RestApp, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A principal id that is a template, or a JSON/CEL fragment, reaches the API exactly as it is."""
    groups = groups_of(rest_connector(tmp_path, monkeypatch, app))
    ent = model.entitlement_ref(model.resource_id("group", "g00"), "member")
    for odd in ("{{.principal.id}}", '" + 1 + "', '", "admin": true, "x": "', "../g01/members", "{{.vars}}"):
        groups.grant(model.resource("user", odd, odd), ent)
        assert app.writes[-1] == ("POST", "/api/groups/g00/members", {"user_id": odd, "role": "member"})
        assert {"id": odd, "type": "user"} in app.data.members["g00"]
        removed = groups.revoke(model.grant(ent, model.resource_id("user", odd)))
        assert removed is not None and not removed.already_revoked
        method, path, _ = app.writes[-1]
        assert method == "DELETE" and path.count("/") == 5 and unquote(path) == f"/api/groups/g00/members/{odd}"
        assert {"id": odd, "type": "user"} not in app.data.members["g00"]
    assert all(m["id"] != "admin" for ms in app.data.members.values() for m in ms)


def test_names_that_look_like_code_sync_as_names(app: RestApp, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    app.data.users[0]["name"] = '{{.resource.id}}" + 1 + "'
    app.data.groups[0]["name"] = "{{.vars.member_role}}"
    c = rest_connector(tmp_path, monkeypatch, app)
    out = tmp_path / "odd.c1z"
    sync(c, out, SyncOptions(page_size=10))
    with C1ZFile.open(out) as c1z:
        reader = SyncReader.of(c1z)
        user, group = reader.resource("user", "u0000"), reader.resource("group", "g00")
        ent = next(e for e in reader.entitlements() if e.id == "group:g00:member")
    assert user is not None and user.display_name == '{{.resource.id}}" + 1 + "'
    assert group is not None and group.display_name == "{{.vars.member_role}}"
    assert ent.display_name == "{{.vars.member_role}} Member"


# -- error handling under injected answers -------------------------------------------------------

def with_rules(rules: dict[str, Any]) -> Any:
    def edit(data: dict[str, Any]) -> None:
        data["error_handling"]["error_status_codes"].update(rules)
    return edit


def member_page(c: HttpConnector, group: str = "g02") -> list[str]:
    groups = next(s for s in c.syncers() if s.resource_type.id == "group")
    res = model.resource("group", group, group)
    return [g.principal.id.resource for g in groups.grants(res, PageToken("", 4)).items]


def test_404_warn_skips_with_the_message(app: RestApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         caplog: pytest.LogCaptureFixture) -> None:
    c = rest_connector(tmp_path, monkeypatch, app,
                       with_rules({"404": {"action": "warn", "message": "Resource not found"}}))
    app.inject[("GET", "/api/groups/g02/members")] = [404]
    with caplog.at_level(logging.WARNING):
        assert member_page(c) == []
    assert "status 404 (handled as warn): Resource not found" in caplog.text
    assert len(member_page(c)) == 4  # the next call is answered normally


def test_a_request_rule_wins_over_the_global_one(app: RestApp, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    def edit(data: dict[str, Any]) -> None:
        data["error_handling"]["error_status_codes"]["404"] = {"action": "fail"}
        data["resource_types"]["group"]["grants"][0]["request"]["error_handling"] = {
            "error_status_codes": {"404": {"action": "ignore"}}}
    c = rest_connector(tmp_path, monkeypatch, app, edit)
    app.inject[("GET", "/api/groups/g02/members")] = [404]
    assert member_page(c) == []
    app.inject[("GET", "/api/groups")] = [404]
    groups = next(s for s in c.syncers() if s.resource_type.id == "group")
    with pytest.raises(HttpStatusError, match="status 404"):
        groups.list(None, PageToken("", 5))


def test_404_ignore_is_silent(app: RestApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                              caplog: pytest.LogCaptureFixture) -> None:
    c = rest_connector(tmp_path, monkeypatch, app, with_rules({"404": {"action": "ignore"}}))
    app.inject[("GET", "/api/groups/g02/members")] = [404]
    with caplog.at_level(logging.WARNING):
        assert member_page(c) == []
    assert "404" not in caplog.text


def test_429_and_500_retry_within_max_retries(app: RestApp, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    c = rest_connector(tmp_path, monkeypatch, app, with_rules({
        "429": {"action": "retry", "retry_after": "10ms", "max_retries": 3},
        "500": {"action": "retry", "retry_after": "10ms", "max_retries": 2}}))
    app.inject[("GET", "/api/groups/g02/members")] = [429, 429, 500]
    assert len(member_page(c)) == 4
    assert app.inject[("GET", "/api/groups/g02/members")] == []
    app.inject[("GET", "/api/groups/g02/members")] = [500, 500, 500]
    with pytest.raises(HttpRetryableError, match="status 500"):
        member_page(c)


def test_fail_stops_with_the_message(app: RestApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    c = rest_connector(tmp_path, monkeypatch, app, with_rules({"500": {"action": "fail", "message": "API broke"}}))
    app.inject[("GET", "/api/groups/g02/members")] = [500]
    with pytest.raises(HttpStatusError, match=r"status 500.*\(API broke\)"):
        member_page(c)
    assert len(member_page(c)) == 4  # one call failed; nothing else is affected


def test_grant_and_revoke_through_the_cli(app: RestApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """``pybaton grant|revoke http``: the provisioning requests and their success_condition, end to end."""
    for name, value in {"REST_APP_URL": app.base_url, "REST_CLIENT_ID": CLIENT_ID,
                        "REST_CLIENT_SECRET": CLIENT_SECRET}.items():
        monkeypatch.setenv(name, value)
    out, config = str(tmp_path / "rest.c1z"), str(REST_CONFIG)
    assert cli(["sync", "http", "-f", out, "--config", config]) == 0
    uid = next(u["id"] for u in app.data.users if all(m["id"] != u["id"] for m in app.data.members["g01"]))
    grant = f"group:g01:member:user:{uid}"
    capsys.readouterr()
    assert cli(["grant", "http", "-f", out, "-p", "--entitlement", "group:g01:member", "--principal", f"user:{uid}",
                "--config", config]) == 0
    assert f"grant group:g01:member to user:{uid}: granted" in capsys.readouterr().out
    assert {"id": uid, "type": "user"} in app.data.members["g01"]
    assert cli(["grant", "http", "-f", out, "-p", "--entitlement", "group:g01:member", "--principal", f"user:{uid}",
                "--config", config]) == 0
    assert "already exists" in capsys.readouterr().out  # 409, accepted by the success_condition
    assert cli(["revoke", "http", "-f", out, "-p", "--grant", grant, "--config", config]) == 0
    assert f"revoke {grant}: revoked" in capsys.readouterr().out
    assert {"id": uid, "type": "user"} not in app.data.members["g01"]


def test_skip_if_and_dynamic_entitlements_against_the_app(app: RestApp, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    def edit(data: dict[str, Any]) -> None:
        data["resource_types"]["group"]["grants"][0]["response"]["skip_if"] = 'cel:item.type == "group"'
        data["resource_types"]["role"]["entitlements"] = yaml.safe_load((DOCS / "20_dynamic_entitlements.yml")
                                                                        .read_text())["entitlements"]
        data["resource_types"]["role"]["entitlements"][0]["request"]["url"] = "tmpl:/roles/{{.resource.id}}/permissions"
    c = rest_connector(tmp_path, monkeypatch, app, edit)
    out = tmp_path / "dyn.c1z"
    sync(c, out, SyncOptions(page_size=10))
    with C1ZFile.open(out) as c1z:
        reader = SyncReader.of(c1z)
        ents = {e.id: e for e in reader.entitlements() if e.id.startswith("role:r1:")}
        principals = {g.principal.id.resource_type for g in reader.grants() if g.entitlement.id.startswith("group:")}
    assert set(ents) == {"role:r1:assigned", "role:r1:r1-read", "role:r1:r1-write"}
    assert ents["role:r1:r1-read"].slug == "read" and ents["role:r1:r1-read"].display_name == "Can read on Role 1"
    assert ents["role:r1:r1-read"].purpose == model.PERMISSION
    assert [t.id for t in ents["role:r1:r1-write"].grantable_to] == ["user", "group"]
    assert principals == {"user"}  # the nested groups were skipped
