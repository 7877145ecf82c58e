"""The ``http`` meta-connector: configs for the suite's REST app and for a real SCIM server.

Everything runs against real HTTP servers on 127.0.0.1: :mod:`rest_app` in a
thread (every pagination strategy, OAuth2, faults on demand) and the session's
scim2-server. The fault tests compare the ids a run stored with a clean run's:
retries and resume must lose and duplicate nothing.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rest_app import CLIENT_ID, CLIENT_SECRET, Data, Faults, RestApp

from pybaton import model
from pybaton.c1z import C1ZFile, SyncReader
from pybaton.cli.main import run as cli
from pybaton.connector import Granter, GrantResult, PageToken
from pybaton.connectors.http import HttpConnector, HttpConnectorConfig
from pybaton.connectors.http import config as cfg
from pybaton.connectors.http.compiled import compile_config
from pybaton.connectors.scim import ScimConfig, ScimConnector
from pybaton.connectors.scim.client import GROUP_SCHEMA, USER_SCHEMA
from pybaton.errors import ConfigError
from pybaton.sync import RetryPolicy, SyncOptions, sync
from pybaton.testing.servers import ScimServer

FIXTURES = Path(__file__).parent / "fixtures" / "http"
REST_CONFIG = FIXTURES / "rest_app.yml"
FAST_RETRY = RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.02)


@pytest.fixture()
def rest_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[RestApp]:
    with RestApp() as app:
        monkeypatch.setenv("REST_APP_URL", app.base_url)
        monkeypatch.setenv("REST_CLIENT_ID", CLIENT_ID)
        monkeypatch.setenv("REST_CLIENT_SECRET", CLIENT_SECRET)
        yield app


def connector(path: Path = REST_CONFIG, **extra: Any) -> HttpConnector:
    return HttpConnector(HttpConnectorConfig(config=path, **extra))


def ids(path: Path) -> dict[str, set[str]]:
    """Every stored id by kind: what two runs must agree on."""
    with C1ZFile.open(path) as c1z:
        reader = SyncReader.of(c1z)
        return {"resources": {f"{r.id.resource_type}:{r.id.resource}" for r in reader.resources()},
                "entitlements": {e.id for e in reader.entitlements()},
                "grants": {g.id for g in reader.grants()}}


def expected_direct(data: Data) -> set[str]:
    out = {model.grant_id(f"group:{g}:member", m["type"], m["id"]) for g, ms in data.members.items() for m in ms}
    out |= {model.grant_id(f"role:{r}:assigned", "user", u) for r, us in data.assignees.items() for u in us}
    return out


def test_rest_app_sync_uses_every_pagination_strategy(rest_env: RestApp, tmp_path: Path) -> None:
    c = connector()
    result = sync(c, tmp_path / "rest.c1z", SyncOptions(workers=4, page_size=7))
    got = ids(tmp_path / "rest.c1z")
    data = rest_env.data
    want = {f"user:{u['id']}" for u in data.users} | {f"group:{g['id']}" for g in data.groups}
    want |= {f"role:{r['id']}" for r in data.roles} | {f"app:{a['id']}" for a in data.apps} | {"app:console"}
    want |= {f"project:{p['id']}" for ps in data.projects.values() for p in ps}
    assert got["resources"] == want
    assert expected_direct(data) == got["grants"]
    assert rest_env.token_requests == 1  # one OAuth2 token, cached for the whole run
    assert result.stats["resources_by_resource_type"]["project"] == 12
    with C1ZFile.open(tmp_path / "rest.c1z") as c1z:
        reader = SyncReader.of(c1z)
        user = reader.resource("user", "u0009")
        project = reader.resource("project", "a1-p2")
    assert user is not None and user.display_name == "User 9"
    assert project is not None and project.parent_resource_id.resource == "a1"


def test_pages_capped_by_the_server_still_reach_the_total(rest_env: RestApp, tmp_path: Path) -> None:
    """The app serves at most 25 users a page; asking for 50 must not end the listing after one page."""
    capped = tmp_path / "capped.yml"
    capped.write_text(REST_CONFIG.read_text().replace("page_size: 20", "page_size: 50"))
    users = connector(capped).syncers()[0]
    token, seen = "", []
    while True:
        page = users.list(None, PageToken(token, 50))
        seen += [r.id.resource for r in page.items]
        if not page.next_token:
            break
        token = page.next_token
    assert seen == [u["id"] for u in rest_env.data.users]


def test_user_trait_mapping(rest_env: RestApp) -> None:
    from pybaton.connectors.scim.syncers import user_trait_of

    users = connector().syncers()[0]
    page = users.list(None, PageToken("", 20))
    disabled = next(r for r in page.items if r.id.resource == "u0000")
    trait = user_trait_of(disabled)
    assert trait is not None and trait.login == "user0" and trait.emails[0].address == "user0@example.org"
    assert trait.status.status == trait.status.STATUS_DISABLED
    assert dict(trait.profile.fields)["username"].string_value == "user0"
    assert rest_env.auth_seen == {"token": 1}  # OAuth2 client credentials: a token from the token endpoint


def test_provisioning_round_trip(rest_env: RestApp) -> None:
    c = connector()
    groups = next(s for s in c.syncers() if s.resource_type.id == "group")
    assert isinstance(groups, Granter)
    assert not isinstance(next(s for s in c.syncers() if s.resource_type.id == "user"), Granter)
    ent = model.entitlement_ref(model.resource_id("group", "g00"), "member")
    newcomer = next(u["id"] for u in rest_env.data.users if all(m["id"] != u["id"]
                                                                for m in rest_env.data.members["g00"]))
    principal = model.resource("user", newcomer, newcomer)
    first = groups.grant(principal, ent)
    assert isinstance(first, GrantResult) and not first.already_exists
    assert any(m["id"] == newcomer for m in rest_env.data.members["g00"])
    again = groups.grant(principal, ent)
    assert isinstance(again, GrantResult) and again.already_exists
    grant = model.grant(ent, principal.id)
    removed = groups.revoke(grant)
    assert removed is not None and not removed.already_revoked
    assert all(m["id"] != newcomer for m in rest_env.data.members["g00"])
    gone = groups.revoke(grant)
    assert gone is not None and gone.already_revoked


def test_faults_are_survived_and_nothing_is_lost(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with RestApp() as clean:
        _env(monkeypatch, clean)
        sync(connector(), tmp_path / "clean.c1z", SyncOptions(workers=4, page_size=7))
    faults = Faults(rate_limit=0.12, server_error=0.1, slow=0.04, slow_seconds=0.2, drop=0.06)
    with RestApp(faults=faults) as app:
        _env(monkeypatch, app)
        c = connector()
        sync(c, tmp_path / "faulty.c1z", SyncOptions(workers=4, page_size=7, retry=FAST_RETRY))
    assert ids(tmp_path / "faulty.c1z") == ids(tmp_path / "clean.c1z")
    assert all(faults.counts.get(k, 0) > 0 for k in ("rate_limit", "server_error", "slow", "drop")), faults.counts
    failed = faults.counts["server_error"] + faults.counts["rate_limit"] + faults.counts["drop"]
    assert c.client.stats.retries + c.client.stats.rate_limited == failed  # slow answers need no retry


def test_outage_then_resume_equals_a_clean_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with RestApp() as clean:
        _env(monkeypatch, clean)
        sync(connector(), tmp_path / "clean.c1z", SyncOptions(page_size=7))
    faults = Faults(outage_after=40)
    out = tmp_path / "resumed.c1z"
    with RestApp(faults=faults) as app:
        _env(monkeypatch, app)
        with pytest.raises(Exception, match="503"):
            sync(connector(), out, SyncOptions(page_size=7, retry=FAST_RETRY))
        assert not out.exists() and out.with_name(out.name + ".wip").exists()
        faults.outage_after = None
        before = app.requests
        result = sync(connector(), out, SyncOptions(page_size=7, retry=FAST_RETRY))
        assert result.resumed
        assert app.requests - before < 40 + 91  # resumed where it stopped, not from scratch
    assert ids(out) == ids(tmp_path / "clean.c1z")


def _env(monkeypatch: pytest.MonkeyPatch, app: RestApp) -> None:
    monkeypatch.setenv("REST_APP_URL", app.base_url)
    monkeypatch.setenv("REST_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("REST_CLIENT_SECRET", CLIENT_SECRET)


@pytest.mark.servers
def test_scim_server_through_the_meta_connector_matches_the_scim_connector(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A server of its own: both syncs must see exactly the same data."""
    with ScimServer() as scim_server:
        _meta_vs_native(scim_server, tmp_path, monkeypatch)


