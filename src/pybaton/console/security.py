"""Who is asking, and may they: sessions, the trusted proxy header, roles and CSRF tokens.

- On a loopback address with no local accounts, the console is the operator's own tool: the request is the
  OS user, as admin (the same trust as the command line).
- Bound anywhere else (or once local accounts exist, or with ``--login``), every page needs a user: a session
  made by logging in with a local account, or — only from a configured proxy address — the name in the
  trusted header (``--trusted-header X-Forwarded-User``). The header from anyone else is ignored.
- Every state-changing request carries the session's CSRF token (a form field or ``X-CSRF-Token``).
"""

from __future__ import annotations

import getpass
import hmac
import ipaddress
import secrets
from dataclasses import dataclass, field

from starlette.requests import Request

from pybaton.console.users import Role, User, find_user
from pybaton.warehouse import Warehouse

SESSION_USER = "user"
SESSION_CSRF = "csrf"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class AuthSettings:
    login_required: bool
    trusted_header: str = ""
    trusted_proxies: frozenset[str] = field(default_factory=frozenset)
    trusted_default_role: Role = Role.VIEWER


def auth_settings(host: str, *, login: bool, has_users: bool, trusted_header: str = "",
                  trusted_proxies: frozenset[str] = frozenset()) -> AuthSettings:
    """Login is required off loopback, once local accounts exist, or when asked for."""
    return AuthSettings(login_required=login or has_users or not is_loopback(host), trusted_header=trusted_header,
                        trusted_proxies=trusted_proxies)


def local_operator() -> User:
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        name = "local"
    return User(name, Role.ADMIN)


def current_user(request: Request, wh: Warehouse, auth: AuthSettings) -> User | None:
    """The user behind ``request``, or ``None`` when they must log in."""
    if auth.trusted_header:
        client = request.client.host if request.client else ""
        forwarded = request.headers.get(auth.trusted_header, "").strip()
        if forwarded and client in auth.trusted_proxies:
            return find_user(wh, forwarded) or User(forwarded, auth.trusted_default_role)
    name = request.session.get(SESSION_USER)
    if isinstance(name, str) and name:
        return find_user(wh, name)  # a deleted user's session ends with them
    if not auth.login_required:
        return local_operator()
    return None


def csrf_token(request: Request) -> str:
    token = request.session.get(SESSION_CSRF)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        request.session[SESSION_CSRF] = token
    return token


def csrf_ok(request: Request, submitted: str | None) -> bool:
    expected = request.session.get(SESSION_CSRF)
    given = submitted or request.headers.get("X-CSRF-Token") or ""
    return isinstance(expected, str) and bool(expected) and hmac.compare_digest(expected, given)
