"""The console in a real headless Chromium (Selenium + Debian's chromium-driver), served by a real
``pybaton serve`` process, over a workspace whose app is a real PostgreSQL server.

search → person → the access graph; an access review from creation to the
revocation applied on PostgreSQL and seen after the re-sync; the evidence
downloaded and read back; a forged proxy header from a non-proxy address; a
PostgreSQL role named ``<script>…`` shown as text. Screenshots go to
``$PYBATON_SCREENSHOTS`` (``PYBATON_SCREENSHOTS=docs/console`` refreshes the ones the
documentation shows), else to a temporary folder, so a test run leaves the tree clean.
"""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from openpyxl import load_workbook
from reconcile_support import WorkspaceDir
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from pybaton.testing.servers import PostgresServer, free_port

pytestmark = [pytest.mark.servers, pytest.mark.slow, pytest.mark.xdist_group("console-browser")]

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
SHOTS = Path(os.environ.get("PYBATON_SCREENSHOTS") or Path(tempfile.gettempdir()) / "pybaton-console-shots")
PASSWORD = "a reviewer's passphrase"
EVIL = "<script>window.pwned=1</script>"


def _pybaton(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-c", "from pybaton.cli.main import main; main()", *map(str, args)]
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300, check=False)


class Site:
    """One ``pybaton serve`` process on a free port; stopped by its PID."""

    def __init__(self, ws: WorkspaceDir, env: dict[str, str], *extra: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        argv = [sys.executable, "-c", "from pybaton.cli.main import main; main()", "serve", "-w", str(ws.path),
                "--port", str(self.port), *extra]
        self.log = ws.root / f"serve-{self.port}.log"
        with self.log.open("w") as out:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"pybaton serve exited: {self.log.read_text()}")
            try:
                httpx.get(self.url + "/login", timeout=2)
                return
            except httpx.HTTPError:
                time.sleep(0.2)
        self.stop()
        raise AssertionError(f"pybaton serve did not answer: {self.log.read_text()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class World:
    """hr (the demo company, identity provider) and pg (PostgreSQL roles made for this module)."""

    def __init__(self, root: Path, pg: PostgresServer) -> None:
        self.pg = pg
        self.sfx = uuid.uuid4().hex[:6]
        self.team, self.eve, self.dan = f"web_team_{self.sfx}", f"web_eve_{self.sfx}", f"web_dan_{self.sfx}"
        self.evil = f"{EVIL}{self.sfx}"
        pg.psql(f'CREATE ROLE {self.team} NOLOGIN; CREATE ROLE {self.eve} LOGIN; CREATE ROLE {self.dan} LOGIN; '
                f'GRANT {self.team} TO {self.eve}; GRANT {self.team} TO {self.dan}; '
                f'CREATE ROLE "{self.evil}" NOLOGIN; GRANT "{self.evil}" TO {self.dan};')
        self.env = {**os.environ, "WEB_PG_DSN": pg.dsn(), "PYBATON_CONSOLE_PASSWORD": PASSWORD}
        self.ws = WorkspaceDir(root, {
            "data_dir": "data", "warehouse": {},
            "identity": {"rules": ["email", "login"]},
            "brake": {"max_revocations": 10, "max_percent": 100},
            "systems": {
                "hr": {"connector": "demo", "identity_provider": True, "config": {"data_dir": "hr-db"}},
                "pg": {"connector": "postgres", "config": {"dsn_env": "WEB_PG_DSN", "databases": ["postgres"]},
                       "protected": ["role:public:*"]},
            }}, {})

    def members(self) -> set[str]:
        out = self.pg.psql(f"SELECT u.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid "
                           f"JOIN pg_roles u ON u.oid = m.member WHERE r.rolname = '{self.team}'")
        return {line.strip() for line in out.splitlines() if line.strip()}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, postgres_server: PostgresServer) -> Iterator[World]:
    w = World(tmp_path_factory.mktemp("console-web"), postgres_server)
    synced = _pybaton("workspace", "sync", "-w", w.ws.path, env=w.env)
    assert synced.returncode == 0, synced.stdout + synced.stderr
    for name, role in (("boss", "admin"), ("ann", "reviewer"), ("bob", "reviewer")):
        added = _pybaton("console", "user", "add", name, "--role", role, "-w", w.ws.path, env=w.env)
        assert added.returncode == 0, added.stderr
    yield w
    postgres_server.psql(f'DROP ROLE IF EXISTS {w.eve}; DROP ROLE IF EXISTS {w.dan}; '
                         f'DROP ROLE IF EXISTS "{w.evil}"; DROP ROLE IF EXISTS {w.team};')