def _meta_vs_native(scim_server: ScimServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tenant = "h"
    users = [scim_server.request("POST", "Users", {"schemas": [USER_SCHEMA], "userName": f"{tenant}{i}",
                                                   "active": i != 3})[1]["id"] for i in range(13)]
    inner = scim_server.request("POST", "Groups", {"schemas": [GROUP_SCHEMA], "displayName": f"{tenant}-inner",
                                                   "members": [{"value": u, "type": "User"} for u in users[:3]]})[1]
    scim_server.request("POST", "Groups", {"schemas": [GROUP_SCHEMA], "displayName": f"{tenant}-outer",
                                           "members": [{"value": inner["id"], "type": "Group"},
                                                       {"value": users[5], "type": "User"}]})
    monkeypatch.setenv("SCIM_URL", scim_server.base_url)
    monkeypatch.setenv("SCIM_TOKEN", scim_server.token)
    meta = tmp_path / "meta.c1z"
    sync(connector(FIXTURES / "scim.yml"), meta, SyncOptions(page_size=4, workers=2))
    native = tmp_path / "native.c1z"
    sync(ScimConnector(ScimConfig(url=scim_server.base_url, token=scim_server.token)),  # type: ignore[arg-type]
         native, SyncOptions(page_size=4))
    assert ids(meta) == ids(native)
    assert f"user:{users[0]}" in ids(meta)["resources"]
    c = connector(FIXTURES / "scim.yml")
    groups = next(s for s in c.syncers() if s.resource_type.id == "group")
    assert isinstance(groups, Granter)
    ent = model.entitlement_ref(model.resource_id("group", inner["id"]), "member")
    groups.grant(model.resource("user", users[9], "u9"), ent)
    assert users[9] in {m["value"] for m in scim_server.request("GET", f"Groups/{inner['id']}")[1]["members"]}
    groups.revoke(model.grant(ent, model.resource_id("user", users[9])))
    assert users[9] not in {m["value"] for m in scim_server.request("GET", f"Groups/{inner['id']}")[1]["members"]}


# -- config checks (offline) -----------------------------------------------------------------------

BASE = """\
version: "1"
app_name: T
connect:
  base_url: http://127.0.0.1:9
resource_types:
  user:
    name: User
    list:
      request: {url: /users}
      response:
        mapping_type: resource
        resource_mapping:
          id: cel:item.id
"""


def loads(text: str, **kw: Any) -> cfg.LoadedConfig:
    return cfg.loads(textwrap.dedent(text), source="api.yml", **kw)


def test_unknown_keys_warn_with_line_and_fail_when_strict() -> None:
    text = BASE.replace("  base_url:", "  bse_url: x\n  base_url:")
    loaded = loads(text)
    assert [str(i) for i in loaded.issues] == [
        "api.yml:4: connect.bse_url: unknown key 'bse_url' (baton-http ignores it; known here: auth, base_url, "
        "pagination, request_defaults)"]
    with pytest.raises(ConfigError, match=r"api.yml:4: connect.bse_url"):
        loads(text, strict=True)


def test_expression_errors_name_the_line() -> None:
    loaded = loads(BASE.replace("id: cel:item.id", "id: cel:item.id +"))
    with pytest.raises(ConfigError, match=r"api.yml:13: resource_types.user.list.response.resource_mapping.id"
                                          r".*does not compile"):
        compile_config(loaded)
    unknown = loads(BASE.replace("id: cel:item.id", "id: cel:principal.id"))
    with pytest.raises(ConfigError, match=r"unknown name.*principal"):
        compile_config(unknown)
    template = loads(BASE.replace("{url: /users}", "{url: 'tmpl:/users/{{.resource.id}}'}"))
    with pytest.raises(ConfigError, match=r"api.yml:9: resource_types.user.list.request.url.*unknown name.*resource"):
        compile_config(template)
    control = loads(BASE.replace("{url: /users}", "{url: 'tmpl:/u{{if .vars.x}}/a{{end}}'}"))
    with pytest.raises(ConfigError, match=r"'if' is not supported"):
        compile_config(control)


def test_references_and_cycles_are_checked() -> None:
    text = BASE + "    depends_on: [group]\n  group:\n    parent_type: user\n    static_resources: [{id: g}]\n"
    with pytest.raises(ConfigError, match="cycle"):
        compile_config(loads(text))
    with pytest.raises(ConfigError, match="unknown resource type 'nope'"):
        loads(BASE + "    parent_type: nope\n")
    with pytest.raises(ConfigError, match="needs a list block or static_resources"):
        loads(BASE + "  empty:\n    name: E\n")
    with pytest.raises(ConfigError, match=r"mapping_type.*must be 'resource'"):
        loads(BASE.replace("mapping_type: resource", "mapping_type: grant"))
    with pytest.raises(ConfigError, match=r"needs its block connect.auth.api_key"):
        loads(BASE.replace("  base_url:", "  auth: {type: api_key}\n  base_url:"))


def test_the_old_pybaton_layout_is_refused_with_the_documented_spelling() -> None:
    old = BASE.replace("      response:\n        mapping_type: resource\n        resource_mapping:\n",
                       "      map:\n") + "    parent: user\n"
    with pytest.raises(ConfigError) as caught:
        loads(old)
    message = str(caught.value)
    assert "resource_types.user.list.map: 'map' is not baton-http's format: write it as response.mapping_type: " \
           "resource with response.resource_mapping" in message
    assert "resource_types.user.parent: baton-http calls this 'parent_type'" in message
    flat = BASE.replace("  base_url:", "  auth: {type: bearer_dynamic, token_url: /login}\n  base_url:")
    flat = flat.replace("resource_types:", 'error_handling:\n  "404": ignore\nresource_types:')
    with pytest.raises(ConfigError) as caught:
        loads(flat)
    assert "api.yml:4: connect.auth.token_url: belongs in the block connect.auth.bearer_dynamic" in str(caught.value)
    assert 'error_handling.404: status rules go under error_handling.error_status_codes: "404"' in str(caught.value)


def test_error_handling_and_durations_parse() -> None:
    loaded = loads(BASE.replace("resource_types:", 'http:\n  timeout: 1500ms\nerror_handling:\n'
                                                   '  error_status_codes:\n    "404": {action: ignore}\n'
                                                   '    "500": {action: retry, retry_after: 2s, max_retries: 2}\n'
                                                   'resource_types:'))
    assert loaded.config.http.timeout == 1.5
    rules = loaded.config.error_handling.error_status_codes if loaded.config.error_handling else {}
    assert rules["500"].retry_after == 2.0 and rules["500"].max_retries == 2
    assert rules["404"].action == "ignore"


def test_validate_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["http", "validate", "--config", str(REST_CONFIG)]) == 0
    out = capsys.readouterr().out
    assert "5 resource types" in out and "group: list (cursor pages)" in out and "project under app" in out
    assert cli(["http", "validate", "--config-path", str(REST_CONFIG)]) == 0  # baton-http's flag name
    capsys.readouterr()
    bad = tmp_path / "bad.yml"
    bad.write_text(BASE.replace("  base_url:", "  bse_url: x\n  base_url:"))
    assert cli(["http", "validate", "--config", str(bad)]) == 0
    assert "unknown key 'bse_url'" in capsys.readouterr().err
    assert cli(["http", "validate", "--config", str(bad), "--strict"]) == 1
    assert "bad.yml:4" in capsys.readouterr().err


def test_command_actions_are_off_unless_enabled(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "actions.yml"
    path.write_text(BASE.replace("resource_types:", "actions:\n  rotate:\n    type: command\n"
                                                    "    command: ./rotate.sh\nresource_types:"))
    assert cli(["http", "validate", "--config", str(path)]) == 0
    assert "actions.rotate: a command action; disabled (pass --enable-command-actions" in capsys.readouterr().err
    assert cli(["http", "validate", "--config", str(path), "--enable-command-actions"]) == 0
    assert "disabled" not in capsys.readouterr().err
