"""The baton-sql configuration file, as pydantic models, read with line-aware diagnostics.

The models accept exactly the keys baton-sql's Go structs declare (so its
users' files load unchanged). Where baton-sql silently ignores a key it does
not know, we warn with the key's path and line (``--strict`` makes those
errors): a typo such as ``employee_id:`` for ``employee_ids:`` otherwise
costs days. Keys that baton-sql knows but pybaton does not implement yet are
accepted and reported as ignored, never silently dropped.
"""

from __future__ import annotations

import logging
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic.config import JsonDict

from pybaton import yamldoc
from pybaton.errors import ConfigError
from pybaton.yamldoc import Path_, YamlDocument, dotted, load_file, parse_text

log = logging.getLogger("pybaton.connectors.sql")

UNSUPPORTED: JsonDict = {"unsupported": True}


def _scalar_text(value: Any) -> Any:
    """YAML scalars into the strings Go's decoder makes of them (``null`` → "", ``true`` → "true")."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return value


Text = Annotated[str, BeforeValidator(_scalar_text)]


def _none_to_empty(value: Any) -> Any:
    return {} if value is None else value


def _none_to_list(value: Any) -> Any:
    return [] if value is None else value


TextMap = Annotated[dict[str, Text], BeforeValidator(_none_to_empty)]
TextList = Annotated[list[Text], BeforeValidator(_none_to_list)]


class Model(BaseModel):
    """Base of every config section: unknown keys are found by :func:`unknown_keys`, not here."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class Pagination(Model):
    strategy: Literal["offset", "cursor"]
    primary_key: Text = ""
    page_size: int = Field(0, ge=0)


class UserTraitMap(Model):
    emails: TextList = []
    status: Text = ""
    status_details: Text = ""
    profile: TextMap = {}
    account_type: Text = ""
    login: Text = ""
    login_aliases: TextList = []
    last_login: Text = ""
    employee_ids: TextList = []
    manager_id: Text = ""
    manager_email: Text = ""
    mfa_enabled: Text = ""
    sso_enabled: Text = ""


class ProfileTraitMap(Model):
    profile: TextMap = {}


class AppTraitMap(ProfileTraitMap):
    help_url: Text = ""


class SecretTraitMap(Model):
    credential_type: Text = ""
    credential_detail: Text = ""
    expires_at: Text = ""
    last_used_at: Text = ""


class Traits(Model):
    user: UserTraitMap | None = None
    group: ProfileTraitMap | None = None
    role: ProfileTraitMap | None = None
    app: AppTraitMap | None = None
    secret: SecretTraitMap | None = None
    agent: Any = Field(None, json_schema_extra=UNSUPPORTED)


class ExternalLink(Model):
    url: Text = ""


class EntitlementImmutable(Model):
    source_id: Text = ""
    metadata: dict[str, Any] | None = None


class Annotations(Model):
    entitlement_immutable: EntitlementImmutable | None = None
    external_link: ExternalLink | None = None


class ResourceMap(Model):
    id: Text = ""
    display_name: Text = ""
    description: Text = ""
    traits: Traits | None = None
    annotations: Annotations | None = None
    non_human_identity: Any = Field(None, json_schema_extra=UNSUPPORTED)


class ListQuery(Model):
    vars: TextMap = {}
    query: Text = ""
    pagination: Pagination | None = None
    map: ResourceMap | None = None
    scope: Text = Field("", json_schema_extra=UNSUPPORTED)


class ProvisioningQueries(Model):
    no_transaction: bool = False
    validation_queries: TextList = []
    queries: TextList = []


class GrantQueries(ProvisioningQueries):
    reject_if: Any = Field(None, json_schema_extra=UNSUPPORTED)
    grant_replace: Any = Field(None, json_schema_extra=UNSUPPORTED)


class RevokeQueries(ProvisioningQueries):
    revoke_options: Any = Field(None, json_schema_extra=UNSUPPORTED)


class EntitlementProvisioning(Model):
    grant: GrantQueries | None = None
    revoke: RevokeQueries | None = None
    vars: TextMap = {}


class EntitlementMapping(Model):
    id: Text = ""
    display_name: Text = ""
    description: Text = ""
    grantable_to: TextList = []
    purpose: Text = ""
    slug: Text = ""
    immutable: bool = False
    skip_if: Text = ""
    provisioning: EntitlementProvisioning | None = None
    exclusion_group: Any = Field(None, json_schema_extra=UNSUPPORTED)


class EntitlementsQuery(Model):
    vars: TextMap = {}
    query: Text = ""
    pagination: Pagination | None = None
    map: Annotated[list[EntitlementMapping], BeforeValidator(_none_to_list)] = []
    scope: Text = Field("", json_schema_extra=UNSUPPORTED)


class ExpandableGrant(Model):
    skip_if: Text = ""
    entitlement_ids: TextList = []
    shallow: bool = False


