"""The ``scim2-server`` SCIM 2.0 HTTP server (PyPI package) with a static bearer token."""

from __future__ import annotations

import json
import secrets
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from typing import Any

from pybaton.testing.servers.managed import (
    _CHECK_TIMEOUT,
    ManagedServer,
    _clean_env,
    _ensure_python_module,
)


class ScimServer(ManagedServer):
    """A SCIM 2.0 server (the ``scim2-server`` PyPI package) on ``http://127.0.0.1:port/v2``.

    Runs ``python -m scim2_server.testserver.cli --hostname H --port P
    --bearer-token TOKEN`` with this interpreter (the package is pip-installed
    if missing). Resources live in memory; every endpoint but the discovery
    ones answers 401 without ``Authorization: Bearer <token>``.
    """

    name = "scim"

    def __init__(self, *, token: str | None = None, extra_args: Sequence[str] = (), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.token = token if token is not None else secrets.token_urlsafe(24)
        self.extra_args = list(extra_args)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v2"

    def request(
        self, method: str, path: str, body: Any = None, *, token: str | None = None, timeout: float = 10.0
    ) -> tuple[int, Any]:
        """Send a SCIM request (``path`` relative to :attr:`base_url`); return (status, JSON body or None).

        ``token`` defaults to :attr:`token`; pass ``""`` to send no Authorization header.
        """
        headers = {"Accept": "application/scim+json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/scim+json"
        token = self.token if token is None else token
        if token:
            headers["Authorization"] = f"Bearer {token}"
        req = urllib.request.Request(self.base_url + "/" + path.lstrip("/"), data=data, headers=headers, method=method)
        try:
            with _NO_PROXY.open(req, timeout=timeout) as resp:
                status: int = resp.status
                raw: bytes = resp.read()
        except urllib.error.HTTPError as err:
            status, raw = err.code, err.read()
        return status, json.loads(raw) if raw.strip() else None

    # ---- hooks

    def _ensure_installed(self) -> None:
        _ensure_python_module("scim2_server", "scim2-server")

    def _launch(self) -> None:
        self._spawn(
            [
                sys.executable, "-m", "scim2_server.testserver.cli", "--hostname", self.host,
                "--port", str(self.port), f"--bearer-token={self.token}", *self.extra_args,
            ],
            env=_clean_env(("PYTHONSTARTUP",), PYTHONUNBUFFERED="1"),
        )

    def _prepare(self) -> None:
        pass

    def _is_ready(self) -> bool:
        status, _ = self.request("GET", "ServiceProviderConfig", timeout=_CHECK_TIMEOUT)
        return status == 200


# Requests to our own loopback servers never go through an HTTP proxy from the environment.
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))
