"""A small REST app for the HTTP meta-connector's tests: a real HTTP server on 127.0.0.1, in a thread.

It serves users (offset pages), groups (cursor pages) and their members (page
numbers, nested groups), roles (link pages: ``links.next`` in the body and a
``Link`` header) and their assignees (one page), apps with child projects,
membership writes (by id, or by username after a look-up), a GitHub-shaped
API (orgs, their members and teams: the documented GitHub example runs against
it) and ConductorOne's ``/api/v1/users`` (the documented OAuth2 example).

Every kind of auth baton-http documents is served: a static bearer token,
Basic, an API key header, OAuth2 client credentials (``/oauth/token``, also
found by OIDC discovery) and a login endpoint (``/login``, bearer-dynamic);
``auth_seen`` counts which one each request used. ``inject`` queues statuses
for a path (404/429/500…), answered before the route. :class:`Faults` makes it misbehave on purpose: 429 storms
with ``Retry-After``, 500s, slow answers, connections dropped without an answer,
and an outage (every request 503) that outlasts any client's retries.
"""

from __future__ import annotations

import base64
import json
import random
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

CLIENT_ID, CLIENT_SECRET = "pybaton-tests", "s3cret-client-value"
STATIC_TOKEN = "static-bearer-token-value"
BASIC_USER, BASIC_PASSWORD = "reader", "basic-pass-value"
API_KEY = "api-key-value"
LOGIN_USER, LOGIN_PASSWORD = "robot", "login-pass-value"
MAX_PAGE = 25


@dataclass
class Faults:
    """What goes wrong, and how often (probabilities per request, from a seeded generator)."""

    rate_limit: float = 0.0
    retry_after: str = "0"
    server_error: float = 0.0
    slow: float = 0.0
    slow_seconds: float = 0.3
    drop: float = 0.0
    outage: bool = False
    outage_after: int | None = None
    seed: int = 7
    counts: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)
        self._lock = threading.Lock()
        self._seen = 0

    def draw(self) -> str:
        """The fault for the next request ("" for none), counted."""
        with self._lock:
            self._seen += 1
            if self.outage or (self.outage_after is not None and self._seen > self.outage_after):
                kind = "outage"
            else:
                roll, kind = self._random.random(), ""
                for name, p in (("rate_limit", self.rate_limit), ("server_error", self.server_error),
                                ("slow", self.slow), ("drop", self.drop)):
                    if roll < p:
                        kind = name
                        break
                    roll -= p
            if kind:
                self.counts[kind] = self.counts.get(kind, 0) + 1
            return kind


@dataclass
class Data:
    users: list[dict[str, Any]]
    groups: list[dict[str, Any]]
    members: dict[str, list[dict[str, str]]]
    roles: list[dict[str, Any]]
    assignees: dict[str, list[str]]
    apps: list[dict[str, Any]]
    projects: dict[str, list[dict[str, Any]]]

    @classmethod
    def seed(cls, users: int = 60, groups: int = 12, roles: int = 7) -> Data:
        rnd = random.Random(42)
        us = [{"id": f"u{i:04d}", "username": f"user{i}", "email": f"user{i}@example.org",
               "name": f"User {i}", "active": i % 9 != 0} for i in range(users)]
        gs = [{"id": f"g{i:02d}", "name": f"Group {i}"} for i in range(groups)]
        members: dict[str, list[dict[str, str]]] = {}
        for i, g in enumerate(gs):
            chosen = rnd.sample(us, k=min(len(us), 3 + i * 3))
            members[g["id"]] = [{"id": u["id"], "type": "user"} for u in chosen]
            if i >= 2:  # nest the previous group (a chain), so expansion has work to do
                members[g["id"]].append({"id": gs[i - 1]["id"], "type": "group"})
        rs = [{"id": f"r{i}", "name": f"Role {i}", "admin": i == 0} for i in range(roles)]
        assignees = {r["id"]: [u["id"] for u in rnd.sample(us, k=4)] for r in rs}
        apps = [{"id": f"a{i}", "name": f"App {i}"} for i in range(3)]
        projects = {a["id"]: [{"id": f"{a['id']}-p{j}", "title": f"Project {j}"} for j in range(4)] for a in apps}
        return cls(us, gs, members, rs, assignees, apps, projects)


