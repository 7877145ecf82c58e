"""The ``http`` connector: any REST API described by a baton-http YAML file.

``pybaton sync http --config api.yml`` reads the file (unknown keys warn with
their line; ``--strict`` makes them errors), compiles every value, builds the
HTTP client (base URL, default headers and query parameters, timeout, retry
and error handling, auth) and one syncer per resource type.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from pydantic import Field

from pybaton.connector import Connector, ConnectorConfig, ConnectorMetadata, ResourceSyncer
from pybaton.connector.http import Auth, HttpClient, RetryConfig
from pybaton.connector.http_auth import (
    ApiKeyAuth,
    BasicAuth,
    BearerAuth,
    DynamicBearer,
    OAuth2ClientCredentials,
    OAuth2Password,
)
from pybaton.connectors.http import config as cfg
from pybaton.connectors.http.compiled import Compiled, compile_config
from pybaton.connectors.http.syncers import syncer_for
from pybaton.connectors.http.values import ValueCompiler
from pybaton.errors import ConfigError


class HttpConnectorConfig(ConnectorConfig):
    config: Path = Field(description="the baton-http YAML file describing the API")
    strict: bool = Field(False, description="treat unknown keys in the YAML file as errors")


_BODY_STYLES = {"body", "in_body", "form", "params", "post"}


def make_auth(spec: cfg.Auth, literal: ValueCompiler) -> Auth | None:
    """The auth scheme of ``connect.auth``, with ``${NAME}`` references read from the environment."""
    def val(raw: str, key: str) -> str:
        return literal.literal(raw, f"connect.auth.{key}")

    headers = {k: val(v, f"additional_headers.{k}") for k, v in spec.additional_headers.items()}
    form = {k: val(v, f"additional_form_data.{k}") for k, v in spec.additional_form_data.items()}
    scopes = [*spec.scopes, *spec.scope.split()]
    common = {"token_url": val(spec.token_url, "token_url"), "expiry_padding": spec.token_expiry_padding,
              "extra_headers": headers, "extra_form": form}
    kind = spec.type
    if kind == "none":
        return None
    if kind == "bearer":
        return BearerAuth(val(spec.token, "token"))
    if kind == "basic":
        return BasicAuth(val(spec.username, "username"), val(spec.password, "password"))
    if kind == "api_key":
        return ApiKeyAuth(val(spec.token, "token"), header=spec.header or "X-API-Key", prefix=spec.prefix,
                          query=spec.query or None)
    if not common["token_url"]:
        raise ConfigError(f"connect.auth: type {kind} needs token_url")
    style = "body" if spec.client_auth_style in _BODY_STYLES else "basic"
    if kind == "oauth2_client_credentials":
        return OAuth2ClientCredentials(**common, client_id=val(spec.client_id, "client_id"),  # type: ignore[arg-type]
                                       client_secret=val(spec.client_secret, "client_secret"), scopes=scopes,
                                       client_auth_style=style)
    if kind == "oauth2_password":
        return OAuth2Password(**common, client_id=val(spec.client_id, "client_id"),  # type: ignore[arg-type]
                              client_secret=val(spec.client_secret, "client_secret"), scopes=scopes,
                              username=val(spec.username, "username"), password=val(spec.password, "password"),
                              client_auth_style=style if spec.client_auth_style != "basic" else "body")
    return DynamicBearer(**common, username=val(spec.username, "username"),  # type: ignore[arg-type]
                         password=val(spec.password, "password"), body_style=spec.body_style,
                         token_field=spec.token_field or "token", expiry_field=spec.expiry_field or "expires_in")


def make_client(config: cfg.HttpConfig, env: Mapping[str, str] | None = None) -> HttpClient:
    """The HTTP client a config describes (secrets from the environment, never from the file's text)."""
    literal = ValueCompiler(env)
    connect, http = config.connect, config.http
    if not connect.base_url:
        raise ConfigError("connect.base_url is required")
    headers = {k: literal.literal(v, f"connect.request_defaults.headers.{k}")
               for k, v in {**connect.request_defaults.headers, **http.headers}.items()}
    params = {k: literal.literal(v, f"connect.request_defaults.query_params.{k}")
              for k, v in connect.request_defaults.query_params.items()}
    auth = make_auth(connect.auth, literal)
    base_url = literal.literal(connect.base_url, "connect.base_url")
    literal.check()
    retry = RetryConfig(max_retries=http.retry.max_retries, initial_interval=http.retry.retry_interval,
                        multiplier=http.retry.retry_multiplier, max_interval=http.retry.max_retry_interval,
                        max_wait=http.retry.max_wait)
    return HttpClient(base_url, auth=auth, headers=headers, params=params, timeout=http.timeout, retry=retry,
                      verify=not connect.insecure_skip_verify, name=config.app_name or "http")


def load_compiled(path: Path, *, strict: bool = False, env: Mapping[str, str] | None = None) -> Compiled:
    return compile_config(cfg.load(path, strict=strict), env=env)


class HttpConnector(Connector[HttpConnectorConfig]):
    """A REST API described in YAML (ConductorOne's baton-http format)."""

    metadata = ConnectorMetadata(
        name="http", display_name="REST API (baton-http YAML)",
        description="Any REST API described by a baton-http YAML file (--config api.yml): resources, "
                    "entitlements, grants and provisioning requests")
    config_class = HttpConnectorConfig

    def __init__(self, config: HttpConnectorConfig) -> None:
        super().__init__(config)
        self.compiled = load_compiled(config.config, strict=config.strict)
        self.client = make_client(self.compiled.config)
        self._syncers = [syncer_for(spec, self.compiled, self.client) for spec in self.compiled.types]

    def syncers(self) -> Sequence[ResourceSyncer]:
        return self._syncers

    def validate(self) -> None:
        """One page of the first listed type: bad credentials or a wrong base URL fail here."""
        for syncer in self._syncers:
            if syncer.spec.listing is not None and not syncer.spec.parent:
                syncer.spec.listing.endpoint.page(self.client, {}, "", 1)
                return

    def close(self) -> None:
        self.client.close()


__all__ = ["HttpConnector", "HttpConnectorConfig", "load_compiled", "make_auth", "make_client"]
