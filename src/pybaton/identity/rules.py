"""Correlation rules: which values of an account may name a person, and how they are compared.

Systems spell the same person differently: ``Ada.Lovelace@Example.ORG`` in one,
``ada.lovelace@example.com`` in another (a domain the company renamed),
``ada.lovelace`` as a database role. Each rule extracts *keys* from an account
— normalised so that such spellings become equal — and two accounts share a
person when a rule finds the same key on both. The rules are tried in the
order the workspace lists them; the first that finds anything decides.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cached_property
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from pybaton.identity.accounts import Account

RuleName = Literal["email", "login", "employee_id", "external_id", "alias"]

DEFAULT_RULES: tuple[RuleName, ...] = ("email", "login", "employee_id")


class ServiceAccounts(BaseModel):
    """What marks an account as a service or system account besides its trait."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    patterns: list[str] = Field(default_factory=list, description="regular expressions searched in the "
                                                                  "login, id and display name")

    @field_validator("patterns")
    @classmethod
    def _compile(cls, value: list[str]) -> list[str]:
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"{pattern!r} is not a regular expression ({exc})") from None
        return value


class CorrelationSettings(BaseModel):
    """The workspace's ``identity:`` section."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rules: list[RuleName] = Field(default_factory=lambda: list(DEFAULT_RULES), min_length=1)
    domain_aliases: dict[str, str] = Field(default_factory=dict, description="email domain → the domain it "
                                                                             "stands for (example.org: example.com)")
    case_sensitive: bool = False
    login_matches_email: bool = Field(default=False, description="an IdP person's email local part also counts as a "
                                                         "login (for systems that only know logins)")
    service_accounts: ServiceAccounts = Field(default_factory=ServiceAccounts)

    @cached_property
    def _service(self) -> list[re.Pattern[str]]:
        return [re.compile(p, re.IGNORECASE) for p in self.service_accounts.patterns]

    @cached_property
    def _domains(self) -> dict[str, str]:
        return {k.lower(): v.lower() for k, v in self.domain_aliases.items()}

    def text(self, value: str) -> str:
        value = value.strip()
        return value if self.case_sensitive else value.casefold()

    def email(self, value: str) -> str:
        """``Ada@Example.ORG`` → ``ada@example.com`` (domains are never case-sensitive)."""
        local, at, domain = value.strip().rpartition("@")
        if not at:
            return self.text(value)
        domain = domain.lower()
        return f"{self.text(local)}@{self._domains.get(domain, domain)}"

    def is_service(self, account: Account) -> bool:
        """Marked service/system by its system, or matching one of the workspace's patterns."""
        if account.kind != "human":
            return True
        fields = (account.login, account.resource_id, account.display_name)
        return any(p.search(f) for p in self._service for f in fields if f)

    def keys(self, rule: RuleName, account: Account, *, idp: bool) -> set[str]:
        """The normalised values ``rule`` reads from ``account`` (``idp``: the identity's side)."""
        return {k for k in _EXTRACT[rule](self, account, idp) if k}


def _emails(s: CorrelationSettings, a: Account, idp: bool) -> list[str]:
    return [s.email(e) for e in a.emails]


def _login(s: CorrelationSettings, a: Account, idp: bool) -> list[str]:
    local_parts = [e.rpartition("@")[0] for e in a.emails] if idp and s.login_matches_email else []
    return [s.text(v) for v in (a.login, *local_parts)]


def _alias(s: CorrelationSettings, a: Account, idp: bool) -> list[str]:
    return [s.text(v) for v in (a.login, *a.aliases)]


def _employee(s: CorrelationSettings, a: Account, idp: bool) -> list[str]:
    return [s.text(v) for v in a.employee_ids]


def _external(s: CorrelationSettings, a: Account, idp: bool) -> list[str]:
    """An app stores the IdP's id of the person as its external id (SCIM ``externalId``)."""
    return [s.text(v) for v in ((a.resource_id, a.external_id) if idp else (a.external_id,))]


_EXTRACT: dict[str, Callable[[CorrelationSettings, Account, bool], list[str]]] = {
    "email": _emails, "login": _login, "alias": _alias, "employee_id": _employee, "external_id": _external,
}