@pytest.fixture(scope="module")
def site(world: World) -> Iterator[Site]:
    s = Site(world.ws, world.env, "-p")
    yield s
    s.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.fail("chromium and chromium-driver are needed: scripts/install-test-servers.sh installs them")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1360,900", "--force-device-scale-factor=1"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.implicitly_wait(5)
    yield driver
    driver.quit()


def _login(browser: WebDriver, site: Site, name: str) -> None:
    browser.delete_all_cookies()
    browser.get(site.url + "/login")
    browser.find_element(By.NAME, "name").send_keys(name)
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "form.login button").click()
    WebDriverWait(browser, 10).until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ".who")))
    assert browser.find_element(By.CSS_SELECTOR, ".who .user").text == name


def _shot(browser: WebDriver, name: str, height: int | None = None) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    if height is not None:
        browser.set_window_size(1360, height)
    browser.save_screenshot(str(SHOTS / f"{name}.png"))
    browser.set_window_size(1360, 900)


def _accept_confirms(browser: WebDriver) -> None:
    browser.execute_script("window.confirm = function () { return true; };")


def test_search_then_person_shows_the_access_graph(browser: WebDriver, site: Site, world: World) -> None:
    _login(browser, site, "boss")
    box = browser.find_element(By.CSS_SELECTOR, "form.search input")
    box.send_keys("alan")
    box.submit()
    link = browser.find_element(By.LINK_TEXT, "alan.milner")
    link.click()
    graph = WebDriverWait(browser, 10).until(
        expected_conditions.visibility_of_element_located((By.CSS_SELECTOR, "#graph svg.graph")))
    assert graph.size["width"] > 400 and graph.size["height"] > 100
    labels = [t.text for t in browser.find_elements(By.CSS_SELECTOR, "#graph svg text")]
    assert "alan.milner" in labels and any(label.startswith("hr: ") for label in labels)
    assert any("member" in label for label in labels)  # the group memberships the access comes through
    arrows = browser.find_elements(By.CSS_SELECTOR, "#graph svg path[marker-end]")
    assert len(arrows) >= len(labels) - 1
    _shot(browser, "person-graph", 1000)
    first_path = browser.find_element(By.LINK_TEXT, "path")
    first_path.click()
    WebDriverWait(browser, 10).until(expected_conditions.url_contains("path="))
    assert browser.find_elements(By.CSS_SELECTOR, "#graph svg g.node")


def test_a_role_named_script_is_shown_as_text(browser: WebDriver, site: Site, world: World) -> None:
    _login(browser, site, "boss")
    browser.get(site.url + "/search?q=script")
    cells = [c.text for c in browser.find_elements(By.CSS_SELECTOR, "#hits td")]
    assert any(world.evil in c for c in cells)
    assert browser.execute_script("return typeof window.pwned") == "undefined"
    secret = world.pg.superuser_password  # in the workspace's DSN variable: never on a page
    for path in ("/", "/plan", "/identities?kind=orphans", "/changes?since=30d", f"/person?who={world.dan}"):
        browser.get(site.url + path)
        assert secret not in browser.page_source, path
    assert world.evil[:20] in browser.page_source.replace("&lt;", "<").replace("&gt;", ">")
    assert browser.execute_script("return typeof window.pwned") == "undefined"


def test_a_forged_proxy_header_from_elsewhere_is_ignored(world: World) -> None:
    proxied = Site(world.ws, world.env, "--trusted-header", "X-Forwarded-User", "--trusted-proxy", "10.9.8.7")
    try:
        forged = httpx.get(proxied.url + "/plan", headers={"X-Forwarded-User": "boss"})
        assert forged.status_code == 303 and forged.headers["location"].startswith("/login")
    finally:
        proxied.stop()
    lonely = WorkspaceDir(world.ws.root / "lonely", {**world.ws.workspace, "data_dir": "lonely-data"}, {})
    refused = _pybaton("serve", "-w", lonely.path, "--host", "0.0.0.0", "--port", str(free_port()), env=world.env)
    assert refused.returncode != 0 and "requires login" in refused.stderr and "Traceback" not in refused.stderr


