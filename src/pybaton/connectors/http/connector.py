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
    OAuth2Password,
    OidcClientCredentials,
)
from pybaton.connectors.http import config as cfg
from pybaton.connectors.http.compiled import Compiled, compile_config
from pybaton.connectors.http.syncers import syncer_for
from pybaton.connectors.http.values import ValueCompiler
from pybaton.errors import ConfigError


class HttpConnectorConfig(ConnectorConfig):
    config: Path = Field(description="the baton-http YAML file describing the API")
    strict: bool = Field(False, description="treat unknown keys in the YAML file as errors")
    enable_command_actions: bool = Field(False, description="allow the file's command actions (shell commands)")


def make_auth(spec: cfg.Auth, literal: ValueCompiler) -> Auth | None:
    """The auth scheme of ``connect.auth``, with ``${NAME}`` references read from the environment."""
    def val(raw: str, key: str) -> str:
        return literal.literal(raw, f"connect.auth.{key}")

    kind = spec.type
    if kind == "none":
        return None
    if kind == "bearer":
        return BearerAuth(val(spec.token, "token"))
    if kind == "basic":
        return BasicAuth(val(spec.username, "username"), val(spec.password, "password"))
    if spec.api_key is not None and kind == "api_key":
        key = spec.api_key
        # "prefix: ApiKey" sends "ApiKey <key>", as "Bearer <token>" is sent.
        prefix = f"{key.prefix} " if key.prefix and not key.prefix.endswith(" ") else key.prefix
        return ApiKeyAuth(val(key.key, "api_key.key"), header=key.header or "X-API-Key", prefix=prefix)
    if spec.oauth2_client_credentials is not None and kind == "oauth2_client_credentials":
        cc = spec.oauth2_client_credentials
        at = "oauth2_client_credentials."
        if not (cc.token_url or cc.issuer):
            raise ConfigError(f"connect.auth.{at}token_url (or issuer) is required")
        return OidcClientCredentials(
            token_url=val(cc.token_url, at + "token_url"), issuer=val(cc.issuer, at + "issuer"),
            expiry_padding=cc.token_expiry_padding, client_id=val(cc.client_id, at + "client_id"),
            client_secret=val(cc.client_secret, at + "client_secret"), scopes=cc.scope.split())
    if spec.oauth2_password is not None and kind == "oauth2_password":
        pw = spec.oauth2_password
        at = "oauth2_password."
        return OAuth2Password(token_url=val(pw.token_url, at + "token_url"), expiry_padding=pw.token_expiry_padding,
                              client_id=val(pw.client_id, at + "client_id"),
                              client_secret=val(pw.client_secret, at + "client_secret"), scopes=pw.scope.split(),
                              username=val(pw.username, at + "username"), password=val(pw.password, at + "password"))
    if spec.bearer_dynamic is not None and kind == "bearer_dynamic":
        bd = spec.bearer_dynamic
        at = "bearer_dynamic."
        return DynamicBearer(token_url=val(bd.token_url, at + "token_url"), expiry_padding=bd.token_expiry_padding,
                             username=val(bd.username, at + "username"), password=val(bd.password, at + "password"),
                             token_field=bd.token_field or "access_token", expiry_field=bd.expiry_field)
    raise ConfigError(f"connect.auth: type {kind} needs its block connect.auth.{kind}")


def make_client(config: cfg.HttpConfig, env: Mapping[str, str] | None = None) -> HttpClient:
    """The HTTP client a config describes (secrets from the environment, never from the file's text)."""
    literal = ValueCompiler(env)
    connect, http = config.connect, config.http
    if not connect.base_url:
        raise ConfigError("connect.base_url is required")
    defaults = connect.request_defaults
    headers = {k: literal.literal(v, f"connect.request_defaults.headers.{k}")
               for k, v in {**defaults.headers, **http.headers}.items()}
    params = {k: literal.literal(v, f"connect.request_defaults.query_params.{k}")
              for k, v in defaults.query_params.items()}
    auth = make_auth(connect.auth, literal)
    base_url = literal.literal(connect.base_url, "connect.base_url")
    literal.check()
    retry = RetryConfig(max_retries=http.retry.max_attempts - 1, initial_interval=http.retry.initial_backoff,
                        max_interval=http.retry.max_backoff)
    return HttpClient(base_url, auth=auth, headers=headers, params=params, timeout=http.timeout, retry=retry,
                      name=config.app_name or "http")


def load_compiled(path: Path, *, strict: bool = False, env: Mapping[str, str] | None = None,
                  enable_command_actions: bool = False) -> Compiled:
    return compile_config(cfg.load(path, strict=strict), env=env, enable_command_actions=enable_command_actions)


class HttpConnector(Connector[HttpConnectorConfig]):
    """A REST API described in YAML (ConductorOne's baton-http format)."""

    metadata = ConnectorMetadata(
        name="http", display_name="REST API (baton-http YAML)",
        description="Any REST API described by a baton-http YAML file (--config api.yml): resources, "
                    "entitlements, grants and provisioning requests")
    config_class = HttpConnectorConfig

    def __init__(self, config: HttpConnectorConfig) -> None:
        super().__init__(config)
        self.compiled = load_compiled(config.config, strict=config.strict,
                                      enable_command_actions=config.enable_command_actions)
        self.client = make_client(self.compiled.config)
        self._syncers = [syncer_for(spec, self.compiled, self.client) for spec in self.compiled.types]

    def syncers(self) -> Sequence[ResourceSyncer]:
        return self._syncers

    def validate(self) -> None:
        """One page of the first listed type: bad credentials or a wrong base URL fail here."""
        for syncer in self._syncers:
            if syncer.spec.listing is not None and not syncer.spec.parent:
                syncer.spec.listing.endpoint.page(self.client, {"vars": self.compiled.vars}, "", 1)
                return

    def close(self) -> None:
        self.client.close()


__all__ = ["HttpConnector", "HttpConnectorConfig", "load_compiled", "make_auth", "make_client"]
