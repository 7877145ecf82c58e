"""The ``scim`` connector: Users and Groups of any SCIM 2.0 service provider.

``pybaton sync scim --url https://idp.example.com/scim/v2 --token …`` is all it
takes; what the server supports (PATCH, Bulk, changePassword, cursor paging,
page-size limits, custom endpoints) is discovered from its
``/ServiceProviderConfig``, ``/ResourceTypes`` and ``/Schemas``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import Field, SecretStr

from pybaton.connector import Connector, ConnectorConfig, ConnectorMetadata, ResourceSyncer
from pybaton.connector.http import Auth, HttpClient, RetryConfig
from pybaton.connector.http_auth import BasicAuth, BearerAuth, OAuth2ClientCredentials
from pybaton.connectors.scim.client import ScimClient
from pybaton.connectors.scim.syncers import GroupSyncer, UserSyncer
from pybaton.errors import ConfigError


def _secret(value: SecretStr | None) -> str:
    return value.get_secret_value() if value is not None else ""


class ScimConfig(ConnectorConfig):
    url: str = Field(description="Base URL of the SCIM 2.0 API, e.g. https://idp.example.com/scim/v2")
    token: SecretStr | None = Field(None, description="Bearer token")
    username: str | None = Field(None, description="User for HTTP basic authentication")
    password: SecretStr | None = Field(None, description="Password for HTTP basic authentication")
    oauth_token_url: str | None = Field(None, description="OAuth2 token endpoint (client credentials grant)")
    client_id: str | None = Field(None, description="OAuth2 client id")
    client_secret: SecretStr | None = Field(None, description="OAuth2 client secret")
    scopes: list[str] = Field(default_factory=list, description="OAuth2 scopes to ask for")
    pagination: Literal["auto", "index", "cursor"] = Field(
        "auto", description="auto: RFC 9865 cursors when the server offers them, else startIndex/count")
    user_filter: str = Field("", description="SCIM filter for the users to sync, e.g. 'active eq true'")
    group_filter: str = Field("", description="SCIM filter for the groups to sync")
    max_members_per_patch: int = Field(50, ge=1, le=10_000,
                                       description="members added or removed per PATCH request")
    members_in_list: bool = Field(True, description="read members from the group listing (fewer requests); "
                                                    "--no-members-in-list fetches each group instead")
    deactivate_on_delete: bool = Field(False, description="delete-resource sets active=false instead of DELETE")
    timeout: float = Field(30.0, gt=0, description="seconds to wait for each HTTP response")
    max_retries: int = Field(4, ge=0, le=20, description="retries of a failed request before giving up")
    insecure_skip_verify: bool = Field(False, description="do not verify the server's TLS certificate")


def make_auth(config: ScimConfig) -> Auth | None:
    """Bearer, basic or OAuth2 client credentials, whichever the operator configured (exactly one)."""
    chosen: list[Auth] = []
    if config.token is not None:
        chosen.append(BearerAuth(_secret(config.token)))
    if config.username:
        chosen.append(BasicAuth(config.username, _secret(config.password)))
    if config.oauth_token_url:
        if not config.client_id:
            raise ConfigError("--oauth-token-url needs --client-id and --client-secret", field="client_id")
        chosen.append(OAuth2ClientCredentials(config.oauth_token_url, client_id=config.client_id,
                                              client_secret=_secret(config.client_secret), scopes=config.scopes))
    if len(chosen) > 1:
        raise ConfigError("give one of --token, --username/--password or --oauth-token-url", field="token")
    return chosen[0] if chosen else None


class ScimConnector(Connector[ScimConfig]):
    """Any SCIM 2.0 service provider: users (with the Enterprise extension) and nested groups."""

    metadata = ConnectorMetadata(
        name="scim", display_name="SCIM 2.0",
        description="Users, groups and memberships of any SCIM 2.0 service provider (RFC 7643/7644); "
                    "provisions memberships, accounts and passwords")
    config_class = ScimConfig

    def __init__(self, config: ScimConfig) -> None:
        super().__init__(config)
        self.http = HttpClient(config.url, auth=make_auth(config), timeout=config.timeout,
                               headers={"Accept": "application/scim+json, application/json"},
                               retry=RetryConfig(max_retries=config.max_retries),
                               verify=not config.insecure_skip_verify, name="scim")
        self.client = ScimClient(self.http, config.pagination)
        self._syncers: list[ResourceSyncer] = [
            UserSyncer(self.client, config.user_filter, deactivate=config.deactivate_on_delete),
            GroupSyncer(self.client, config.group_filter, batch=config.max_members_per_patch,
                        members_in_list=config.members_in_list),
        ]

    def syncers(self) -> Sequence[ResourceSyncer]:
        return self._syncers

    def validate(self) -> None:
        """Discover the server, then one authenticated call: a bad token fails here, clearly."""
        _ = self.client.capabilities
        self.client.list_page("User", "", 1)

    def close(self) -> None:
        self.http.close()
