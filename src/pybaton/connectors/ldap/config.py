"""Settings of the LDAP connector (flags, ``BATON_*`` env vars, ``.baton.yaml``).

Names follow Go's baton-ldap where it has the setting (``--url``, ``--bind-dn``,
``--password``, ``--base-dn``, ``--user-search-dn``, ``--filter``,
``--insecure-skip-verify``), so an existing ``.baton.yaml`` keeps working.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator

from pybaton.connector.config import ConnectorConfig
from pybaton.connectors.ldap import dn

DEFAULT_USER_FILTER = ("(|(objectClass=inetOrgPerson)(objectClass=organizationalPerson)(objectClass=person)"
                       "(objectClass=posixAccount)(objectClass=account)(objectClass=user))")
DEFAULT_GROUP_FILTER = ("(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)(objectClass=posixGroup)"
                        "(objectClass=group))")
DEFAULT_ROLE_FILTER = "(objectClass=organizationalRole)"
DEFAULT_OU_FILTER = "(objectClass=organizationalUnit)"


class LdapConfig(ConnectorConfig):
    url: str = Field(description="ldap://host[:port] or ldaps://host[:port] of the directory server")
    base_dn: str = Field(description="where to look for everything, e.g. dc=example,dc=org")
    bind_dn: str | None = Field(default=None, description="DN to bind as (anonymous bind without it)")
    password: SecretStr | None = Field(default=None, description="password of --bind-dn (BATON_PASSWORD)")
    starttls: bool = Field(default=False, description="upgrade an ldap:// connection with StartTLS")
    ca_cert: str | None = Field(default=None, description="CA certificate file (PEM) to verify the server with")
    insecure_skip_verify: bool = Field(default=False, description="do not verify the server's TLS certificate")
    timeout: int = Field(default=10, ge=1, le=600, description="seconds to wait for the server")

    user_search_dn: str | None = Field(default=None, description="where users are (default --base-dn)")
    group_search_dn: str | None = Field(default=None, description="where groups are (default --base-dn)")
    role_search_dn: str | None = Field(default=None, description="where organizational roles are "
                                                                  "(default --base-dn)")
    user_filter: str = Field(default=DEFAULT_USER_FILTER, description="LDAP filter selecting users")
    group_filter: str = Field(default=DEFAULT_GROUP_FILTER, description="LDAP filter selecting groups")
    role_filter: str = Field(default=DEFAULT_ROLE_FILTER,
                             description="LDAP filter selecting roles (organizationalRole, roleOccupant)")
    filter: str | None = Field(default=None, description="extra filter ANDed into every search, e.g. "
                                                         "(!(objectClass=computer))")
    login_attributes: list[str] = Field(
        default_factory=lambda: ["uid", "sAMAccountName", "userPrincipalName", "cn"],
        description="attributes naming a user's login, first present wins (the others become aliases)")
    profile_attributes: list[str] = Field(
        default_factory=lambda: ["cn", "sn", "givenName", "displayName", "mail", "title", "employeeNumber",
                                 "employeeType", "uidNumber", "gidNumber", "homeDirectory", "loginShell",
                                 "description", "telephoneNumber", "departmentNumber", "entryUUID"],
        description="user attributes copied into the user's profile")
    disabled_attribute: str | None = Field(
        default=None, description="an attribute marking disabled accounts in this directory's own way")
    disabled_values: list[str] = Field(
        default_factory=list, description="values of --disabled-attribute meaning disabled (any value when empty)")
    org_units: bool = Field(default=False, description="sync organizational units as the parents of users, "
                                                       "groups and roles")

    account_dn: str | None = Field(default=None, description="where new accounts are created "
                                                             "(default --user-search-dn, else --base-dn)")
    account_object_classes: list[str] = Field(
        default_factory=lambda: ["top", "inetOrgPerson"], description="object classes of new accounts "
                                                                      "(posixAccount is added when the profile "
                                                                      "has uid_number and gid_number)")
    password_hash: Literal["server", "ssha"] = Field(
        default="server", description="how new passwords are set: 'server' (RFC 3062 password modify; the "
                                      "server hashes) or 'ssha' (a {SSHA} userPassword hashed here)")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("ldap", "ldaps") or not parts.hostname:
            raise ValueError("must be ldap://host[:port] or ldaps://host[:port]")
        return value

    @field_validator("base_dn", "bind_dn", "user_search_dn", "group_search_dn", "role_search_dn", "account_dn")
    @classmethod
    def _dn(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                dn.parse(value)
            except dn.DNError:
                raise ValueError("not a distinguished name") from None
        return value

    @property
    def use_ssl(self) -> bool:
        return urlsplit(self.url).scheme == "ldaps"

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def port(self) -> int:
        return urlsplit(self.url).port or (636 if self.use_ssl else 389)

    @property
    def endpoint(self) -> str:
        return f"{self.host}:{self.port}"

    def search_base(self, kind: str) -> str:
        """Where users, groups or roles are searched (the base DN unless set)."""
        specific = {"user": self.user_search_dn, "group": self.group_search_dn,
                    "role": self.role_search_dn}.get(kind)
        return specific or self.base_dn
