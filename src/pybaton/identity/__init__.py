"""Identities across systems: which accounts, in which systems, belong to which person.

:func:`read_accounts` turns a sync's user-trait resources into
:class:`Account` values; :func:`correlate` links them to the identities that
the identity provider systems define, by the workspace's rules
(:class:`CorrelationSettings`), and reports what it could not link: orphans,
ambiguous matches, and service accounts kept apart from people.
"""

from pybaton.identity.accounts import Account, account_of, read_accounts, user_types
from pybaton.identity.correlate import (
    SOURCE_RULE,
    Ambiguity,
    Correlation,
    Identity,
    Link,
    SystemAccounts,
    attributes_of,
    correlate,
)
from pybaton.identity.rules import DEFAULT_RULES, CorrelationSettings, RuleName, ServiceAccounts

__all__ = ["DEFAULT_RULES", "SOURCE_RULE", "Account", "Ambiguity", "Correlation", "CorrelationSettings", "Identity",
           "Link", "RuleName", "ServiceAccounts", "SystemAccounts", "account_of", "attributes_of", "correlate",
           "read_accounts", "user_types"]