class GrantMapping(Model):
    skip_if: Text = ""
    principal_id: Text = ""
    principal_type: Text = ""
    entitlement_id: Text = ""
    annotations: Annotations | None = Field(None, json_schema_extra=UNSUPPORTED)
    expandable: ExpandableGrant | None = None
    entitlement_resource_id: Text = Field("", json_schema_extra=UNSUPPORTED)


class GrantsQuery(Model):
    vars: TextMap = {}
    query: Text = ""
    pagination: Pagination | None = None
    map: Annotated[list[GrantMapping], BeforeValidator(_none_to_list)] = []
    scope: Text = Field("", json_schema_extra=UNSUPPORTED)


class AccountField(Model):
    name: Text
    description: Text = ""
    type: Literal["string", "string_list", "boolean", "int", "map"] = "string"
    placeholder: Text = ""
    required: bool = False


class PasswordConstraintConfig(Model):
    char_set: Text
    min_count: int = Field(1, gt=0)


class CredentialChoice(Model):
    preferred: bool = False


class RandomPassword(CredentialChoice):
    max_length: int = Field(0, ge=0)
    min_length: int = Field(0, ge=0)
    disallowed_characters: Text = ""
    constraints: list[PasswordConstraintConfig] = []


class AccountCredentials(Model):
    no_password: CredentialChoice | None = None
    random_password: RandomPassword | None = None
    encrypted_password: CredentialChoice | None = Field(None, json_schema_extra=UNSUPPORTED)


class AccountValidate(Model):
    vars: TextMap = {}
    query: Text = ""


class AccountQueries(Model):
    vars: TextMap = {}
    queries: TextList = []
    no_transaction: bool = False


class AccountProvisioning(Model):
    schema_: Annotated[list[AccountField], BeforeValidator(_none_to_list)] = Field([], alias="schema")
    credentials: AccountCredentials | None = None
    create: AccountQueries | None = None
    validate_: AccountValidate | None = Field(None, alias="validate")


class CredentialRotation(Model):
    credentials: AccountCredentials | None = None
    update: AccountQueries | None = None


class ChangesQuery(Model):
    """pybaton's extension (Go's baton-sql ignores it): what changed since a cursor, for ``--incremental``.

    ``query`` returns the list query's columns for every resource changed after
    ``?<Cursor>`` (cursor pagination on ``pagination.primary_key``, e.g. a change
    sequence), ``deleted`` names a column that is true for a resource gone, and
    ``head`` (optional) returns the newest position as its first column.
    """

    vars: TextMap = {}
    query: Text = ""
    pagination: Pagination | None = None
    deleted: Text = ""
    head: Text = ""


class ResourceType(Model):
    name: Text = ""
    description: Text = ""
    list_: ListQuery | None = Field(None, alias="list")
    entitlements: EntitlementsQuery | None = None
    static_entitlements: Annotated[list[EntitlementMapping], BeforeValidator(_none_to_list)] = []
    grants: Annotated[list[GrantsQuery], BeforeValidator(_none_to_list)] = []
    skip_entitlements_and_grants: bool = False
    account_provisioning: AccountProvisioning | None = None
    credential_rotation: CredentialRotation | None = None
    changes: ChangesQuery | None = None


class ActionArgument(Model):
    name: Text = ""
    description: Text = ""
    type: Literal["string", "boolean", "number", "string_list", "string_map"] = "string"
    default: Any = None
    required: bool = False


class Action(Model):
    name: Text = ""
    description: Text = ""
    arguments: Annotated[dict[str, ActionArgument], BeforeValidator(_none_to_empty)] = {}
    vars: TextMap = {}
    no_transaction: bool = False
    query: Text = ""
    queries: TextList = []
    action_type: TextList = []


class Connect(Model):
    dsn: Text = ""
    scheme: Text = ""
    host: Text = ""
    port: Text = ""
    database: Text = ""
    user: Text = ""
    password: Text = ""
    params: TextMap = {}
    databases: Any = Field(None, json_schema_extra=UNSUPPORTED)


class SqlConfig(Model):
    app_name: Text = ""
    app_description: Text = ""
    connect: Connect = Field(default_factory=lambda: Connect.model_validate({}))
    resource_types: Annotated[dict[str, ResourceType], BeforeValidator(_none_to_empty)] = {}
    actions: Annotated[dict[str, Action], BeforeValidator(_none_to_empty)] = {}


# -- diagnostics -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Issue:
    """One finding about the file: where, what, and whether it is an error."""

    where: str
    path: str
    message: str
    error: bool = False
    unknown: bool = False

    def __str__(self) -> str:
        return f"{self.where}: {self.path}: {self.message}" if self.path else f"{self.where}: {self.message}"


