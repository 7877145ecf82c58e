"""An HTTP client for connector authors: retries, rate limits, typed errors, no secrets in logs.

Every REST connector needs the same care around its calls, and getting it
wrong loses data quietly (a dropped connection ends a listing early) or leaks
it (a debug log with an ``Authorization`` header). :class:`HttpClient` wraps
one ``httpx.Client`` and adds:

* retries with exponential backoff and jitter on transient failures: connect
  errors, timeouts, dropped connections and 5xx answers (non-idempotent methods
  only when the request provably never reached the server);
* rate limits: ``429`` with ``Retry-After``, ``X-RateLimit-Remaining``/``-Reset``
  and the IETF ``RateLimit-*`` headers. Short waits happen in the client (and
  hold back every thread sharing it); a wait beyond :attr:`RetryConfig.max_wait`
  becomes a :class:`~pybaton.errors.RateLimitedError` carrying the reset time,
  which the sync engine waits out and retries;
* typed errors: 401 → :class:`~pybaton.errors.AuthenticationError`, 403 →
  :class:`~pybaton.errors.PermissionDeniedError`, 404 →
  :class:`~pybaton.errors.NotFoundError`, 409 → :class:`HttpConflictError`,
  exhausted retries → :class:`~pybaton.errors.RetryableError`, a server never
  reached at all → :class:`~pybaton.errors.UnreachableError`;
* per-status rules (:class:`StatusRule`) a caller may pass to override that
  mapping (retry a 409, ignore a 404, warn on a 403);
* redaction: credentials in headers and query strings never reach a log line
  or an error message (:func:`redact_headers`, :func:`redact_url`).

Authentication is pluggable (:mod:`pybaton.connector.http_auth`): an auth
object adds its header or query parameter to each request and, for OAuth2,
fetches and caches tokens and refreshes them after a 401.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import enum
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from pybaton.connector.logging import REDACTED, is_secret_name
from pybaton.errors import (
    AuthenticationError,
    ConnectorError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    RetryableError,
    UnreachableError,
)

log = logging.getLogger("pybaton.http")

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
RETRY_STATUSES = frozenset({500, 502, 503, 504})

# -- redaction -------------------------------------------------------------------------------------

def redact_headers(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
    """The headers with every credential-bearing value replaced, for logs and errors."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    return {name: REDACTED if is_secret_name(name) else value for name, value in items}


def redact_url(url: str | httpx.URL) -> str:
    """The URL without userinfo and with credential-bearing query parameters replaced."""
    parts = urlsplit(str(url))
    netloc = parts.netloc.rpartition("@")[2]
    query = urlencode([(k, REDACTED if is_secret_name(k) else v)
                       for k, v in parse_qsl(parts.query, keep_blank_values=True)], safe="<>")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


# -- configuration ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class RetryConfig:
    """How hard to try: ``max_retries`` retries after the first attempt, backoff ``initial * multiplier**n``.

    ``max_wait`` caps a rate-limit wait done inside the client; a longer one is
    raised as :class:`~pybaton.errors.RateLimitedError` for the caller (the sync
    engine) to wait out, so one client never blocks for an hour unannounced.
    ``max_rate_limit_retries`` is separate from ``max_retries``: a storm of 429s
    is the server pacing us, not failing.
    """

    max_retries: int = 4
    initial_interval: float = 0.5
    multiplier: float = 2.0
    max_interval: float = 10.0
    max_wait: float = 60.0
    max_rate_limit_retries: int = 20

    def backoff(self, attempt: int) -> float:
        """Delay before retry ``attempt`` (0-based), with jitter in [50%, 100%]."""
        delay = min(self.max_interval, self.initial_interval * self.multiplier ** attempt)
        return float(delay * (0.5 + random.random() / 2))


class Action(enum.StrEnum):
    """What to do with a response of a given status (see :class:`StatusRule`)."""

    FAIL = "fail"
    RETRY = "retry"
    WARN = "warn"
    IGNORE = "ignore"


@dataclass(frozen=True)
class StatusRule:
    """A caller's rule for one status: ``retry`` (after ``retry_after`` seconds if set, at most
    ``max_retries`` times if set), ``fail``, ``warn`` (log and hand the response back) or ``ignore``
    (hand it back silently); ``message`` is added to what is logged or raised."""

    action: Action
    retry_after: float | None = None
    max_retries: int | None = None
    message: str = ""


