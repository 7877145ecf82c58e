"""Writes back into the database: grant/revoke, account creation, credential rotation, actions.

Every write follows baton-sql's contract: ``validation_queries`` must each
return a row first; the ``queries`` then run in one transaction (unless
``no_transaction``); a statement that changes more than one row rolls the
whole operation back; when every statement changes nothing the operation was
already done (granting what is granted, revoking what is gone), which is
reported as success. Values reach SQL only as bound parameters.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pybaton import model
from pybaton.connector import passwords
from pybaton.connector.capabilities import (
    AccountInfo,
    CreateAccountResult,
    CreateAccountStatus,
    CredentialOptions,
    GeneratedCredential,
    PasswordConstraint,
)
from pybaton.connectors.sql import config as cfg
from pybaton.connectors.sql import tokens
from pybaton.connectors.sql.mapping import ResourceBuilder, resource_env
from pybaton.connectors.sql.queries import QueryRunner, SqlQuery, VarSet
from pybaton.connectors.sql.scope import Scope
from pybaton.errors import ProvisioningError
from pybaton.pb.c1.connector.v2 import entitlement_pb2, grant_pb2, resource_pb2

log = logging.getLogger("pybaton.connectors.sql")

GRANT_NAMES = ("principal", "resource", "entitlement")

# Key of the writes of a query-built entitlement whose slug is computed per row.
ANY_SLUG = "*"


@dataclass(frozen=True)
class Statements:
    """``validation_queries`` + ``queries`` of one operation, run as baton-sql runs them."""

    validation: tuple[SqlQuery, ...]
    queries: tuple[SqlQuery, ...]
    transaction: bool

    @classmethod
    def compile(cls, scope: Scope, validation: Sequence[str], queries: Sequence[str], no_transaction: bool,
                provided: set[str]) -> Statements:
        if not queries:
            scope.problem("needs at least one query", "queries")
        return cls(tuple(scope.query(q, "validation_queries", i, pagination=None, provided=provided)
                         for i, q in enumerate(validation)),
                   tuple(scope.query(q, "queries", i, pagination=None, provided=provided)
                         for i, q in enumerate(queries)),
                   not no_transaction)

    def run(self, runner: QueryRunner, values: Mapping[str, Any]) -> bool:
        """Run everything; True when it changed nothing (the operation was already done)."""
        with runner.transaction(self.transaction):
            for check in self.validation:
                if not runner.rows(check, values):
                    raise ProvisioningError(f"{check.site}: validation query returned no rows; nothing changed")
            counts = []
            for query in self.queries:
                count = runner.execute(query, values)
                if count > 1:
                    raise ProvisioningError(f"{query.site}: changed {count} rows where at most one was expected; "
                                            "rolled back")
                counts.append(count)
        return all(count == 0 for count in counts)


@dataclass(frozen=True)
class EntitlementWrites:
    """The ``provisioning`` section of one entitlement."""

    vars: VarSet
    grant: Statements | None
    revoke: Statements | None

    @classmethod
    def compile(cls, scope: Scope, section: cfg.EntitlementProvisioning) -> EntitlementWrites:
        var_set = scope.vars(section.vars, "vars", names=GRANT_NAMES)
        names = var_set.names

        def statements(part: str, q: cfg.ProvisioningQueries | None) -> Statements | None:
            if q is None:
                return None
            return Statements.compile(scope.at(part), q.validation_queries, q.queries, q.no_transaction, names)

        return cls(var_set, statements("grant", section.grant), statements("revoke", section.revoke))


def _target_env(ent: entitlement_pb2.Entitlement) -> dict[str, Any]:
    if ent.HasField("resource") and ent.resource.id.resource:
        return resource_env(ent.resource)
    rtype, rid, _ = model.split_entitlement_id(ent.id)
    return {"ID": rid, "Type": rtype, "ResourceTypeID": rtype, "DisplayName": "", "profile": {}}


def _slug(ent: entitlement_pb2.Entitlement) -> str:
    return model.split_entitlement_id(ent.id)[2]


class EntitlementProvisioner:
    """Grant and revoke for the entitlements of one resource type that have a ``provisioning`` section."""

    def __init__(self, runner: QueryRunner, writes: Mapping[str, EntitlementWrites], type_id: str) -> None:
        self.runner = runner
        self.writes = writes
        self.type_id = type_id

    def _writes(self, ent: entitlement_pb2.Entitlement, op: str) -> tuple[EntitlementWrites, Statements]:
        slug = _slug(ent)
        found = self.writes.get(slug) or self.writes.get(ANY_SLUG)
        statements = getattr(found, op, None) if found is not None else None
        if found is None or statements is None:
            raise ProvisioningError(f"entitlement {ent.id}: the config has no {op} queries for {slug!r} "
                                    f"(resource type {self.type_id!r})")
        return found, statements

    def _values(self, writes: EntitlementWrites, principal: resource_pb2.Resource,
                ent: entitlement_pb2.Entitlement) -> dict[str, Any]:
        inputs = {"principal": resource_env(principal), "resource": _target_env(ent),
                  "entitlement": {"ID": _slug(ent)}}
        return writes.vars.values(inputs)

    def grant(self, principal: resource_pb2.Resource,
              ent: entitlement_pb2.Entitlement) -> Sequence[grant_pb2.Grant]:
        writes, statements = self._writes(ent, "grant")
        if statements.run(self.runner, self._values(writes, principal, ent)):
            log.info("%s already holds %s; nothing changed", principal.id.resource, ent.id)
        return [model.grant(model.entitlement_ref(_target_ref(ent), _slug(ent)), principal.id)]

    def revoke(self, grant: grant_pb2.Grant) -> None:
        writes, statements = self._writes(grant.entitlement, "revoke")
        if statements.run(self.runner, self._values(writes, grant.principal, grant.entitlement)):
            log.info("%s did not hold %s; nothing changed", grant.principal.id.resource, grant.entitlement.id)


def _target_ref(ent: entitlement_pb2.Entitlement) -> resource_pb2.ResourceId:
    if ent.HasField("resource") and ent.resource.id.resource:
        return ent.resource.id
    rtype, rid, _ = model.split_entitlement_id(ent.id)
    return model.resource_id(rtype, rid)


# -- passwords -------------------------------------------------------------------------------------



def generate_password(options: CredentialOptions, config: cfg.RandomPassword) -> str:
    """A random password: the config's constraints (else one of each character class), within its bounds.

    ``min_length``/``max_length`` bound the requested length and
    ``disallowed_characters`` are never used (baton-sql documents these but ignores them).
    """
    length = options.length
    if config.min_length:
        length = max(length, config.min_length)
    if config.max_length:
        length = min(length, config.max_length)
    if length < 8:
        raise ProvisioningError(f"password length {length} is too short (at least 8)")
    constraints = [PasswordConstraint(c.char_set, c.min_count) for c in config.constraints] or list(options.constraints)
    request = CredentialOptions(kind="random_password", length=length, constraints=constraints)
    return passwords.generate_password(request, who="baton-sql", min_length=8, max_length=max(length, 8),
                                       disallowed=config.disallowed_characters,
                                       default_constraints=passwords.one_of_each_class())


def credential_password(options: CredentialOptions, creds: cfg.AccountCredentials | None,
                        what: str) -> str | None:
    """The password to set for ``options``, or None for no password; refuses what the config does not offer."""
    creds = creds or cfg.AccountCredentials.model_validate({})
    if options.kind == "random_password" and creds.random_password is not None:
        return generate_password(options, creds.random_password)
    if options.kind == "none" and creds.no_password is not None:
        return None
    offered = [name for name, value in (("random_password", creds.random_password),
                                        ("no_password", creds.no_password)) if value is not None]
    raise ProvisioningError(f"{what}: credential option {options.kind!r} is not offered by the config "
                            f"(offered: {', '.join(offered) or 'none'})")


# -- accounts --------------------------------------------------------------------------------------

_FIELD_TYPES: dict[str, type | tuple[type, ...]] = {"string": str, "string_list": list, "boolean": bool,
                                                    "int": (int, float), "map": dict}


def _schema_inputs(fields: Sequence[cfg.AccountField], info: AccountInfo) -> dict[str, Any]:
    """The account's inputs by schema field; ``login``/``username``/``email`` fall back to the request's."""
    fallback: dict[str, Any] = {"login": info.login, "username": info.login,
                                "email": info.emails[0] if info.emails else "", "emails": list(info.emails)}
    out: dict[str, Any] = {}
    for f in fields:
        value = info.profile.get(f.name, fallback.get(f.name))
        if value in (None, "", []):
            if f.required:
                raise ProvisioningError(f"account field {f.name!r} is required")
            continue
        if not isinstance(value, _FIELD_TYPES[f.type]):
            raise ProvisioningError(f"account field {f.name!r} must be of type {f.type}")
        out[f.name] = int(value) if f.type == "int" and isinstance(value, (int, float)) else value
    return out


class AccountProvisioner:
    """``account_provisioning`` of one resource type."""

    def __init__(self, scope: Scope, section: cfg.AccountProvisioning, resources: ResourceBuilder | None) -> None:
        self.scope = scope
        self.section = section
        self.resources = resources
        field_names = [f.name for f in section.schema_]
        create = section.create or cfg.AccountQueries()
        validate = section.validate_ or cfg.AccountValidate()
        if section.create is None:
            scope.problem("is required", "create")
        if not validate.query:
            scope.problem("is required (the query that finds the account)", "validate", "query")
        if resources is None:
            scope.problem("needs the resource type's list.map to build the created account")
        self.create_vars = scope.vars(create.vars, "create", "vars", names=("input", "password"))
        self.create = Statements.compile(scope.at("create"), (), create.queries, create.no_transaction,
                                         self.create_vars.names)
        self.validate_vars = scope.vars(validate.vars, "validate", "vars", names=field_names)
        self.validate = scope.query(validate.query, "validate", "query", pagination=None,
                                    provided=self.validate_vars.names)

    def schema(self) -> dict[str, Any]:
        return {"fields": [f.model_dump(by_alias=True) for f in self.section.schema_],
                "credentials": self.section.credentials.model_dump(exclude_none=True)
                if self.section.credentials else {}}

    def _find(self, runner: QueryRunner, inputs: Mapping[str, Any]) -> resource_pb2.Resource | None:
        rows = runner.rows(self.validate, self.validate_vars.values(inputs))
        if not rows or self.resources is None:
            return None
        return self.resources.build(rows[0])

    def create_account(self, runner: QueryRunner, info: AccountInfo,
                       options: CredentialOptions) -> CreateAccountResult:
        inputs = _schema_inputs(self.section.schema_, info)
        existing = self._find(runner, inputs)
        if existing is not None:
            return CreateAccountResult(CreateAccountStatus.ALREADY_EXISTS, existing,
                                       message=f"account {existing.id.resource!r} already exists")
        password = credential_password(options, self.section.credentials, self.scope.site())
        values = self.create_vars.values({"input": inputs, "password": password})
        self.create.run(runner, values)
        created = self._find(runner, inputs)
        if created is None:
            raise ProvisioningError(f"{self.validate.site}: the account was created but this query does not find it")
        credentials = [GeneratedCredential("password", password)] if password is not None else []
        return CreateAccountResult(CreateAccountStatus.SUCCESS, created, credentials,
                                   message=f"created {created.id.resource_type} {created.id.resource!r}")


class CredentialRotatorSpec:
    """``credential_rotation`` of one resource type."""

    INPUTS = ("resource_id", "resource_type", "password", "resource")

    def __init__(self, scope: Scope, section: cfg.CredentialRotation) -> None:
        self.scope = scope
        self.section = section
        update = section.update or cfg.AccountQueries()
        if section.update is None:
            scope.problem("is required", "update")
        self.vars = scope.vars(update.vars, "update", "vars", names=self.INPUTS)
        self.update = Statements.compile(scope.at("update"), (), update.queries, update.no_transaction,
                                         self.vars.names | {"resource_id", "resource_type", "password"})

    def rotate(self, runner: QueryRunner, rid: resource_pb2.ResourceId,
               options: CredentialOptions) -> list[GeneratedCredential]:
        password = credential_password(options, self.section.credentials, self.scope.site())
        inputs: dict[str, Any] = {"resource_id": rid.resource, "resource_type": rid.resource_type,
                                  "password": password,
                                  "resource": {"ID": rid.resource, "Type": rid.resource_type, "profile": {}}}
        values = {k: v for k, v in inputs.items() if k != "resource"} | self.vars.values(inputs)
        if self.update.run(runner, values):
            raise ProvisioningError(f"{rid.resource_type} {rid.resource!r}: the update changed no rows "
                                    "(no such account?)")
        return [GeneratedCredential("password", password)] if password is not None else []


# -- actions ---------------------------------------------------------------------------------------

_ARG_TYPES: dict[str, type | tuple[type, ...]] = {"string": str, "boolean": bool, "number": (int, float),
                                                  "string_list": list, "string_map": dict}


class ActionSpec:
    """One entry of ``actions``: typed arguments, vars, and the statements to run."""

    def __init__(self, scope: Scope, key: str, action: cfg.Action) -> None:
        self.key = key
        self.action = action
        if bool(action.query) == bool(action.queries):
            scope.problem("set exactly one of query or queries")
        for name, arg in action.arguments.items():
            if arg.required and arg.default is not None:
                scope.problem("is required but has a default", "arguments", name)
        self.vars = scope.vars(action.vars, "vars", names=("input",))
        queries = action.queries or ([action.query] if action.query else [])
        provided = self.vars.names | {name.lower() for name in action.arguments}
        self.statements = Statements.compile(scope, (), queries, action.no_transaction, provided)

    def describe(self) -> dict[str, Any]:
        return {"name": self.key, "display_name": self.action.name, "description": self.action.description,
                "action_type": list(self.action.action_type),
                "arguments": {k: a.model_dump() for k, a in self.action.arguments.items()}}

    def _arguments(self, given: Mapping[str, Any]) -> dict[str, Any]:
        unknown = set(given) - set(self.action.arguments)
        if unknown:
            raise ProvisioningError(f"action {self.key!r}: unknown argument(s) {', '.join(sorted(unknown))}")
        out: dict[str, Any] = {}
        for name, arg in self.action.arguments.items():
            if name not in given:
                if arg.required:
                    raise ProvisioningError(f"action {self.key!r}: argument {name!r} is required")
                if arg.default is not None:
                    out[name] = arg.default
                continue
            value = given[name]
            if (isinstance(value, bool) and arg.type == "number") or not isinstance(value, _ARG_TYPES[arg.type]):
                raise ProvisioningError(f"action {self.key!r}: argument {name!r} must be a {arg.type}")
            out[name] = value
        return out

    def _values(self, given: Mapping[str, Any]) -> dict[str, Any]:
        args = self._arguments(given)
        return {k.lower(): v for k, v in args.items()} | self.vars.values({"input": args})

    def plan(self, dialect: tokens.Dialect, given: Mapping[str, Any]) -> list[tuple[str, list[Any]]]:
        values = self._values(given)
        return [tokens.bind(q.text, list(q.tokens), lambda t: values[t.key], dialect) for q in self.statements.queries]

    def run(self, runner: QueryRunner, given: Mapping[str, Any]) -> dict[str, Any]:
        values = self._values(given)
        unchanged = self.statements.run(runner, values)
        return {"success": True, "changed": not unchanged,
                "message": "action completed" + (" (no rows changed)" if unchanged else "")}