class RestApp:
    """The server; ``with RestApp() as app: app.base_url``."""

    def __init__(self, data: Data | None = None, faults: Faults | None = None, token_ttl: int = 3600) -> None:
        self.data = data or Data.seed()
        self.faults = faults or Faults()
        self.token_ttl = token_ttl
        self.tokens: dict[str, float] = {}
        self.requests = 0
        self.token_requests = 0
        self.login_requests = 0
        self.auth_seen: dict[str, int] = {}
        self.inject: dict[tuple[str, str], list[int]] = {}
        self.writes: list[tuple[str, str, Any]] = []  # (method, path, decoded JSON body) of every write
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> RestApp:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- auth --------------------------------------------------------------------------------------

    def issue_token(self, authorization: str, form: dict[str, str]) -> tuple[int, Any]:
        expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        client_ok = authorization == expected or (form.get("client_id"), form.get("client_secret")) == (
            CLIENT_ID, CLIENT_SECRET)
        user_ok = (form.get("username"), form.get("password")) == (LOGIN_USER, LOGIN_PASSWORD)
        if not client_ok or form.get("grant_type") not in ("client_credentials", "password") or (
                form.get("grant_type") == "password" and not user_ok):
            return 401, {"error": "invalid_client"}
        token = secrets.token_urlsafe(16)
        with self.lock:
            self.tokens[token] = time.monotonic() + self.token_ttl
            self.token_requests += 1
        return 200, {"access_token": token, "token_type": "Bearer", "expires_in": self.token_ttl}

    def login(self, body: Any) -> tuple[int, Any]:
        """bearer-dynamic: a JSON login answered with a token and its absolute expiry."""
        if not isinstance(body, dict) or (body.get("username"), body.get("password")) != (LOGIN_USER, LOGIN_PASSWORD):
            return 401, {"error": "bad credentials"}
        token = secrets.token_urlsafe(16)
        with self.lock:
            self.tokens[token] = time.monotonic() + self.token_ttl
            self.login_requests += 1
        return 200, {"access_token": token, "expires_at": int(time.time()) + self.token_ttl}

    def auth_kind(self, headers: Any) -> str:
        """Which accepted credential a request carries ("" for none)."""
        authorization = headers.get("Authorization", "")
        basic = "Basic " + base64.b64encode(f"{BASIC_USER}:{BASIC_PASSWORD}".encode()).decode()
        if authorization == f"Bearer {STATIC_TOKEN}":
            return "bearer"
        if authorization == basic:
            return "basic"
        if headers.get("X-API-Key", "") == f"ApiKey {API_KEY}":
            return "api_key"
        with self.lock:
            if self.tokens.get(authorization.removeprefix("Bearer "), 0.0) > time.monotonic():
                return "token"
        return ""

    def injected(self, method: str, path: str) -> int | None:
        with self.lock:
            queue = self.inject.get((method, path))
            return queue.pop(0) if queue else None


Route = Callable[[RestApp, "re.Match[str]", dict[str, list[str]], Any], tuple[int, Any, dict[str, str]]]


def _int(query: dict[str, list[str]], name: str, default: int) -> int:
    return int(query.get(name, [str(default)])[0])


def _users(app: RestApp, m: re.Match[str], q: dict[str, list[str]], body: Any) -> tuple[int, Any, dict[str, str]]:
    offset, limit = _int(q, "offset", 0), min(_int(q, "limit", 10), MAX_PAGE)
    users = app.data.users
    return 200, {"data": {"users": users[offset:offset + limit]}, "total": len(users)}, {}


def _groups(app: RestApp, m: re.Match[str], q: dict[str, list[str]], body: Any) -> tuple[int, Any, dict[str, str]]:
    limit = min(_int(q, "limit", 5), MAX_PAGE)
    start = int(base64.urlsafe_b64decode(q["cursor"][0]).decode()) if q.get("cursor") else 0
    page = app.data.groups[start:start + limit]
    more = start + limit < len(app.data.groups)
    cursor = base64.urlsafe_b64encode(str(start + limit).encode()).decode() if more else None
    return 200, {"groups": page, "meta": {"next_cursor": cursor}}, {}


def _members(app: RestApp, m: re.Match[str], q: dict[str, list[str]], body: Any) -> tuple[int, Any, dict[str, str]]:
    members = app.data.members.get(m.group(1))
    if members is None:
        return 404, {"error": "no such group"}, {}
    page, per = _int(q, "page", 1), min(_int(q, "per_page", 5), MAX_PAGE)
    return 200, {"members": members[(page - 1) * per:page * per], "page": page}, {}


def _roles(app: RestApp, m: re.Match[str], q: dict[str, list[str]], body: Any) -> tuple[int, Any, dict[str, str]]:
    page, per = _int(q, "page", 1), 3
    roles = app.data.roles[(page - 1) * per:page * per]
    headers, links = {}, {}
    if page * per < len(app.data.roles):
        links["next"] = f"{app.base_url}/api/roles?page={page + 1}"
        headers["Link"] = f'<{links["next"]}>; rel="next"'
    return 200, {"roles": roles, "links": links}, headers


