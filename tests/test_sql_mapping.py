"""Mapping details on SQLite: every trait kind, annotations, NULLs, several grants queries, dynamic pages."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

pytest.importorskip("cel")

from sql_support import as_dict, connector, reader, run_sync, trait

from pybaton.cli.main import run as cli
from pybaton.errors import ConfigError

SCHEMA = """
CREATE TABLE keys (id INTEGER PRIMARY KEY, name TEXT, kind TEXT, expires TEXT, owner TEXT, note TEXT);
INSERT INTO keys VALUES (1, 'deploy', 'static_secret', '2030-01-01T00:00:00Z', 'ops', NULL),
                        (2, 'tls', 'certificate', NULL, NULL, 'x');
CREATE TABLE apps (id INTEGER PRIMARY KEY, name TEXT, url TEXT);
INSERT INTO apps VALUES (1, 'wiki', 'https://wiki.example'), (2, 'crm', NULL);
CREATE TABLE levels (app_id INTEGER, level TEXT, holder TEXT, via TEXT);
INSERT INTO levels VALUES (1, 'read', 'ann', 'direct'), (1, 'read', 'bob', 'direct'), (1, 'admin', 'ann', 'direct'),
                          (1, 'read', 'cy', 'sso'), (2, 'read', 'bob', 'direct');
"""

CONFIG = """\
connect:
  dsn: "sqlite://{db}"
resource_types:
  key:
    name: Key
    list:
      query: SELECT * FROM keys ORDER BY id
      map:
        id: .id
        display_name: .name
        description: .note
        traits:
          secret:
            credential_type: .kind
            credential_detail: "'vault.' + .name"
            expires_at: .expires
  app:
    name: App
    list:
      query: SELECT * FROM apps ORDER BY id
      map:
        id: .name
        display_name: toUpper(.name)
        annotations:
          external_link:
            url: https://apps.example/catalog
        traits:
          app:
            help_url: .url
            profile:
              url: .url
    entitlements:
      vars:
        app: resource.ID
      query: |
        SELECT DISTINCT level FROM levels JOIN apps ON apps.id = levels.app_id
        WHERE apps.name = ?<app> ORDER BY level LIMIT ?<limit> OFFSET ?<offset>
      pagination:
        strategy: offset
        page_size: 1
      map:
        - id: .level
          display_name: "resource.DisplayName + ' ' + .level"
          slug: .level
          purpose: "'permission'"
          immutable: true
          grantable_to: [key]
          provisioning:
            vars:
              holder: principal.ID
              app: resource.ID
              level: entitlement.ID
            grant:
              queries:
                - INSERT INTO levels SELECT id, ?<level>, ?<holder>, 'direct' FROM apps WHERE name = ?<app>
    grants:
      - vars:
          app: resource.ID
        query: |
          SELECT holder, level FROM levels JOIN apps ON apps.id = levels.app_id
          WHERE apps.name = ?<app> AND via = 'direct'
        map:
          - principal_id: .holder
            principal_type: key
            entitlement_id: .level
      - vars:
          app: resource.ID
        query: |
          SELECT holder, level FROM levels JOIN apps ON apps.id = levels.app_id
          WHERE apps.name = ?<app> AND via = 'sso'
        map:
          - principal_id: "'sso-' + .holder"
            principal_type: key
            entitlement_id: .level
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    db = tmp_path / "m.db"
    with sqlite3.connect(db) as conn:
        conn.executescript(SCHEMA)
    path = tmp_path / "m.yml"
    path.write_text(CONFIG.format(db=db))
    return path


def test_secret_app_traits_annotations_and_nulls(config: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "m.c1z"
    run_sync(config, out, monkeypatch, {})
    r = reader(out)
    deploy = trait(r.resource("key", "1"))
    assert deploy == {"credentialType": "CREDENTIAL_TYPE_STATIC_SECRET", "credentialDetail": "vault.deploy",
                      "expiresAt": "2030-01-01T00:00:00Z"}
    tls = r.resource("key", "2")
    assert trait(tls)["credentialType"] == "CREDENTIAL_TYPE_CERTIFICATE" and "expiresAt" not in trait(tls)
    assert r.resource("key", "1").description == ""              # NULL note: empty, not NULL_VALUE
    wiki = as_dict(r.resource("app", "wiki"))
    assert wiki["displayName"] == "WIKI"
    assert {"@type": "type.googleapis.com/c1.connector.v2.ExternalLink", "url": "https://apps.example/catalog"} \
        in wiki["annotations"]
    assert trait(r.resource("app", "wiki")) == {"helpUrl": "https://wiki.example",
                                                "profile": {"url": "https://wiki.example"}}
    assert trait(r.resource("app", "crm")) == {}                 # NULL url: no help_url, no profile key


def test_dynamic_entitlements_over_pages_and_several_grant_queries(config: Path, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "m.c1z"
    run_sync(config, out, monkeypatch, {})
    r = reader(out)
    ents = {e.id: as_dict(e) for e in r.entitlements("app")}
    assert set(ents) == {"app:wiki:admin", "app:wiki:read", "app:crm:read"}   # pages of one row each
    admin = ents["app:wiki:admin"]
    assert admin["purpose"] == "PURPOSE_VALUE_PERMISSION" and admin["displayName"] == "WIKI admin"
    assert admin["annotations"] == [{"@type": "type.googleapis.com/c1.connector.v2.EntitlementImmutable"}]
    assert [t["id"] for t in admin["grantableTo"]] == ["key"]
    assert {g.id for g in r.grants()} == {"app:wiki:read:key:ann", "app:wiki:read:key:bob", "app:wiki:admin:key:ann",
                                          "app:wiki:read:key:sso-cy", "app:crm:read:key:bob"}


def test_strict_connector_refuses_unknown_keys(config: Path) -> None:
    config.write_text(config.read_text().replace("    name: Key\n", "    name: Key\n    nmae: typo\n"))
    assert connector(config).compiled is not None                 # warns only
    with pytest.raises(ConfigError, match=r"m.yml:6: resource_types.key.nmae: unknown key 'nmae'"):
        connector(config, strict=True)


def test_pybaton_sync_sql_command(config: Path, tmp_path: Path) -> None:
    out = tmp_path / "cli.c1z"
    assert cli(["sync", "sql", "--config", str(config), "-f", str(out), "--log-level", "warn"]) == 0
    assert reader(out).stats()["grants"] == 5


def test_query_built_entitlement_with_computed_slug_can_be_granted(config: Path, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "m.c1z"
    run_sync(config, out, monkeypatch, {})
    r = reader(out)
    conn = connector(config)
    apps = conn.syncer_for("app")
    ent, bob = r.entitlement("app:wiki:admin"), r.resource("key", "2")
    assert apps is not None and ent is not None and bob is not None
    granted = apps.grant(bob, ent)  # type: ignore[attr-defined]
    assert [g.id for g in granted] == ["app:wiki:admin:key:2"]
    db = Path(str(config).replace("m.yml", "m.db"))
    with sqlite3.connect(db) as check:
        assert list(check.execute("SELECT holder FROM levels WHERE level = 'admin' ORDER BY holder")) == [("2",), ("ann",)]
    conn.close()