def _model_in(annotation: Any) -> tuple[str, type[Model]] | None:
    """How a field holds sub-models: ``("one"|"list"|"dict", Model)``, or None for plain values."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _model_in(get_args(annotation)[0])
    if isinstance(annotation, type) and issubclass(annotation, Model):
        return "one", annotation
    if origin in (Union, types.UnionType):
        for arg in get_args(annotation):
            found = _model_in(arg)
            if found is not None:
                return found
        return None
    args = get_args(annotation)
    if origin is list and args and isinstance(args[0], type) and issubclass(args[0], Model):
        return "list", args[0]
    if origin is dict and len(args) == 2 and isinstance(args[1], type) and issubclass(args[1], Model):
        return "dict", args[1]
    return None


def _children(value: Any, shape: str) -> Iterator[tuple[str | int, Any]]:
    if shape == "list" and isinstance(value, list):
        yield from enumerate(value)
    if shape == "dict" and isinstance(value, dict):
        yield from ((str(k), v) for k, v in value.items())


def walk_keys(data: Any, model: type[Model], path: Path_, doc: YamlDocument,
              peer: str | None = "baton-sql") -> Iterator[Issue]:
    """Unknown keys (warnings) and known-but-unimplemented keys (notes) below ``path``.

    ``peer`` names the Go tool whose (silent) behaviour the warning explains, if any.
    """
    if not isinstance(data, dict):
        return
    fields = {info.alias or name: info for name, info in model.model_fields.items()}
    for key, value in data.items():
        child: Path_ = (*path, str(key))
        info = fields.get(str(key))
        if info is None:
            fate = f"{peer} ignores it" if peer else "ignored"
            yield Issue(doc.where(child), dotted(child), f"unknown key {key!r} ({fate}; "
                        f"known here: {', '.join(sorted(fields))})", unknown=True)
            continue
        extra = info.json_schema_extra
        if isinstance(extra, dict) and extra.get("unsupported") and value not in (None, "", [], {}):
            yield Issue(doc.where(child), dotted(child), "not implemented by pybaton yet; ignored")
            continue
        nested = _model_in(info.annotation)
        if nested is None:
            continue
        shape, sub = nested
        if shape == "one":
            yield from walk_keys(value, sub, child, doc, peer)
        else:
            for index, item in _children(value, shape):
                yield from walk_keys(item, sub, (*child, index), doc, peer)


def validation_issues(exc: ValidationError, doc: YamlDocument) -> list[Issue]:
    """Pydantic's errors as issues with a line number; values of secret-looking keys are not shown."""
    out = []
    for err in exc.errors():
        loc: Path_ = tuple(p if isinstance(p, str | int) else str(p) for p in err["loc"])
        loc = tuple(p for p in loc if not (isinstance(p, str) and p.startswith("function-")))
        secret = any(isinstance(p, str) and ("secret" in p or "password" in p or "token" in p) for p in loc)
        shown = "" if secret or err["type"] == "missing" else f" (got {err.get('input')!r})"
        out.append(Issue(doc.where(loc), dotted(loc), str(err["msg"]) + shown, error=True))
    return out


LoadedConfig = yamldoc.LoadedConfig[SqlConfig]


M = TypeVar("M", bound=Model)


def validate_document(doc: YamlDocument, model: type[M], *, strict: bool, expected: str, peer: str | None,
                      checks: Callable[[M, YamlDocument], list[Issue]] | None = None
                      ) -> tuple[M, list[Issue]]:
    """Validate a parsed YAML config into ``model``; one :class:`ConfigError` lists every error.

    Unknown and duplicate keys are warnings (errors with ``strict``); ``checks``
    adds what the model cannot see. Shared by the SQL and HTTP meta-connectors.
    """
    data = doc.data if doc.data is not None else {}
    if not isinstance(data, dict):
        raise ConfigError(f"{doc.source}: expected a mapping at the top level ({expected})")
    issues = list(walk_keys(data, model, (), doc, peer))
    issues += [Issue(f"{doc.source}:{line}", dotted(path), "duplicate key (the last one wins)", unknown=True)
               for path, line in doc.duplicates]
    try:
        config = model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(summary(validation_issues(exc, doc) + issues)) from None
    if strict:
        issues = [Issue(i.where, i.path, i.message, error=i.unknown, unknown=i.unknown) for i in issues]
    if checks is not None:
        issues += checks(config, doc)
    errors = [i for i in issues if i.error]
    if errors:
        raise ConfigError(summary(errors))
    return config, issues


def summary(issues: list[Issue]) -> str:
    """Every issue, one per line (the first as the message, the rest indented under it)."""
    first, rest = str(issues[0]), issues[1:]
    return first + "".join(f"\n  {issue}" for issue in rest)


def from_document(doc: YamlDocument, *, strict: bool = False) -> LoadedConfig:
    """Validate a parsed document; raise one :class:`ConfigError` listing every problem found."""
    config, issues = validate_document(doc, SqlConfig, strict=strict, peer="baton-sql",
                                       expected="app_name, connect, resource_types")
    return LoadedConfig(config, doc, issues)


def load(path: str | Path, *, strict: bool = False) -> LoadedConfig:
    """Read and validate a baton-sql YAML file; unknown keys are logged as warnings (errors if ``strict``)."""
    loaded = from_document(load_file(path), strict=strict)
    for issue in loaded.issues:
        log.warning("%s", issue)
    return loaded


def loads(text: str, *, source: str = "<config>", strict: bool = False) -> LoadedConfig:
    return from_document(parse_text(text, source), strict=strict)