def _user(app: RestApp, m: re.Match[str], q: dict[str, list[str]], body: Any) -> tuple[int, Any, dict[str, str]]:
    found = next((u for u in app.data.users if u["id"] == unquote(m.group(1))), None)
    return (200, found, {}) if found is not None else (404, {"error": "no such user"}, {})


def _put_member(app: RestApp, m: re.Match[str], q: dict[str, list[str]],
                body: Any) -> tuple[int, Any, dict[str, str]]:
    """Membership by username (the pre-request example): PUT /groups/{id}/members/{username}."""
    user = next((u for u in app.data.users if u["username"] == unquote(m.group(2))), None)
    if user is None:
        return 404, {"error": "no such username"}, {}
    return _add_member(app, m, q, {"user_id": user["id"]})


def _orgs(app: RestApp, m: re.Match[str], q: dict[str, list[str]], body: Any) -> tuple[int, Any, dict[str, str]]:
    return 200, {"items": [{"id": a["id"], "login": f"org-{a['id']}"} for a in app.data.apps]}, {}


def _org_members(app: RestApp, m: re.Match[str], q: dict[str, list[str]],
                 body: Any) -> tuple[int, Any, dict[str, str]]:
    return 200, {"items": [{"login": u["username"]} for u in org_members(app.data, m.group(1))]}, {}


def _org_teams(app: RestApp, m: re.Match[str], q: dict[str, list[str]],
               body: Any) -> tuple[int, Any, dict[str, str]]:
    return 200, {"items": [{"id": g["id"], "name": g["name"], "description": f"Team {g['id']}"}
                           for g in org_teams(app.data, m.group(1))]}, {}


def _team_members(app: RestApp, m: re.Match[str], q: dict[str, list[str]],
                  body: Any) -> tuple[int, Any, dict[str, str]]:
    logins = {u["id"]: u["username"] for u in app.data.users}
    return 200, {"items": [{"login": logins[x["id"]]} for x in app.data.members.get(m.group(2), [])
                           if x["type"] == "user"]}, {}


def _permissions(app: RestApp, m: re.Match[str], q: dict[str, list[str]],
                 body: Any) -> tuple[int, Any, dict[str, str]]:
    """Dynamic entitlements: what can be done on a role."""
    return 200, {"items": [{"operation": op} for op in ("read", "write")]}, {}


def _v1_users(app: RestApp, m: re.Match[str], q: dict[str, list[str]],
              body: Any) -> tuple[int, Any, dict[str, str]]:
    return 200, {"data": app.data.users}, {}


def _c1_users(app: RestApp, m: re.Match[str], q: dict[str, list[str]],
              body: Any) -> tuple[int, Any, dict[str, str]]:
    return 200, {"list": [{"user": {"id": u["id"], "displayName": u["name"], "username": u["username"],
                                    "email": u["email"]}} for u in app.data.users]}, {}


def org_members(data: Data, org: str) -> list[dict[str, Any]]:
    """The GitHub-shaped view: org ``a<i>`` has every third user, starting at ``i``."""
    i = int(org[1:])
    return data.users[i::len(data.apps)]


def org_teams(data: Data, org: str) -> list[dict[str, Any]]:
    i = int(org[1:])
    return data.groups[i::len(data.apps)]


def _assignees(app: RestApp, m: re.Match[str], q: dict[str, list[str]],
               body: Any) -> tuple[int, Any, dict[str, str]]:
    return 200, [{"user_id": uid} for uid in app.data.assignees.get(m.group(1), [])], {}


def _apps(app: RestApp, m: re.Match[str], q: dict[str, list[str]], body: Any) -> tuple[int, Any, dict[str, str]]:
    return 200, {"apps": app.data.apps}, {}


def _projects(app: RestApp, m: re.Match[str], q: dict[str, list[str]], body: Any) -> tuple[int, Any, dict[str, str]]:
    return 200, {"projects": app.data.projects.get(m.group(1), [])}, {}


def _add_member(app: RestApp, m: re.Match[str], q: dict[str, list[str]],
                body: Any) -> tuple[int, Any, dict[str, str]]:
    members = app.data.members.setdefault(m.group(1), [])
    uid = str((body or {}).get("user_id", ""))
    with app.lock:
        if any(x["id"] == uid for x in members):
            return 409, {"error": "already a member"}, {}
        members.append({"id": uid, "type": "user"})
    return 201, {"ok": True}, {}


