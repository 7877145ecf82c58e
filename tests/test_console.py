"""The console in-process (Starlette's test client) over a real synced demo workspace and its warehouse.

Reviews from creation to the plan, reviewers' isolation, roles, CSRF, login,
escaping, paging/sorting/CSV of the tables, and the ``review``/``console user``
commands. The browser and a real server process are in test_console_browser.py.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from openpyxl import load_workbook
from provision_helpers import Cli
from reconcile_support import WorkspaceDir, demo_pair
from starlette.testclient import TestClient

from pybaton.console import reviews
from pybaton.console.app import ConsoleConfig, create_app
from pybaton.console.security import auth_settings, is_loopback
from pybaton.console.users import Role, add_user, authenticate
from pybaton.reconcile import load_plan, load_workspace
from pybaton.reconcile.warehousing import open_warehouse
from pybaton.warehouse import Warehouse

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> WorkspaceDir:
    """The demo pair (hr as IdP, app), synced once into the embedded warehouse; tests copy nothing from it."""
    from pybaton.cli.main import run

    ws = demo_pair(tmp_path_factory.mktemp("console"), {}, warehouse={})
    assert run(["workspace", "sync", "-w", str(ws.path)]) == 0
    return ws


@pytest.fixture
def warehouse(synced: WorkspaceDir) -> Iterator[Warehouse]:
    ws = load_workspace(synced.path)
    with open_warehouse(ws) as wh:
        yield wh


def _client(synced: WorkspaceDir, wh: Warehouse, *, login: bool = True, host: str = "127.0.0.1",
            trusted: frozenset[str] = frozenset()) -> TestClient:
    ws = load_workspace(synced.path)
    auth = auth_settings(host, login=login, has_users=False, trusted_header="X-Forwarded-User" if trusted else "",
                         trusted_proxies=trusted)
    return TestClient(create_app(ConsoleConfig(ws, wh, auth, "test-secret")), follow_redirects=False)


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF token in the page"
    return found.group(1)


def _login(client: TestClient, name: str) -> str:
    token = _csrf(client.get("/login").text)
    response = client.post("/login", data={"name": name, "password": PASSWORD, "csrf": token, "next": "/"})
    assert response.status_code == 303, response.text
    return _csrf(client.get("/").text)


@pytest.fixture
def people(warehouse: Warehouse) -> dict[str, str]:
    for name, role in (("boss", Role.ADMIN), ("ann", Role.REVIEWER), ("bob", Role.REVIEWER),
                       ("vic", Role.VIEWER)):
        add_user(warehouse, name, PASSWORD, role)
    return {"admin": "boss"}


def _campaign(synced: WorkspaceDir, wh: Warehouse, **scope: object) -> reviews.Campaign:
    ws = load_workspace(synced.path)
    return reviews.create_campaign(ws, wh, "Q3 review", reviews.Scope.model_validate(scope), "2026-12-31", by="boss")


# -- login and roles ---------------------------------------------------------------------------------

def test_login_is_required_off_loopback_and_pages_redirect_to_it(synced: WorkspaceDir, warehouse: Warehouse,
                                                                  people: dict[str, str]) -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and not is_loopback("0.0.0.0")
    assert auth_settings("0.0.0.0", login=False, has_users=False).login_required
    assert not auth_settings("127.0.0.1", login=False, has_users=False).login_required
    client = _client(synced, warehouse, host="0.0.0.0", login=False)
    for path in ("/", "/search?q=alan", "/person?who=alan.milner", "/reviews", "/plan"):
        response = client.get(path)
        assert response.status_code == 303 and response.headers["location"].startswith("/login"), path
    assert client.post("/reviews", data={"name": "x"}).status_code == 401
    token = _csrf(client.get("/login").text)
    bad = client.post("/login", data={"name": "ann", "password": "wrong password", "csrf": token})
    assert bad.status_code == 401 and "wrong name or password" in bad.text
    _login(client, "vic")
    assert client.get("/search?q=alan").status_code == 200
    assert client.get("/reviews").status_code == 403  # a viewer has no review items
    assert authenticate(warehouse, "nobody", PASSWORD) is None


def test_session_cookie_is_httponly_and_samesite(synced: WorkspaceDir, warehouse: Warehouse,
                                                 people: dict[str, str]) -> None:
    client = _client(synced, warehouse)
    client.get("/login")
    cookie = client.get("/login").headers.get("set-cookie", "") or ""
    token = _csrf(client.get("/login").text)
    response = client.post("/login", data={"name": "ann", "password": PASSWORD, "csrf": token})
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "secure" not in cookie
    assert PASSWORD not in cookie


def test_a_post_without_the_csrf_token_is_refused(synced: WorkspaceDir, warehouse: Warehouse,
                                                  people: dict[str, str]) -> None:
    campaign = _campaign(synced, warehouse, systems=["app"], default_reviewer="ann")
    client = _client(synced, warehouse)
    _login(client, "boss")
    (item,), _ = reviews.items(warehouse, campaign.campaign_id, limit=1)
    for data in ({"decision": "revoke", "item": str(item.item_pk)},
                 {"decision": "revoke", "item": str(item.item_pk), "csrf": "forged"}):
        response = client.post(f"/reviews/{campaign.campaign_id}/decide", data=data)
        assert response.status_code == 403 and "CSRF" in response.text
    assert client.post(f"/reviews/{campaign.campaign_id}/close", data={}).status_code == 403
    (after,), _ = reviews.items(warehouse, campaign.campaign_id, limit=1)
    assert after.decision == "" and reviews.get_campaign(warehouse, campaign.campaign_id).status == "open"


def test_a_reviewer_sees_and_decides_only_their_items_and_cannot_apply(
        synced: WorkspaceDir, warehouse: Warehouse, people: dict[str, str]) -> None:
    campaign = _campaign(synced, warehouse, reviewers={"app": "ann", "hr": "bob"})
    cid = campaign.campaign_id
    anns, ann_total = reviews.items(warehouse, cid, reviewer="ann", limit=None)
    bobs, bob_total = reviews.items(warehouse, cid, reviewer="bob", limit=None)
    assert ann_total and bob_total and {i.system for i in anns} == {"app"} and {i.system for i in bobs} == {"hr"}

    bob = _client(synced, warehouse)
    token = _login(bob, "bob")
    page = bob.get(f"/reviews/{cid}?reviewer=ann").text  # asking for ann's items shows bob's own
    listed = list(csv.DictReader(io.StringIO(bob.get(f"/reviews/{cid}?reviewer=ann&format=csv").text)))
    assert len(listed) == bob_total and {r["reviewer"] for r in listed} == {"bob"}
    assert f'value="{bobs[0].item_pk}"' in page and f'value="{anns[0].item_pk}"' not in page
    assert "ann" not in re.sub(r"<[^>]+>", " ", page.split('id="items"')[1]).split()
    response = bob.post(f"/reviews/{cid}/decide", data={"csrf": token, "decision": "revoke",
                                                        "item": [str(anns[0].item_pk), str(bobs[0].item_pk)]})
    assert response.status_code == 303
    decided = {i.item_pk: i.decision for i in reviews.items(warehouse, cid, limit=None)[0]}
    assert decided[anns[0].item_pk] == "" and decided[bobs[0].item_pk] == "revoke"
    for path in ("/plan", f"/reviews/{cid}/evidence.csv"):
        assert bob.get(path).status_code == 403
    assert bob.post("/plan/apply", data={"csrf": token}).status_code == 403
    assert bob.post(f"/reviews/{cid}/close", data={"csrf": token}).status_code == 403
    assert bob.post("/reviews", data={"csrf": token, "name": "mine", "due": "2026-12-31"}).status_code == 403


def test_a_forged_trusted_header_counts_only_from_the_proxy(synced: WorkspaceDir, warehouse: Warehouse,
                                                           people: dict[str, str]) -> None:
    from_elsewhere = _client(synced, warehouse, trusted=frozenset({"10.0.0.9"}))
    response = from_elsewhere.get("/", headers={"X-Forwarded-User": "boss"})
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    from_proxy = _client(synced, warehouse, trusted=frozenset({"testclient"}))  # the test client's address
    page = from_proxy.get("/", headers={"X-Forwarded-User": "boss"})
    assert page.status_code == 200 and '<span class="user">boss</span>' in page.text


# -- reviews -----------------------------------------------------------------------------------------

def test_campaign_scope_and_manager_reviewers(synced: WorkspaceDir, warehouse: Warehouse) -> None:
    scoped = _campaign(synced, warehouse, systems=["app"], resource_types=["group"],
                       condition='department == "engineering"', manager_attribute="manager_id",
                       default_reviewer="fallback")
    found, total = reviews.items(warehouse, scoped.campaign_id, limit=None)
    assert total > 0 and {i.system for i in found} == {"app"}
    assert all(i.entitlement_id.startswith("group:") for i in found)
    ws = load_workspace(synced.path)
    from pybaton.reconcile.state import open_state

    with open_state(ws) as state:
        idents = state.correlation.identities
        engineering = {i.id for i in idents.values() if i.attributes.get("department") == "engineering"}
        managers = {i.id: str(i.attributes.get("manager_id") or "") for i in idents.values()}
    assert {i.identity_id for i in found} <= engineering
    for item in found:
        assert item.reviewer == (managers[item.identity_id] or "fallback")
    assert len({i.reviewer for i in found}) > 1  # several managers, each sees their own people
    with pytest.raises(Exception, match="unknown system"):
        _campaign(synced, warehouse, systems=["nope"])


def test_closing_turns_revocations_into_a_plan_fixed_at_the_group(synced: WorkspaceDir, warehouse: Warehouse,
                                                                   people: dict[str, str]) -> None:
    campaign = _campaign(synced, warehouse, systems=["app"], default_reviewer="ann")
    cid = campaign.campaign_id
    found, _ = reviews.items(warehouse, cid, limit=None)
    inherited = next(i for i in found if i.access == "inherited")
    direct = next(i for i in found if i.access == "direct" and i.principal_id != inherited.principal_id)
    client = _client(synced, warehouse)
    token = _login(client, "ann")
    client.post(f"/reviews/{cid}/decide", data={"csrf": token, "decision": "revoke", "comment": "left the team",
                                                "item": [str(inherited.item_pk), str(direct.item_pk)]})
    client.post(f"/reviews/{cid}/decide", data={"csrf": token, "decision": "keep",
                                                "item": [str(i.item_pk) for i in found[:5]
                                                         if i.item_pk not in (inherited.item_pk, direct.item_pk)]})
    (progress,) = reviews.progress(warehouse, cid)
    assert progress.reviewer == "ann" and progress.revoked == 2 and progress.decided >= 2

    admin = _client(synced, warehouse)
    token = _login(admin, "boss")
    response = admin.post(f"/reviews/{cid}/close", data={"csrf": token})
    assert response.status_code == 303 and response.headers["location"].startswith("/plan?file=")
    plan = load_plan(reviews.plan_path(load_workspace(synced.path), cid))
    targets = {(a.target, a.principal) for a in plan.actions}
    subject = f"{direct.principal_type}:{direct.principal_id}"
    assert (f"{direct.entitlement_id}:{subject}", subject) in targets
    group_fix = [a for a in plan.actions if a.principal == f"{inherited.principal_type}:{inherited.principal_id}"]
    assert group_fix and all(a.target.split(":")[0:3] != inherited.entitlement_id.split(":")[0:3]
                             for a in group_fix)  # revoked at the membership it comes through
    assert all(a.rules == [f"review:{cid}"] for a in plan.actions)
    assert any("left the team" in e for a in plan.actions for e in a.evidence)
    page = admin.get(response.headers["location"])
    assert page.status_code == 200 and "Approve and apply" in page.text and "disabled" in page.text
    assert admin.post(f"/reviews/{cid}/decide", data={"csrf": token, "decision": "keep",
                                                      "item": str(direct.item_pk)}).status_code == 400
    audit = [json.loads(line) for line in (synced.data_dir / "console.audit.jsonl").read_text().splitlines()]
    assert {("review revoke", "ann"), ("review close", "boss")} <= {(r["operation"], r["target"]["user"])
                                                                   for r in audit}


def test_evidence_csv_and_xlsx_hold_every_item_and_decision(synced: WorkspaceDir, warehouse: Warehouse,
                                                            people: dict[str, str]) -> None:
    campaign = _campaign(synced, warehouse, systems=["hr"], default_reviewer="ann")
    cid = campaign.campaign_id
    found, total = reviews.items(warehouse, cid, limit=None)
    reviews.decide(warehouse, cid, [found[0].item_pk], "revoke", "=HYPERLINK(\"x\")", by="ann", only_reviewer="ann")
    client = _client(synced, warehouse)
    _login(client, "boss")
    rows = list(csv.DictReader(io.StringIO(client.get(f"/reviews/{cid}/evidence.csv").text)))
    assert len(rows) == total
    first = next(r for r in rows if r["item"] == str(found[0].item_pk))
    assert first["decision"] == "revoke" and first["decided_by"] == "ann" and first["decided_at"]
    assert first["comment"] == "'=HYPERLINK(\"x\")"  # never a formula in a spreadsheet
    assert sum(r["decision"] == "pending" for r in rows) == total - 1
    book = load_workbook(io.BytesIO(client.get(f"/reviews/{cid}/evidence.xlsx").content))
    sheet = list(book["Items"].values)
    assert len(sheet) == total + 1 and list(sheet[0]) == list(reviews.EVIDENCE_COLUMNS)
    assert next(r for r in sheet if r[1] == str(found[0].item_pk))[11] == "revoke"


# -- pages -------------------------------------------------------------------------------------------

def test_pages_page_sort_and_export_csv(synced: WorkspaceDir, warehouse: Warehouse) -> None:
    client = _client(synced, warehouse, login=False)
    assert "alan.milner" in client.get("/search?q=milner").text
    person = client.get("/person?who=alan.milner")
    assert person.status_code == 200 and "<svg" in person.text and "inherited" in person.text
    page = client.get("/entitlement?id=group:engineering:member&sort=principal&dir=desc")
    ids = re.findall(r'<td class="mono">user:([^<]+)</td>', page.text)
    assert ids and ids == sorted(ids, reverse=True)
    exported = list(csv.DictReader(io.StringIO(
        client.get("/entitlement?id=group:engineering:member&format=csv").text)))
    assert len(exported) >= len(ids) and {"system", "principal_id", "access"} <= set(exported[0])
    for path in ("/changes?since=30d", "/identities?kind=orphans", "/identities?kind=service", "/",
                 "/resource?type=group&id=engineering", "/person?who=alan.milner&format=csv"):
        assert client.get(path).status_code == 200, path
    missing = client.get("/person?who=nobody-at-all")
    assert missing.status_code == 400 and "no person or account" in missing.text


def test_names_with_markup_are_rendered_inert(synced: WorkspaceDir, warehouse: Warehouse, tmp_path: Path) -> None:
    from fixtures_warehouse import write_sync

    evil = "<script>window.pwned=1</script>"
    path = tmp_path / "evil.c1z"
    write_sync(path, {evil: ["mallory"]})
    warehouse.load("evil", path)
    client = _client(synced, warehouse, login=False)
    for url, params in (("/search", {"q": "script"}), ("/search", {"q": evil}),
                        ("/entitlement", {"id": f"group:{evil}:member"})):
        html = client.get(url, params=params).text
        assert "<script>window" not in html and "&lt;script&gt;window.pwned=1&lt;/script&gt;" in html, url


def test_review_and_user_commands(synced: WorkspaceDir, warehouse: Warehouse, cli: Cli, tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYBATON_CONSOLE_PASSWORD", "a long secret")
    added = cli("console", "user", "add", "carol", "--role", "reviewer", "-w", synced.path)
    assert added.code == 0 and "a long secret" not in added.out + added.err
    assert authenticate(warehouse, "carol", "a long secret") is not None
    assert "carol\treviewer" in cli("console", "user", "list", "-w", synced.path).out
    created = cli("review", "create", "Cli review", "--systems", "app", "--entitlements",
                             "group:engineering:member", "--reviewer", "app=carol", "-w", synced.path)
    assert created.code == 0, created.err
    cid = created.out.split("campaign ")[-1].split()[0]
    status = cli("review", "status", cid, "-w", synced.path).out
    assert "carol: 0/" in status
    out = tmp_path / "evidence.xlsx"
    assert cli("review", "export", cid, "--out", out, "-w", synced.path).code == 0
    assert load_workbook(out)["Items"].max_row > 1
    closed = cli("review", "close", cid, "-w", synced.path)
    assert closed.code == 0 and "0 actions" in closed.out
    again = cli("review", "close", cid, "-w", synced.path)
    assert again.code != 0 and "already closed" in again.err and "Traceback" not in again.err
    bad = cli("review", "create", "x", "--due", "someday", "-w", synced.path)
    assert bad.code != 0 and "not a date" in bad.err
