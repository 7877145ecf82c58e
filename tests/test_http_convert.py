"""``pybaton http convert``: pybaton's old layout rewritten in baton-http's documented format.

The old layout is no longer read (loading it fails with each key's documented
spelling); the converted file must load with no warning and sync what the
old file described, against the suite's REST app.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from rest_app import CLIENT_ID, CLIENT_SECRET, RestApp

from pybaton import model
from pybaton.c1z import C1ZFile, SyncReader
from pybaton.cli.main import run as cli
from pybaton.connectors.http import HttpConnector, HttpConnectorConfig
from pybaton.connectors.http import config as cfg
from pybaton.connectors.http.convert import convert
from pybaton.errors import ConfigError
from pybaton.sync import SyncOptions, sync

FIXTURES = Path(__file__).parent / "fixtures" / "http"
OLD = FIXTURES / "old_layout"


def converted(tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]) -> tuple[Path, str]:
    out = tmp_path / name
    assert cli(["http", "convert", "--config", str(OLD / name), "--out", str(out)]) == 0
    return out, capsys.readouterr().err


def test_the_old_layout_is_refused_and_names_the_converter() -> None:
    with pytest.raises(ConfigError) as caught:
        cfg.read(OLD / "rest_app.yml")
    first = str(caught.value).splitlines()[0]
    assert first.endswith(f"this is pybaton's old layout: `pybaton http convert --config {OLD / 'rest_app.yml'}` "
                          "rewrites it in baton-http's format")


@pytest.mark.parametrize("name", ["rest_app.yml", "scim.yml"])
def test_converted_files_load_strictly_without_notes(name: str, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    out, err = converted(tmp_path, name, capsys)
    assert err.strip() == f"wrote {out} (0 notes)"
    loaded = cfg.read(out, strict=True)
    assert loaded.issues == []
    assert cli(["http", "convert", "--config", str(out)]) == 1  # already converted: nothing to do
    assert "not in pybaton's old layout" in capsys.readouterr().err


def test_converted_rest_config_syncs_what_the_documented_one_does(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    out, _ = converted(tmp_path, "rest_app.yml", capsys)
    with RestApp() as app:
        for name, value in {"REST_APP_URL": app.base_url, "REST_CLIENT_ID": CLIENT_ID,
                            "REST_CLIENT_SECRET": CLIENT_SECRET}.items():
            monkeypatch.setenv(name, value)
        runs = {}
        for label, config in (("converted", out), ("documented", FIXTURES / "rest_app.yml")):
            target = tmp_path / f"{label}.c1z"
            sync(HttpConnector(HttpConnectorConfig(config=config, strict=True)), target, SyncOptions(page_size=7))
            with C1ZFile.open(target) as c1z:
                reader = SyncReader.of(c1z)
                runs[label] = ({f"{r.id.resource_type}:{r.id.resource}" for r in reader.resources()},
                               {e.id for e in reader.entitlements()}, {g.id for g in reader.grants()})
        members = app.data.members
    (res_old, ents_old, grants_old), (res_new, ents_new, grants_new) = runs["converted"], runs["documented"]
    assert res_old == res_new
    assert ents_old == {e for e in ents_new if not e.endswith(":member_by_name")}
    assert grants_new < grants_old  # the old file's expandable grants add the nested groups' members
    assert model.grant_id("group:g03:member", "user", members["g02"][0]["id"]) in grants_old - grants_new


def test_what_cannot_be_converted_is_listed() -> None:
    old = yaml.safe_load("""
version: "1"
app_name: T
connect:
  base_url: http://127.0.0.1:9
  insecure_skip_verify: true
  auth: {type: api_key, token: "${KEY}", query: key}
resource_types:
  user:
    error_handling: {"404": ignore}
    list:
      request: {url: "tmpl: /users/{{ item.id + 'x' }}"}
      map: {id: "cel: item.id", skip_if: "cel: item.gone"}
""")
    result = convert(old)
    assert result.notes == [
        "connect.auth.query: has no documented equivalent; dropped",
        "connect.insecure_skip_verify: has no documented equivalent; dropped (TLS is verified)",
        "resource_types.user.list.request.url: the placeholder {{item.id + 'x'}} is an expression; a Go template "
        "reads field paths only: rewrite this value as a cel: expression"]
    user = result.config["resource_types"]["user"]
    assert result.config["connect"]["auth"] == {"type": "api_key", "api_key": {"header": "X-API-Key",
                                                                               "key": "${KEY}"}}
    assert user["list"]["request"]["error_handling"] == {"error_status_codes": {"404": {"action": "ignore"}}}
    assert user["list"]["response"]["skip_if"] == "cel:item.gone"