def _remove_member(app: RestApp, m: re.Match[str], q: dict[str, list[str]],
                   body: Any) -> tuple[int, Any, dict[str, str]]:
    members = app.data.members.get(m.group(1), [])
    with app.lock:
        keep = [x for x in members if x["id"] != unquote(m.group(2))]
        if len(keep) == len(members):
            return 404, {"error": "not a member"}, {}
        app.data.members[m.group(1)] = keep
    return 204, None, {}


ROUTES: list[tuple[str, re.Pattern[str], Route]] = [
    ("GET", re.compile(r"^/api/users$"), _users),
    ("GET", re.compile(r"^/api/users/([^/]+)$"), _user),
    ("PUT", re.compile(r"^/api/groups/([^/]+)/members/([^/]+)$"), _put_member),
    ("GET", re.compile(r"^/user/orgs$"), _orgs),
    ("GET", re.compile(r"^/orgs/([^/]+)/members$"), _org_members),
    ("GET", re.compile(r"^/orgs/([^/]+)/teams$"), _org_teams),
    ("GET", re.compile(r"^/orgs/([^/]+)/team/([^/]+)/members$"), _team_members),
    ("GET", re.compile(r"^/api/v1/users$"), _c1_users),
    ("GET", re.compile(r"^/v1/users$"), _v1_users),
    ("GET", re.compile(r"^/api/groups$"), _groups),
    ("GET", re.compile(r"^/api/groups/([^/]+)/members$"), _members),
    ("POST", re.compile(r"^/api/groups/([^/]+)/members$"), _add_member),
    ("DELETE", re.compile(r"^/api/groups/([^/]+)/members/([^/]+)$"), _remove_member),
    ("GET", re.compile(r"^/api/roles$"), _roles),
    ("GET", re.compile(r"^/api/roles/([^/]+)/assignees$"), _assignees),
    ("GET", re.compile(r"^/api/roles/([^/]+)/permissions$"), _permissions),
    ("GET", re.compile(r"^/api/apps$"), _apps),
    ("GET", re.compile(r"^/api/apps/([^/]+)/projects$"), _projects),
]


def _handler(app: RestApp) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _reply(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            raw = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def _body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _dispatch(self, method: str) -> None:
            raw = self._body()
            with app.lock:
                app.requests += 1
            parts = urlsplit(self.path)
            if parts.path in ("/oauth/token", "/auth/v1/token") and method == "POST":
                form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
                self._reply(*app.issue_token(self.headers.get("Authorization", ""), form))
                return
            if parts.path == "/login" and method == "POST":
                self._reply(*app.login(json.loads(raw) if raw else None))
                return
            if parts.path == "/.well-known/openid-configuration":
                self._reply(200, {"issuer": app.base_url, "token_endpoint": f"{app.base_url}/oauth/token"})
                return
            if self._fault():
                return
            kind = app.auth_kind(self.headers)
            if not kind:
                self._reply(401, {"error": "unauthorized"})
                return
            with app.lock:
                app.auth_seen[kind] = app.auth_seen.get(kind, 0) + 1
            status = app.injected(method, parts.path)
            if status is not None:
                self._reply(status, {"error": f"injected {status}"}, {"Retry-After": "0"} if status == 429 else {})
                return
            decoded = json.loads(raw) if raw else None
            if method != "GET":
                with app.lock:
                    app.writes.append((method, parts.path, decoded))
            for verb, pattern, route in ROUTES:
                match = pattern.match(parts.path)
                if verb == method and match:
                    status, body, headers = route(app, match, parse_qs(parts.query), decoded)
                    self._reply(status, body, headers)
                    return
            self._reply(404, {"error": "no route"})

        def _fault(self) -> bool:
            """Misbehave as :class:`Faults` says; True when the request got no normal answer."""
            kind = app.faults.draw()
            if kind in ("rate_limit", "outage", "server_error"):
                status = {"rate_limit": 429, "outage": 503, "server_error": 500}[kind]
                headers = {"Retry-After": app.faults.retry_after} if kind == "rate_limit" else {}
                self._reply(status, {"error": kind}, headers)
                return True
            if kind == "slow":
                time.sleep(app.faults.slow_seconds)
            if kind == "drop":
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return True
            return False

        def do_GET(self) -> None:
            self._dispatch("GET")

        def do_POST(self) -> None:
            self._dispatch("POST")

        def do_DELETE(self) -> None:
            self._dispatch("DELETE")

        def do_PUT(self) -> None:
            self._dispatch("PUT")

    return Handler