StatusRules = Mapping[int | str, StatusRule]


def rule_for(rules: StatusRules | None, status: int) -> StatusRule | None:
    """The rule for ``status``: exact code first, then its class (``"4xx"``), then ``"default"``."""
    if not rules:
        return None
    for key in (status, str(status), f"{status // 100}xx", f"{status // 100}XX", "default"):
        if key in rules:
            return rules[key]
    return None


@dataclass
class RequestStats:
    """What a client did, for benchmarks and summaries (thread-safe counters)."""

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    waited_seconds: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, *, requests: int = 0, retries: int = 0, rate_limited: int = 0, waited: float = 0.0) -> None:
        with self._lock:
            self.requests += requests
            self.retries += retries
            self.rate_limited += rate_limited
            self.waited_seconds += waited


class Auth(Protocol):
    """Adds credentials to a request; see :mod:`pybaton.connector.http_auth`."""

    def apply(self, request: httpx.Request, client: HttpClient) -> None:
        """Set the request's credential (fetching a token through ``client`` if needed)."""
        ...

    def invalidate(self) -> bool:
        """Forget a cached token after a 401; True if a retry with a fresh one makes sense."""
        ...

    def secrets(self) -> list[str]:
        """Secret values to scrub from any text this client produces."""
        ...


# -- errors ----------------------------------------------------------------------------------------

