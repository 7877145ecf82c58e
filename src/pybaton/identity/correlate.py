"""Correlation: every account in every system linked to an identity from the identity provider(s).

Identities are the human accounts of the systems marked as identity
providers; the first IdP's people come first, and an account of a later IdP
that correlates to one of them joins that identity instead of making a second.
Every other account is then tried against the identities with the rules in
priority order: the first rule that finds a candidate decides, and the rule is
recorded with the link. One candidate is a link; several are an *ambiguity*,
reported and never resolved by guessing (not even by a lower rule); none makes
an *orphan*. Service and system accounts are set apart before any of this:
they are not people and must not be linked to one.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pybaton.identity.accounts import Account
from pybaton.identity.rules import CorrelationSettings, RuleName

SOURCE_RULE = "source"  # how an IdP account is linked to the identity it defines


@dataclass(frozen=True)
class SystemAccounts:
    """The accounts of one system as correlation takes them."""

    system: str
    accounts: Sequence[Account]
    identity_provider: bool = False
    attributes: Mapping[str, str] = field(default_factory=dict)  # identity attribute → profile key (IdPs)


@dataclass(frozen=True)
class Link:
    """An account belongs to an identity, because ``rule`` found ``value`` on both."""

    account: Account
    identity: str
    rule: str
    value: str


@dataclass(frozen=True)
class Ambiguity:
    """An account that ``rule`` matches to several identities: left for a person to settle."""

    account: Account
    rule: str
    value: str
    candidates: tuple[str, ...]


@dataclass
class Identity:
    """A person, as the identity provider(s) describe them, with their accounts everywhere."""

    id: str
    source: Account
    attributes: dict[str, Any]
    links: list[Link] = field(default_factory=list)

    @property
    def enabled(self) -> bool:
        return self.source.enabled

    @property
    def name(self) -> str:
        return self.source.name

    def accounts(self, system: str) -> list[Link]:
        return [link for link in self.links if link.account.system == system]


@dataclass
class Correlation:
    """The outcome: identities with their accounts, and every account that is not one of theirs."""

    identities: dict[str, Identity] = field(default_factory=dict)
    orphans: list[Account] = field(default_factory=list)
    ambiguous: list[Ambiguity] = field(default_factory=list)
    service: list[Account] = field(default_factory=list)
    _by_account: dict[str, Identity] = field(default_factory=dict)

    def identity_of(self, account_key: str) -> Identity | None:
        """The identity an account (``system/type:id``) is linked to."""
        return self._by_account.get(account_key)

    def is_ambiguous(self, account_key: str) -> bool:
        return any(a.account.key == account_key for a in self.ambiguous)

    def leavers(self) -> Iterator[tuple[Identity, Link]]:
        """Accounts (outside the IdPs) of identities that are disabled or deleted in the IdP."""
        for identity in self.identities.values():
            if identity.enabled:
                continue
            for link in identity.links:
                if link.rule != SOURCE_RULE:
                    yield identity, link

    def _link(self, identity: Identity, link: Link) -> None:
        identity.links.append(link)
        self._by_account[link.account.key] = identity

    def with_links(self, links: Iterable[Link]) -> Correlation:
        """A copy with more links — accounts that do not exist yet, which a plan will create — leaving this
        correlation (and its identities) untouched."""
        out = Correlation(dict(self.identities), self.orphans, self.ambiguous, self.service, dict(self._by_account))
        for link in links:
            identity = out.identities.get(link.identity)
            if identity is None:
                continue
            copy = dataclasses.replace(identity, links=[*identity.links])
            out.identities[identity.id] = copy
            for known in copy.links:
                out._by_account[known.account.key] = copy
            out._link(copy, link)
        return out


def attributes_of(account: Account, mapping: Mapping[str, str]) -> dict[str, Any]:
    """What policy conditions see of a person: the standard fields, the profile, and mapped names."""
    attrs: dict[str, Any] = {k: v for k, v in account.profile.items() if k.isidentifier()}
    attrs.update(
        system=account.system, id=account.resource_id, login=account.login, display_name=account.display_name,
        email=account.emails[0] if account.emails else "", emails=list(account.emails),
        employee_id=account.employee_ids[0] if account.employee_ids else "",
        employee_ids=list(account.employee_ids), status=account.status, enabled=account.enabled,
        groups=list(account.groups), profile=dict(account.profile))
    for name, key in mapping.items():  # a mapped name may deliberately replace a standard one
        attrs[name] = account.profile.get(key)
    return attrs


class _Index:
    """Identity ids by rule and key: what the accounts are matched against."""

    def __init__(self, settings: CorrelationSettings) -> None:
        self.settings = settings
        self._keys: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))

    def add(self, identity_id: str, account: Account) -> None:
        for rule in self.settings.rules:
            for key in self.settings.keys(rule, account, idp=True):
                self._keys[rule][key].add(identity_id)

    def match(self, account: Account, *, idp: bool) -> tuple[RuleName, str, list[str]] | None:
        """The first rule with candidates: (rule, the key, identity ids in sorted order).

        An IdP account is matched only against the people of *other* IdPs: two
        entries of one directory are two people, whatever they share.
        """
        own = f"{account.system}/"
        for rule in self.settings.rules:
            found: dict[str, str] = {}
            for key in sorted(self.settings.keys(rule, account, idp=False)):
                for identity_id in self._keys[rule].get(key, ()):
                    if not (idp and identity_id.startswith(own)):
                        found.setdefault(identity_id, key)
            if found:
                ids = sorted(found)
                return rule, found[ids[0]], ids
        return None


def correlate(systems: Iterable[SystemAccounts], settings: CorrelationSettings) -> Correlation:
    """Link every account of ``systems`` to the identities their identity providers define."""
    ordered = sorted(systems, key=lambda s: not s.identity_provider)  # IdPs first, in the given order
    result = Correlation()
    index = _Index(settings)
    for system in ordered:
        for account in system.accounts:
            if settings.is_service(account):
                result.service.append(account)
            else:
                _place(account, system, result, index)
    return result


def _place(account: Account, system: SystemAccounts, result: Correlation, index: _Index) -> None:
    match = index.match(account, idp=system.identity_provider)
    if match is not None and len(match[2]) > 1:
        result.ambiguous.append(Ambiguity(account, match[0], match[1], tuple(match[2])))
    elif match is not None:
        identity = result.identities[match[2][0]]
        result._link(identity, Link(account, identity.id, match[0], match[1]))
        if system.identity_provider:  # a second IdP fills in what the first did not say
            for name, value in attributes_of(account, system.attributes).items():
                identity.attributes.setdefault(name, value)
    elif system.identity_provider:
        identity = Identity(account.key, account, attributes_of(account, system.attributes))
        result.identities[identity.id] = identity
        result._link(identity, Link(account, identity.id, SOURCE_RULE, account.key))
        index.add(identity.id, account)
    else:
        result.orphans.append(account)
