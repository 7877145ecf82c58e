"""Authentication for :class:`~pybaton.connector.http.HttpClient`: static and token-fetching schemes.

Static schemes (bearer, basic, API key) set one header or query parameter.
Token schemes (OAuth2 client credentials and password grants, and a "dynamic
bearer" that logs in at any JSON endpoint) fetch a token on first use, cache
it until shortly before it expires, and drop it after a 401 so the client
retries once with a fresh one. The cache is shared by the sync engine's worker
threads, so a lock makes sure one expiry causes one token request, not eight.

Every scheme reports its secrets (:meth:`secrets`) so the client scrubs them
from error messages, and none of them puts a secret in ``repr``.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from pybaton.connector.http import HttpClient, HttpStatusError
from pybaton.errors import AuthenticationError, ConnectorError


def _basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode("ascii")


@dataclass(repr=False)
class BearerAuth:
    """``Authorization: Bearer <token>``."""

    token: str

    def apply(self, request: httpx.Request, client: HttpClient) -> None:
        request.headers["Authorization"] = f"Bearer {self.token}"

    def invalidate(self) -> bool:
        return False

    def secrets(self) -> list[str]:
        return [self.token]


@dataclass(repr=False)
class BasicAuth:
    """``Authorization: Basic base64(user:password)``."""

    username: str
    password: str

    def apply(self, request: httpx.Request, client: HttpClient) -> None:
        request.headers["Authorization"] = _basic(self.username, self.password)

    def invalidate(self) -> bool:
        return False

    def secrets(self) -> list[str]:
        return [self.password, _basic(self.username, self.password).split(" ", 1)[1]]


@dataclass(repr=False)
class ApiKeyAuth:
    """An API key in a header (``header: prefix+token``) or, when ``query`` is set, a query parameter."""

    token: str
    header: str = "X-API-Key"
    prefix: str = ""
    query: str | None = None

    def apply(self, request: httpx.Request, client: HttpClient) -> None:
        if self.query:
            request.url = request.url.copy_merge_params({self.query: self.token})
        else:
            request.headers[self.header] = f"{self.prefix}{self.token}"

    def invalidate(self) -> bool:
        return False

    def secrets(self) -> list[str]:
        return [self.token]


@dataclass
class _Token:
    value: str
    expires_at: float  # time.monotonic() deadline, already padded
    refresh_token: str = ""


@dataclass(repr=False)
class TokenAuth:
    """A bearer token fetched from an endpoint and cached; subclasses say how to ask for it.

    ``expiry_padding`` seconds are taken off the server's ``expires_in`` so a
    token is never used in its last moments; without ``expires_in`` a token is
    kept for ``default_lifetime`` seconds (or until a 401).
    """

    token_url: str
    expiry_padding: float = 30.0
    default_lifetime: float = 3600.0
    extra_headers: Mapping[str, str] = field(default_factory=dict)
    extra_form: Mapping[str, str] = field(default_factory=dict)
    token_field: str = "access_token"
    expiry_field: str = "expires_in"
    _token: _Token | None = field(default=None, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def apply(self, request: httpx.Request, client: HttpClient) -> None:
        request.headers["Authorization"] = f"Bearer {self.access_token(client)}"

    def access_token(self, client: HttpClient) -> str:
        """The cached token, fetching (or refreshing) it first if it is missing or about to expire."""
        with self._lock:
            token = self._token
            if token is None or time.monotonic() >= token.expires_at:
                token = self._token = self._fetch(client, token.refresh_token if token else "")
            return token.value

    def invalidate(self) -> bool:
        with self._lock:
            had = self._token is not None
            self._token = None
        return had

    def secrets(self) -> list[str]:
        token = self._token
        return [s for s in (token.value if token else "", token.refresh_token if token else "") if s]

    # -- fetching ----------------------------------------------------------------------------------

    def form(self, refresh_token: str) -> dict[str, str]:
        """The form body of the token request (subclasses add their grant)."""
        return dict(self.extra_form)

    def headers(self) -> dict[str, str]:
        return {"Accept": "application/json", **self.extra_headers}

    def _fetch(self, client: HttpClient, refresh_token: str) -> _Token:
        request = client.build_request("POST", self.token_url, data=self.form(refresh_token), headers=self.headers())
        return self._parse(_checked(client.send_raw(request), f"token endpoint {self.token_url}"))

    def _parse(self, response: httpx.Response) -> _Token:
        try:
            body = response.json()
        except ValueError:
            raise ConnectorError(f"token endpoint {self.token_url}: answer is not JSON") from None
        value = _dig(body, self.token_field)
        if not isinstance(value, str) or not value:
            raise ConnectorError(f"token endpoint {self.token_url}: no {self.token_field!r} in the answer")
        lifetime = _lifetime(_dig(body, self.expiry_field), self.default_lifetime) if self.expiry_field \
            else _jwt_lifetime(value, self.default_lifetime)
        refresh = body.get("refresh_token") if isinstance(body, dict) else None
        return _Token(value, time.monotonic() + max(0.0, lifetime - self.expiry_padding),
                      refresh if isinstance(refresh, str) else "")


def _dig(body: Any, path: str) -> Any:
    """``a.b.c`` inside a decoded JSON body (None when any step is missing)."""
    for part in path.split(".") if path else []:
        if not isinstance(body, dict):
            return None
        body = body.get(part)
    return body


def _jwt_lifetime(token: str, default: float) -> float:
    """Seconds left before a JWT's ``exp`` claim (read, not verified: the server checks it); else ``default``."""
    parts = token.split(".")
    if len(parts) != 3:
        return default
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return default
    exp = claims.get("exp") if isinstance(claims, dict) else None
    return float(exp) - time.time() if isinstance(exp, int | float) else default


