"""The connector HTTP client against a real scripted server on 127.0.0.1: retries, rate limits, errors, auth."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from pybaton.connector.http import (
    Action,
    HttpClient,
    HttpConflictError,
    HttpNotFoundError,
    HttpRateLimitedError,
    HttpRetryableError,
    RetryConfig,
    StatusRule,
    rate_limit_wait,
    redact_headers,
    redact_url,
)
from pybaton.connector.http_auth import (
    ApiKeyAuth,
    BasicAuth,
    BearerAuth,
    OAuth2ClientCredentials,
    OAuth2Password,
)
from pybaton.errors import AuthenticationError, PermissionDeniedError, UnreachableError

Step = tuple[int, dict[str, str], Any]  # status, headers, body; status 0 drops the connection


class Scripted:
    """A server answering each request with the next scripted step (then 200 {"ok": true})."""

    def __init__(self) -> None:
        self.steps: list[Step] = []
        self.seen: list[tuple[str, str, dict[str, str], bytes]] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with outer.lock:
                    outer.seen.append((self.command, self.path, dict(self.headers), body))
                    status, headers, payload = outer.steps.pop(0) if outer.steps else (200, {}, {"ok": True})
                if status == 0:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if status < 0:  # slow: sleep, then answer 200
                    time.sleep(-status / 1000)
                    status = 200
                raw = json.dumps(payload).encode() if payload is not None else b""
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            do_GET = do_POST = do_PATCH = do_DELETE = _any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def server() -> Iterator[Scripted]:
    s = Scripted()
    yield s
    s.close()


def client(server: Scripted, **kwargs: Any) -> HttpClient:
    kwargs.setdefault("retry", RetryConfig(max_retries=3, initial_interval=0.01, max_interval=0.02, max_wait=2))
    return HttpClient(server.url, **kwargs)


def test_transient_failures_are_retried_until_success(server: Scripted) -> None:
    server.steps = [(500, {}, {"e": 1}), (0, {}, None), (502, {}, None)]
    with client(server) as c:
        assert c.get_json("/things") == {"ok": True}
        assert (c.stats.requests, c.stats.retries) == (4, 3)


def test_retries_give_up_with_a_retryable_error(server: Scripted) -> None:
    server.steps = [(503, {}, None)] * 5
    with client(server) as c, pytest.raises(HttpRetryableError, match="status 503"):
        c.get_json("/x")


def test_post_is_not_retried_after_it_may_have_reached_the_server(server: Scripted) -> None:
    server.steps = [(500, {}, None)]
    with client(server) as c, pytest.raises(HttpRetryableError):
        c.request("POST", "/items", json={"a": 1})
    assert len(server.seen) == 1


def test_slow_answer_past_the_timeout_is_retried(server: Scripted) -> None:
    server.steps = [(-600, {}, None)]
    with client(server, timeout=0.2) as c:
        assert c.get_json("/slow") == {"ok": True}
        assert c.stats.retries == 1


def test_429_waits_for_retry_after_then_succeeds(server: Scripted) -> None:
    server.steps = [(429, {"Retry-After": "1"}, None), (429, {"Retry-After": "0"}, None)]
    slept: list[float] = []
    with client(server, sleep=slept.append) as c:
        assert c.get_json("/limited") == {"ok": True}
        assert c.stats.rate_limited == 2
    assert slept and max(slept) == pytest.approx(1.0, abs=0.05)


def test_a_long_rate_limit_becomes_a_rate_limited_error_with_the_reset_time(server: Scripted) -> None:
    server.steps = [(429, {"Retry-After": "120"}, None)]
    with client(server) as c, pytest.raises(HttpRateLimitedError) as info:
        c.get_json("/limited")
    assert 100 < info.value.seconds_to_wait() <= 120


def test_exhausted_budget_holds_back_the_next_request(server: Scripted) -> None:
    reset = str(int(time.time()) + 2)
    server.steps = [(200, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}, {"n": 1})]
    slept: list[float] = []
    with client(server, sleep=slept.append) as c:
        c.get_json("/a")
        c.get_json("/b")
    assert slept and 0.5 < slept[0] <= 2.0


@pytest.mark.parametrize(("headers", "status", "expected"), [
    ({"Retry-After": "7"}, 429, 7.0),
    ({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, 429, 0.0),
    ({"RateLimit-Remaining": "0", "RateLimit-Reset": "9"}, 200, 9.0),
    ({"RateLimit": "limit=100, remaining=0, reset=4"}, 200, 4.0),
    ({"X-RateLimit-Remaining": "3", "X-RateLimit-Reset": "9"}, 200, None),
    ({}, 200, None),
])
def test_rate_limit_headers(headers: dict[str, str], status: int, expected: float | None) -> None:
    response = httpx.Response(status, headers=headers)
    assert rate_limit_wait(response, now=time.time()) == (pytest.approx(expected, abs=0.5) if expected else expected)


@pytest.mark.parametrize(("status", "error"), [(401, AuthenticationError), (403, PermissionDeniedError),
                                               (404, HttpNotFoundError), (409, HttpConflictError)])
def test_statuses_become_typed_errors(server: Scripted, status: int, error: type[Exception]) -> None:
    server.steps = [(status, {}, {"detail": "nope"})]
    with client(server) as c, pytest.raises(error, match=f"status {status}"):
        c.get_json("/x")


def test_status_rules_override_the_defaults(server: Scripted) -> None:
    server.steps = [(404, {}, None), (409, {}, None), (200, {}, {"second": True})]
    with client(server) as c:
        assert not c.request("GET", "/x", rules={404: StatusRule(Action.IGNORE)}).is_success
        assert c.get_json("/y", rules={"4xx": StatusRule(Action.RETRY, retry_after=0)}) == {"second": True}


def test_unreachable_server_is_the_operators_problem() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    c = HttpClient(f"http://127.0.0.1:{port}", retry=RetryConfig(max_retries=1, initial_interval=0.01))
    with pytest.raises(UnreachableError):
        c.get_json("/x")


def test_secrets_never_reach_logs_or_errors(server: Scripted, caplog: pytest.LogCaptureFixture) -> None:
    token = "tok-very-secret-123"
    server.steps = [(400, {}, {"echo": f"bad token {token}"})]
    caplog.set_level(logging.DEBUG, logger="pybaton.http")
    with client(server, auth=BearerAuth(token)) as c:
        with pytest.raises(Exception) as info:
            c.get_json("/x?api_key=k-123&page=2")
        c.get_json("/y")
    assert token not in str(info.value) and "k-123" not in str(info.value)
    assert token not in caplog.text and "k-123" not in caplog.text
    assert server.seen[0][2]["Authorization"] == f"Bearer {token}"


def test_redaction_helpers() -> None:
    assert redact_headers({"Authorization": "Bearer x", "X-Api-Key": "k", "Cookie": "c", "Accept": "a"}) == {
        "Authorization": "<redacted>", "X-Api-Key": "<redacted>", "Cookie": "<redacted>", "Accept": "a"}
    assert redact_url("https://u:p@h/x?token=t&q=1") == "https://h/x?token=<redacted>&q=1"


def test_basic_and_api_key_auth(server: Scripted) -> None:
    with client(server, auth=BasicAuth("ann", "pw")) as c:
        c.get_json("/a")
    with client(server, auth=ApiKeyAuth("k1", header="X-Key", prefix="Key ")) as c:
        c.get_json("/b")
    with client(server, auth=ApiKeyAuth("k2", query="api_key")) as c:
        c.get_json("/c")
    assert server.seen[0][2]["Authorization"] == "Basic YW5uOnB3"
    assert server.seen[1][2]["X-Key"] == "Key k1"
    assert server.seen[2][1] == "/c?api_key=k2"


def test_oauth2_client_credentials_caches_and_refreshes_after_401(server: Scripted) -> None:
    auth = OAuth2ClientCredentials("/token", client_id="cid", client_secret="csecret", scopes=["read"])
    server.steps = [(200, {}, {"access_token": "t1", "expires_in": 3600}), (200, {}, {}), (200, {}, {}),
                    (401, {}, None), (200, {}, {"access_token": "t2", "expires_in": 3600}), (200, {}, {"n": 3})]
    with client(server, auth=auth) as c:
        c.get_json("/a")
        c.get_json("/b")
        assert c.get_json("/c") == {"n": 3}
    methods = [(m, p) for m, p, _, _ in server.seen]
    assert methods == [("POST", "/token"), ("GET", "/a"), ("GET", "/b"), ("GET", "/c"), ("POST", "/token"),
                       ("GET", "/c")]
    form = server.seen[0][3].decode()
    assert "grant_type=client_credentials" in form and "scope=read" in form
    assert server.seen[0][2]["Authorization"].startswith("Basic ")
    assert server.seen[5][2]["Authorization"] == "Bearer t2"


def test_oauth2_password_grant_uses_the_refresh_token(server: Scripted) -> None:
    auth = OAuth2Password("/token", username="ann", password="pw", expiry_padding=0)
    server.steps = [(200, {}, {"access_token": "t1", "expires_in": 0, "refresh_token": "r1"}), (200, {}, {}),
                    (200, {}, {"access_token": "t2", "expires_in": 3600}), (200, {}, {})]
    with client(server, auth=auth) as c:
        c.get_json("/a")
        c.get_json("/b")
    assert "grant_type=password" in server.seen[0][3].decode()
    assert "grant_type=refresh_token" in server.seen[2][3].decode() and "refresh_token=r1" in server.seen[2][3].decode()


def test_token_endpoint_refusal_is_an_authentication_error(server: Scripted) -> None:
    server.steps = [(401, {}, {"error": "invalid_client"})]
    auth = OAuth2ClientCredentials("/token", client_id="cid", client_secret="wrong")
    with client(server, auth=auth) as c, pytest.raises(AuthenticationError):
        c.get_json("/a")
