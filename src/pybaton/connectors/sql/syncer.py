"""One resource syncer per configured resource type, with the capabilities its config provides.

The engine and the provisioning layer discover capabilities with
``isinstance`` checks against small Protocols, so a syncer must *have* a
``grant`` method only when its config can grant. :func:`syncer_for` builds the
class of each type from the mixins its config asks for.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, ClassVar

from pybaton.connector.base import ResourceSyncer
from pybaton.connector.capabilities import (
    AccountInfo,
    Changes,
    CreateAccountResult,
    CredentialOptions,
    GeneratedCredential,
)
from pybaton.connector.pagination import Page, PageToken
from pybaton.connectors.sql.compiled import TypeSpec
from pybaton.connectors.sql.mapping import resource_env
from pybaton.connectors.sql.paging import encode_cursor
from pybaton.connectors.sql.provisioning import EntitlementProvisioner
from pybaton.connectors.sql.queries import QueryRunner
from pybaton.errors import FatalError
from pybaton.pb.c1.connector.v2 import entitlement_pb2, grant_pb2, resource_pb2


class SqlResourceSyncer(ResourceSyncer):
    """Lists, entitlements and grants of one resource type, from its queries."""

    resource_type: ClassVar[resource_pb2.ResourceType]

    def __init__(self, spec: TypeSpec, runner: QueryRunner) -> None:
        self.spec = spec
        self.runner = runner

    def list(self, parent: resource_pb2.ResourceId | None, page: PageToken) -> Page[resource_pb2.Resource]:
        query, builder = self.spec.list_query, self.spec.resources
        if query is None or builder is None:
            return Page()
        result = self.runner.page(query, self.spec.list_vars.values({}), page.token, page.size)
        return Page([builder.build(row) for row in result.rows], result.next_token)

    def entitlements(self, resource: resource_pb2.Resource,
                     page: PageToken) -> Page[entitlement_pb2.Entitlement]:
        builder = self.spec.entitlements
        if builder is None:
            return Page()
        items = builder.static_for(resource) if page.first else []
        if builder.query is None:
            return Page(items)
        values = builder.vars.values({"resource": resource_env(resource)})
        result = self.runner.page(builder.query, values, page.token, page.size)
        items.extend(builder.from_rows(resource, result.rows))
        return Page(items, result.next_token)

    def grants(self, resource: resource_pb2.Resource, page: PageToken) -> Page[grant_pb2.Grant]:
        """Each ``grants`` query in turn; the token says which query and where in it."""
        if not self.spec.grants:
            return Page()
        index, inner = _split_token(page.token)
        items, next_inner = self.spec.grants[index].page(self.runner, resource, inner, page.size)
        if next_inner:
            return Page(items, _join_token(index, next_inner))
        if index + 1 < len(self.spec.grants):
            return Page(items, _join_token(index + 1, ""))
        return Page(items)


def _join_token(index: int, inner: str) -> str:
    return json.dumps({"q": index, "t": inner}, separators=(",", ":"))


def _split_token(token: str) -> tuple[int, str]:
    if not token:
        return 0, ""
    try:
        raw = json.loads(token)
        return int(raw["q"]), str(raw["t"])
    except (ValueError, KeyError, TypeError):
        raise FatalError(f"malformed grants page token {token[:60]!r}") from None


class GranterMixin:
    """Grant/revoke through the entitlements' ``provisioning`` queries."""

    provisioner: EntitlementProvisioner

    def grant(self, principal: resource_pb2.Resource,
              entitlement: entitlement_pb2.Entitlement) -> Sequence[grant_pb2.Grant] | None:
        return self.provisioner.grant(principal, entitlement)

    def revoke(self, grant: grant_pb2.Grant) -> None:
        self.provisioner.revoke(grant)


class AccountCreatorMixin:
    """Account creation through ``account_provisioning``."""

    spec: TypeSpec
    runner: QueryRunner

    def create_account(self, info: AccountInfo, credentials: CredentialOptions) -> CreateAccountResult:
        assert self.spec.accounts is not None
        return self.spec.accounts.create_account(self.runner, info, credentials)

    def account_creation_schema(self) -> dict[str, Any]:
        assert self.spec.accounts is not None
        return self.spec.accounts.schema()


class CredentialRotatorMixin:
    """Password rotation through ``credential_rotation``."""

    spec: TypeSpec
    runner: QueryRunner

    def rotate_credentials(self, resource_id: resource_pb2.ResourceId,
                           credentials: CredentialOptions) -> Sequence[GeneratedCredential]:
        assert self.spec.rotation is not None
        return self.spec.rotation.rotate(self.runner, resource_id, credentials)


class ChangesMixin:
    """``changes:`` (pybaton's extension): rows changed after a cursor, mapped like the list query's."""

    spec: TypeSpec
    runner: QueryRunner

    def current_cursor(self) -> str:
        changes = self.spec.changes
        assert changes is not None
        if changes.head is not None:
            rows = self.runner.rows(changes.head, changes.vars.values({}))
            first = next(iter(rows[0].values()), None) if rows else None
            return encode_cursor(first) if first is not None else ""
        cursor = ""
        while True:  # no head query: read the log to its end once
            found = self.changes(cursor)
            cursor = found.cursor
            if not found.has_more:
                return cursor

    def changes(self, cursor: str) -> Changes:
        changes, builder = self.spec.changes, self.spec.resources
        assert changes is not None and builder is not None
        page = self.runner.page(changes.query, changes.vars.values({}), cursor, 0)
        gone = [row for row in page.rows if changes.deleted and _truthy(row.get(changes.deleted))]
        kept = [row for row in page.rows if not (changes.deleted and _truthy(row.get(changes.deleted)))]
        after = page.next_token or (encode_cursor(page.rows[-1][changes.primary_key]) if page.rows else cursor)
        return Changes(after, resources=[builder.build(row) for row in kept],
                       deleted_resources=[builder.build(row).id for row in gone], has_more=bool(page.next_token))


def _truthy(value: Any) -> bool:
    return value not in (None, 0, False, "", "0", "false", "f", "FALSE")


def syncer_for(spec: TypeSpec, runner: QueryRunner) -> SqlResourceSyncer:
    """A syncer of ``spec``'s type whose class has exactly the capabilities its config defines."""
    mixins: list[type] = []
    if spec.writes:
        mixins.append(GranterMixin)
    if spec.accounts is not None:
        mixins.append(AccountCreatorMixin)
    if spec.rotation is not None:
        mixins.append(CredentialRotatorMixin)
    if spec.changes is not None and spec.resources is not None:
        mixins.append(ChangesMixin)
    name = "SqlSyncer_" + "".join(ch if ch.isalnum() else "_" for ch in spec.type_id)
    cls: type[SqlResourceSyncer] = type(name, (*mixins, SqlResourceSyncer), {"resource_type": spec.message})
    syncer = cls(spec, runner)
    if spec.writes:
        syncer.provisioner = EntitlementProvisioner(runner, spec.writes, spec.type_id)  # type: ignore[attr-defined]
    return syncer