class HttpStatusError(ConnectorError):
    """A response the caller did not want: carries the status and a redacted description."""

    def __init__(self, message: str, *, status: int = 0, method: str = "", url: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.method = method
        self.url = url


class HttpAuthenticationError(AuthenticationError, HttpStatusError):
    """401: the credentials were refused."""


class HttpPermissionDeniedError(PermissionDeniedError, HttpStatusError):
    """403: authenticated, but not allowed."""


class HttpNotFoundError(NotFoundError, HttpStatusError):
    """404: the object is gone (or never was)."""


class HttpConflictError(HttpStatusError):
    """409: the write conflicts with what exists (e.g. a duplicate userName)."""


class HttpRetryableError(RetryableError, HttpStatusError):
    """A transient failure that outlasted the client's retries; a later attempt may succeed."""


class HttpRateLimitedError(RateLimitedError, HttpStatusError):
    """The server asked us to wait longer than the client waits by itself."""

    def __init__(self, message: str, *, retry_after: float, status: int, method: str, url: str) -> None:
        RateLimitedError.__init__(self, message, retry_after=retry_after)
        self.status, self.method, self.url = status, method, url


_ERROR_BY_STATUS: dict[int, type[HttpStatusError]] = {
    401: HttpAuthenticationError,
    403: HttpPermissionDeniedError,
    404: HttpNotFoundError,
    409: HttpConflictError,
    410: HttpNotFoundError,
}


# -- rate-limit headers ----------------------------------------------------------------------------

def _seconds_until(value: str, now: float) -> float | None:
    """A ``Retry-After``/reset value as seconds from now: delta seconds, epoch seconds or an HTTP date."""
    value = value.strip()
    try:
        number = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        return max(0.0, when.timestamp() - now)
    # Epoch timestamps (GitHub's X-RateLimit-Reset) are far larger than any sensible delta.
    return max(0.0, number - now) if number > 1e9 else max(0.0, number)


def _structured_field(header: str, key: str) -> str | None:
    """``r`` from ``RateLimit: limit=100, remaining=0, reset=5`` (IETF draft, ``r=``/``t=`` too)."""
    for part in re.split(r"[,;]", header):
        name, _, value = part.strip().partition("=")
        if name.strip().lower() == key:
            return value.strip().strip('"')
    return None


def rate_limit_wait(response: httpx.Response, now: float | None = None) -> float | None:
    """Seconds the server asks us to wait before the next request, or None if it says nothing.

    ``Retry-After`` (on a 429/503) wins; otherwise a remaining budget of zero
    with a reset time in ``X-RateLimit-*``, ``RateLimit-*`` or ``RateLimit``.
    """
    now = time.time() if now is None else now
    headers = response.headers
    retry_after = headers.get("retry-after")
    if retry_after is not None and response.status_code in (429, 503):
        return _seconds_until(retry_after, now)
    combined = headers.get("ratelimit")
    for remaining, reset in (
        (headers.get("x-ratelimit-remaining"), headers.get("x-ratelimit-reset")),
        (headers.get("ratelimit-remaining"), headers.get("ratelimit-reset")),
        (_structured_field(combined, "remaining") or _structured_field(combined, "r") if combined else None,
         _structured_field(combined, "reset") or _structured_field(combined, "t") if combined else None),
    ):
        if remaining is not None and reset is not None and remaining.strip() in ("0", "0.0"):
            return _seconds_until(reset, now)
    if response.status_code == 429:
        return None if retry_after is None else _seconds_until(retry_after, now)
    return None


# -- the client ------------------------------------------------------------------------------------

_TRANSPORT_RETRYABLE = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@dataclass
class _Attempt:
    """The state of one logical request across its retries."""

    method: str
    url: str
    idempotent: bool
    retries: int = 0
    rate_limit_retries: int = 0
    refreshed_auth: bool = False
    by_status: dict[int, int] = field(default_factory=dict)  # retries per status, for a rule's max_retries


class HttpClient:
    """One base URL, one auth, one connection pool; safe to share between the sync engine's workers."""

    def __init__(self, base_url: str = "", *, auth: Auth | None = None, headers: Mapping[str, str] | None = None,
                 params: Mapping[str, str] | None = None, timeout: float = 30.0, retry: RetryConfig | None = None,
                 rules: StatusRules | None = None, verify: bool = True, transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] = time.sleep, name: str = "http") -> None:
        self.base_url = base_url.rstrip("/")
        self.auth = auth
        self.retry = retry or RetryConfig()
        self.rules = dict(rules or {})
        self.stats = RequestStats()
        self.name = name
        self._sleep = sleep
        self._client = httpx.Client(headers=dict(headers or {}), params=dict(params or {}), timeout=timeout,
                                    verify=verify, transport=transport, follow_redirects=True, trust_env=False)
        self._not_before = 0.0
        self._pace_lock = threading.Lock()
        self._reached = False

    # -- public API --------------------------------------------------------------------------------

    def url(self, path: str) -> str:
        """``path`` resolved against the base URL (absolute URLs pass through)."""
        if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", path):
            return path
        if not path:
            return self.base_url
        return f"{self.base_url}/{path.lstrip('/')}"

    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None, json: Any = None,
                data: Mapping[str, Any] | None = None, content: bytes | str | None = None,
                headers: Mapping[str, str] | None = None, rules: StatusRules | None = None,
                idempotent: bool | None = None, authenticate: bool = True) -> httpx.Response:
        """Send one request with retries; return the response or raise a typed error.

        A 2xx answer is returned; so is any status a ``warn``/``ignore`` rule
        covers (check ``response.is_success``). ``idempotent`` overrides the
        method's default for retrying after the request may have reached the server.
        """
        method = method.upper()
        merged = {**self.rules, **(rules or {})}
        attempt = _Attempt(method, self.url(path), method in IDEMPOTENT_METHODS if idempotent is None else idempotent)
        while True:
            request = self._client.build_request(method, attempt.url, params=_clean_params(params), json=json,
                                                 data=data, content=content, headers=headers)
            if authenticate and self.auth is not None:
                self.auth.apply(request, self)
            response = self._send(request, attempt)
            if response is None:
                continue
            outcome = self._judge(response, attempt, merged, authenticate)
            if outcome is not None:
                return outcome

    def get_json(self, path: str, **kwargs: Any) -> Any:
        """GET ``path`` and decode its JSON body (``None`` for an empty or ignored answer)."""
        return self.json_of(self.request("GET", path, **kwargs))

    def json_of(self, response: httpx.Response) -> Any:
        """The JSON body of ``response``; a non-JSON answer is an error naming the URL (redacted)."""
        if not response.content.strip() or not response.is_success:
            return None
        try:
            return response.json()
        except ValueError:
            raise HttpStatusError(f"{response.request.method} {redact_url(response.request.url)}: answer is "
                                  f"not JSON ({response.headers.get('content-type', 'no content type')})",
                                  status=response.status_code) from None

    def send_raw(self, request: httpx.Request) -> httpx.Response:
        """Send a prepared request once, without auth or retries (token endpoints use this)."""
        self.stats.add(requests=1)
        try:
            response = self._client.send(request)
        except httpx.HTTPError as exc:
            raise self._transport_error(exc, request.method, str(request.url), final=True) from None
        self._reached = True
        return response

    def build_request(self, method: str, url: str, **kwargs: Any) -> httpx.Request:
        """An ``httpx.Request`` with this client's defaults (for :meth:`send_raw`)."""
        return self._client.build_request(method, self.url(url), **kwargs)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- one attempt -------------------------------------------------------------------------------

    def _send(self, request: httpx.Request, attempt: _Attempt) -> httpx.Response | None:
        """Send once; None means "retry now" (after a transport failure and its backoff)."""
        self._pace()
        started = time.monotonic()
        self.stats.add(requests=1)
        try:
            response = self._client.send(request)
        except httpx.HTTPError as exc:
            retryable = isinstance(exc, _TRANSPORT_RETRYABLE) and (attempt.idempotent or isinstance(exc, _NOT_SENT))
            if not retryable or attempt.retries >= self.retry.max_retries:
                raise self._transport_error(exc, attempt.method, attempt.url, final=True) from None
            self._backoff(attempt, f"{type(exc).__name__}")
            return None
        self._reached = True
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s %s %s -> %d (%.0f ms) headers=%s", self.name, attempt.method, redact_url(request.url),
                      response.status_code, (time.monotonic() - started) * 1000, redact_headers(request.headers))
        self._note_budget(response)
        return response

    def _judge(self, response: httpx.Response, attempt: _Attempt, rules: StatusRules,
               authenticate: bool) -> httpx.Response | None:
        """The response to return, None to retry, or raise: the status policy in one place."""
        status = response.status_code
        rule = rule_for(rules, status)
        if rule is None and response.is_success:
            return response
        if rule is not None and rule.action in (Action.WARN, Action.IGNORE):
            if rule.action is Action.WARN:
                log.warning("%s %s %s: status %d (handled as warn)%s", self.name, attempt.method,
                            redact_url(attempt.url), status, f": {rule.message}" if rule.message else "")
            return response
        if rule is not None and rule.action is Action.FAIL:
            raise self._status_error(response, attempt, rule.message)
        if rule is not None and rule.action is Action.RETRY and rule.max_retries is not None:
            used = attempt.by_status.get(status, 0)
            if used >= rule.max_retries:
                raise self._exhausted(response, attempt)
            attempt.by_status[status] = used + 1
        if status == 401 and authenticate and self.auth is not None and not attempt.refreshed_auth \
                and self.auth.invalidate():
            attempt.refreshed_auth = True
            return None
        if status == 429 or (rule is not None and rule.action is Action.RETRY and rule.retry_after is not None):
            self._wait_rate_limit(response, attempt, rule)
            return None
        server_error = status in RETRY_STATUSES and rule is None and attempt.idempotent
        if server_error or (rule is not None and rule.action is Action.RETRY):
            if attempt.retries >= self.retry.max_retries:
                raise self._exhausted(response, attempt)
            self._backoff(attempt, f"status {status}", rate_limit_wait(response))
            return None
        raise self._status_error(response, attempt)

    # -- waiting -----------------------------------------------------------------------------------

    def _backoff(self, attempt: _Attempt, why: str, server_wait: float | None = None) -> None:
        delay = server_wait if server_wait is not None else self.retry.backoff(attempt.retries)
        delay = min(delay, self.retry.max_wait)
        attempt.retries += 1
        self.stats.add(retries=1, waited=delay)
        log.info("%s %s %s: %s; retry %d/%d in %.1fs", self.name, attempt.method, redact_url(attempt.url), why,
                 attempt.retries, self.retry.max_retries, delay)
        self._sleep(delay)

    def _wait_rate_limit(self, response: httpx.Response, attempt: _Attempt, rule: StatusRule | None) -> None:
        """Wait out a 429 (or a ``retry_after`` rule) here, or raise when the wait is too long."""
        wait = rate_limit_wait(response)
        if wait is None:
            wait = rule.retry_after if rule is not None and rule.retry_after is not None \
                else self.retry.backoff(attempt.rate_limit_retries)
        attempt.rate_limit_retries += 1
        if wait > self.retry.max_wait or attempt.rate_limit_retries > self.retry.max_rate_limit_retries:
            raise HttpRateLimitedError(f"{self.name} {attempt.method} {redact_url(attempt.url)}: rate limited "
                                       f"(status {response.status_code}), retry in {wait:.0f}s",
                                       retry_after=wait, status=response.status_code, method=attempt.method,
                                       url=redact_url(attempt.url))
        self.stats.add(rate_limited=1, waited=wait)
        log.info("%s %s %s: rate limited; waiting %.1fs", self.name, attempt.method, redact_url(attempt.url), wait)
        self._hold_until(time.monotonic() + wait)
        self._pace()

    def _note_budget(self, response: httpx.Response) -> None:
        """A success that spent the last of the budget holds back the next request until the reset."""
        if response.is_success:
            wait = rate_limit_wait(response)
            if wait:
                self._hold_until(time.monotonic() + min(wait, self.retry.max_wait))

    def _hold_until(self, when: float) -> None:
        with self._pace_lock:
            self._not_before = max(self._not_before, when)

    def _pace(self) -> None:
        """Sleep until the shared "not before" time: every thread respects one server's pacing."""
        with self._pace_lock:
            delay = self._not_before - time.monotonic()
        if delay > 0:
            self._sleep(delay)

    # -- errors ------------------------------------------------------------------------------------

    def _describe(self, response: httpx.Response, attempt: _Attempt) -> str:
        detail = response.text[:200].strip().replace("\n", " ") if response.content else ""
        for secret in self.auth.secrets() if self.auth is not None else []:
            detail = detail.replace(secret, REDACTED)
        text = f"{self.name} {attempt.method} {redact_url(attempt.url)}: status {response.status_code}"
        return f"{text}: {detail}" if detail else text

    def _status_error(self, response: httpx.Response, attempt: _Attempt, message: str = "") -> HttpStatusError:
        cls = _ERROR_BY_STATUS.get(response.status_code)
        if cls is None:
            cls = HttpRetryableError if response.status_code >= 500 else HttpStatusError
        text = self._describe(response, attempt)
        return cls(f"{text} ({message})" if message else text, status=response.status_code, method=attempt.method,
                   url=redact_url(attempt.url))

    def _exhausted(self, response: httpx.Response, attempt: _Attempt) -> HttpStatusError:
        return HttpRetryableError(f"{self._describe(response, attempt)} (after {attempt.retries} retries)",
                                  status=response.status_code, method=attempt.method, url=redact_url(attempt.url))

    def _transport_error(self, exc: httpx.HTTPError, method: str, url: str, *, final: bool) -> ConnectorError:
        """A server never reached is the operator's problem; one that stopped answering may come back."""
        what = f"{self.name} {method} {redact_url(url)}: {type(exc).__name__}: {_scrub(str(exc), self.auth)}"
        if not self._reached and isinstance(exc, httpx.ConnectError):
            return UnreachableError(f"{what} (is the URL right and the server up?)")
        return RetryableError(what + (" (retries exhausted)" if final else ""))


def _clean_params(params: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Drop ``None`` values, so optional parameters need no ``if`` at every call site."""
    if params is None:
        return None
    return {k: v for k, v in params.items() if v is not None}


def _scrub(text: str, auth: Auth | None) -> str:
    for secret in auth.secrets() if auth is not None else []:
        text = text.replace(secret, REDACTED)
    return text


__all__ = [
    "IDEMPOTENT_METHODS",
    "Action",
    "Auth",
    "HttpAuthenticationError",
    "HttpClient",
    "HttpConflictError",
    "HttpNotFoundError",
    "HttpPermissionDeniedError",
    "HttpRateLimitedError",
    "HttpRetryableError",
    "HttpStatusError",
    "RequestStats",
    "RetryConfig",
    "StatusRule",
    "StatusRules",
    "rate_limit_wait",
    "redact_headers",
    "redact_url",
    "rule_for",
]
