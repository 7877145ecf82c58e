"""Accounts: the resources with the user trait in one sync of one system, as plain values.

Correlation compares what a system says about its accounts (emails, login,
aliases, employee ids, external id, status, kind of account), never the
protobuf messages, so a test can build accounts by hand and the correlation
rules stay readable. Reading them is one pass over the user-trait resource
types of a sync; for an identity provider the groups each person belongs to
are read too, because policy conditions ask about IdP group membership.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import json_format

from pybaton.c1z import SyncQueries
from pybaton.model import annotations as ann
from pybaton.pb.c1.connector.v2 import annotation_trait_pb2, resource_pb2

UserTrait = annotation_trait_pb2.UserTrait

_STATUS = {UserTrait.Status.STATUS_DISABLED: "disabled", UserTrait.Status.STATUS_DELETED: "deleted"}
_KIND = {UserTrait.ACCOUNT_TYPE_SERVICE: "service", UserTrait.ACCOUNT_TYPE_SYSTEM: "system"}


@dataclass(frozen=True)
class Account:
    """One account in one system, with everything correlation and policy look at."""

    system: str
    resource_type: str
    resource_id: str
    display_name: str = ""
    login: str = ""
    emails: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    employee_ids: tuple[str, ...] = ()
    external_id: str = ""
    status: str = "enabled"  # enabled | disabled | deleted (an unspecified status counts as enabled)
    kind: str = "human"  # human | service | system
    profile: Mapping[str, Any] = field(default_factory=dict)
    groups: tuple[str, ...] = ()  # ids and names of the groups it is a member of (read for IdPs only)
    holds_grants: bool = False

    @property
    def ref(self) -> str:
        """``user:ada``: the principal reference provisioning takes."""
        return f"{self.resource_type}:{self.resource_id}"

    @property
    def key(self) -> str:
        """``pg/user:ada``: unique across the workspace."""
        return f"{self.system}/{self.ref}"

    @property
    def enabled(self) -> bool:
        return self.status == "enabled"

    @property
    def name(self) -> str:
        """What a person calls it: the login, else the display name, else the id."""
        return self.login or self.display_name or self.resource_id


def user_types(reader: SyncQueries) -> list[str]:
    """Resource types of the sync that carry the user trait (the accounts)."""
    return [rt.id for rt in reader.resource_types() if resource_pb2.ResourceType.TRAIT_USER in rt.traits]


def group_types(reader: SyncQueries) -> set[str]:
    """Resource types with the group or role trait (what "member of" means in an IdP)."""
    wanted = {resource_pb2.ResourceType.TRAIT_GROUP, resource_pb2.ResourceType.TRAIT_ROLE}
    return {rt.id for rt in reader.resource_types() if wanted & set(rt.traits)}


def account_of(system: str, resource: resource_pb2.Resource) -> Account | None:
    """The account a resource stands for, or None when it carries no user trait."""
    trait = ann.find(resource.annotations, UserTrait)
    if trait is None:
        return None
    emails = sorted(trait.emails, key=lambda e: not e.is_primary)
    profile = json_format.MessageToDict(trait.profile) if trait.HasField("profile") else {}
    return Account(
        system=system, resource_type=resource.id.resource_type, resource_id=resource.id.resource,
        display_name=resource.display_name, login=trait.login,
        emails=tuple(e.address for e in emails if e.address), aliases=tuple(trait.login_aliases),
        employee_ids=tuple(trait.employee_ids), external_id=resource.external_id.id,
        status=_STATUS.get(trait.status.status, "enabled"), kind=_KIND.get(trait.account_type, "human"),
        profile=profile)


def _groups(reader: SyncQueries, account: Account, kinds: set[str]) -> tuple[str, ...]:
    """Ids and display names of the groups (or roles) the account holds an entitlement of."""
    names: dict[str, None] = {}
    for grant in reader.grants(principal=(account.resource_type, account.resource_id)):
        rid = grant.entitlement.resource.id
        if rid.resource_type not in kinds:
            continue
        names[rid.resource] = None
        group = reader.resource(rid.resource_type, rid.resource)
        if group is not None and group.display_name:
            names[group.display_name] = None
    return tuple(names)


def read_accounts(reader: SyncQueries, system: str, *, with_groups: bool = False) -> Iterator[Account]:
    """Every account of the sync, in store order; ``with_groups`` also reads group memberships."""
    holders = set(reader.principals())
    kinds = group_types(reader) if with_groups else set()
    for type_id in user_types(reader):
        for resource in reader.resources(type_id):
            account = account_of(system, resource)
            if account is None:
                continue
            extra: dict[str, Any] = {"holds_grants": (account.resource_type, account.resource_id) in holders}
            if with_groups:
                extra["groups"] = _groups(reader, account, kinds)
            yield dataclasses.replace(account, **extra)