def _lifetime(raw: Any, default: float) -> float:
    """``expires_in`` seconds; an absolute epoch or ISO timestamp is turned into seconds from now."""
    if isinstance(raw, int | float) or (isinstance(raw, str) and raw.replace(".", "", 1).isdigit()):
        value = float(raw)
        return value - time.time() if value > 1e9 else value
    if isinstance(raw, str) and raw:
        from datetime import datetime

        try:
            return datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp() - time.time()
        except ValueError:
            return default
    return default


@dataclass(repr=False)
class OAuth2ClientCredentials(TokenAuth):
    """OAuth2 ``client_credentials`` grant (RFC 6749 §4.4).

    ``client_auth_style``: ``basic`` sends the client id and secret in an HTTP
    Basic header (the RFC's preference), ``body`` in the form.
    """

    client_id: str = ""
    client_secret: str = ""
    scopes: Sequence[str] = ()
    client_auth_style: str = "basic"

    def form(self, refresh_token: str) -> dict[str, str]:
        out = {"grant_type": "client_credentials", **super().form(refresh_token)}
        if self.scopes:
            out["scope"] = " ".join(self.scopes)
        if self.client_auth_style == "body":
            out.update(client_id=self.client_id, client_secret=self.client_secret)
        return out

    def headers(self) -> dict[str, str]:
        out = super().headers()
        if self.client_auth_style != "body":
            out["Authorization"] = _basic(self.client_id, self.client_secret)
        return out

    def secrets(self) -> list[str]:
        return [*super().secrets(), self.client_secret]


@dataclass(repr=False)
class OidcClientCredentials(OAuth2ClientCredentials):
    """Client credentials whose token endpoint is found by OIDC discovery at ``issuer`` (on first use)."""

    issuer: str = ""

    def _fetch(self, client: HttpClient, refresh_token: str) -> _Token:
        if not self.token_url:
            url = f"{self.issuer.rstrip('/')}/.well-known/openid-configuration"
            answer = client.send_raw(client.build_request("GET", url, headers={"Accept": "application/json"}))
            try:
                endpoint = answer.json().get("token_endpoint") if answer.is_success else None
            except ValueError:
                endpoint = None
            if not isinstance(endpoint, str) or not endpoint:
                raise ConnectorError(f"OIDC discovery at {url}: no token_endpoint (status {answer.status_code})")
            self.token_url = endpoint
        return super()._fetch(client, refresh_token)


@dataclass(repr=False)
class OAuth2Password(OAuth2ClientCredentials):
    """OAuth2 resource-owner ``password`` grant; uses the ``refresh_token`` grant when the server gave one."""

    username: str = ""
    password: str = ""
    client_auth_style: str = "body"

    def form(self, refresh_token: str) -> dict[str, str]:
        out = super().form(refresh_token)
        if refresh_token:
            out.update(grant_type="refresh_token", refresh_token=refresh_token)
        else:
            out.update(grant_type="password", username=self.username, password=self.password)
        if not self.client_id:
            out.pop("client_id", None)
            out.pop("client_secret", None)
        return out

    def headers(self) -> dict[str, str]:
        out = super().headers()
        if not self.client_id:
            out.pop("Authorization", None)
        return out

    def _fetch(self, client: HttpClient, refresh_token: str) -> _Token:
        try:
            return super()._fetch(client, refresh_token)
        except AuthenticationError:
            if not refresh_token:
                raise
            return super()._fetch(client, "")  # the refresh token expired: log in again

    def secrets(self) -> list[str]:
        return [*super().secrets(), self.password]


@dataclass(repr=False)
class DynamicBearer(TokenAuth):
    """Log in at any endpoint that answers JSON with a token (``token_field``, dotted) and optionally
    its expiry (``expiry_field``: seconds, epoch or ISO time); sent as ``Authorization: Bearer``.

    The credentials go as a JSON body ``{"username": ..., "password": ...}``
    (``body_style: json``) or as a form (``form``).
    """

    username: str = ""
    password: str = ""
    body_style: str = "json"
    token_field: str = "token"

    def _fetch(self, client: HttpClient, refresh_token: str) -> _Token:
        creds = {**self.extra_form, **({"username": self.username} if self.username else {}),
                 **({"password": self.password} if self.password else {})}
        kwargs: dict[str, Any] = {"json": creds} if self.body_style == "json" else {"data": creds}
        request = client.build_request("POST", self.token_url, headers=self.headers(), **kwargs)
        return self._parse(_checked(client.send_raw(request), f"login endpoint {self.token_url}"))

    def secrets(self) -> list[str]:
        return [*super().secrets(), self.password]


__all__ = [
    "ApiKeyAuth",
    "BasicAuth",
    "BearerAuth",
    "DynamicBearer",
    "OAuth2ClientCredentials",
    "OAuth2Password",
    "OidcClientCredentials",
    "TokenAuth",
]


def _checked(response: httpx.Response, what: str) -> httpx.Response:
    """A token or login endpoint's answer, or the typed error: refused credentials are the operator's to fix."""
    if response.status_code in (400, 401, 403):
        raise AuthenticationError(f"{what} refused the credentials (status {response.status_code})")
    if not response.is_success:
        raise HttpStatusError(f"{what}: status {response.status_code}", status=response.status_code)
    return response