def test_access_review_from_creation_to_the_revocation_on_postgresql(browser: WebDriver, site: Site,
                                                                     world: World) -> None:
    entitlement = f"role:{world.team}:member"
    assert world.members() == {world.eve, world.dan}
    _login(browser, site, "boss")
    browser.get(site.url + "/reviews")
    form = browser.find_element(By.ID, "create-review")
    for name, value in (("name", f"Database access Q3 {world.sfx}"), ("systems", "pg"),
                        ("entitlements", entitlement), ("reviewers", "pg=ann")):
        form.find_element(By.NAME, name).send_keys(value)
    browser.execute_script("document.querySelector('#create-review input[name=due]').value = '2026-12-31'")
    form.find_element(By.TAG_NAME, "button").click()
    WebDriverWait(browser, 20).until(expected_conditions.presence_of_element_located((By.ID, "items")))
    campaign = browser.current_url.rstrip("/").split("/")[-1]

    _login(browser, site, "bob")  # another reviewer has nothing to decide in it
    browser.get(f"{site.url}/reviews/{campaign}")
    assert not browser.find_elements(By.CSS_SELECTOR, "#items input[name=item]")

    _login(browser, site, "ann")
    browser.get(f"{site.url}/reviews/{campaign}")
    rows = browser.find_elements(By.CSS_SELECTOR, "#items tbody tr")
    assert len(rows) == 2
    eve_row = next(r for r in rows if world.eve in r.text)
    eve_row.find_element(By.NAME, "item").click()
    browser.find_element(By.NAME, "comment").send_keys("Eve moved to marketing")
    browser.find_element(By.ID, "revoke").click()
    WebDriverWait(browser, 10).until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR,
                                                                                      "tr.d-revoke")))
    dan_row = next(r for r in browser.find_elements(By.CSS_SELECTOR, "#items tbody tr") if world.dan in r.text)
    dan_row.find_element(By.NAME, "item").click()
    browser.find_element(By.ID, "keep").click()
    WebDriverWait(browser, 10).until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "tr.d-keep")))
    assert "2/2 decided" in browser.find_element(By.CSS_SELECTOR, ".progress").text
    _shot(browser, "review")
    assert not browser.find_elements(By.ID, "close")  # a reviewer cannot close or apply

    _login(browser, site, "boss")
    cookies = {c["name"]: c["value"] for c in browser.get_cookies()}
    with httpx.Client(base_url=site.url, cookies=cookies) as http:
        evidence = list(csv.DictReader(io.StringIO(http.get(f"/reviews/{campaign}/evidence.csv").text)))
        book = load_workbook(io.BytesIO(http.get(f"/reviews/{campaign}/evidence.xlsx").content))
    decisions = {r["account"]: (r["decision"], r["decided_by"], r["comment"]) for r in evidence}
    assert decisions == {f"user:{world.eve}": ("revoke", "ann", "Eve moved to marketing"),
                         f"user:{world.dan}": ("keep", "ann", "")}
    assert all(r["decided_at"] and r["reviewer"] == "ann" for r in evidence)
    items = list(book["Items"].values)
    assert len(items) == 3 and {row[11] for row in items[1:]} == {"revoke", "keep"}

    browser.get(f"{site.url}/reviews/{campaign}")
    _accept_confirms(browser)
    browser.find_element(By.ID, "close").click()
    WebDriverWait(browser, 20).until(expected_conditions.presence_of_element_located((By.ID, "actions")))
    actions = browser.find_element(By.ID, "actions").text
    assert f"{entitlement}:user:{world.eve}" in actions and world.dan not in actions
    _shot(browser, "plan")
    _accept_confirms(browser)
    browser.find_element(By.ID, "apply").click()
    summary = WebDriverWait(browser, 120).until(expected_conditions.presence_of_element_located((By.ID, "summary")))
    assert summary.text.startswith("1 done")

    assert world.members() == {world.dan}  # on the PostgreSQL server itself
    browser.get(f"{site.url}/entitlement?id={entitlement}&system=pg")  # the warehouse after the re-sync
    holders = browser.find_element(By.ID, "holders").text
    assert world.dan in holders and world.eve not in holders
    audit = (world.ws.data_dir / "console.audit.jsonl").read_text()
    assert '"user":"ann"' in audit and '"operation":"apply"' in audit and PASSWORD not in audit
