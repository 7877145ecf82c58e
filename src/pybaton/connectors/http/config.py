"""The baton-http configuration file, as pydantic models, read with line-aware diagnostics.

The layout follows ConductorOne's baton-http format: ``version``, ``app_name``,
``connect`` (``base_url``, ``auth``, ``request_defaults``), ``http``
(``timeout``, ``headers``, ``retry``), ``error_handling`` and
``resource_types``, each with ``list`` or ``static_resources``,
``entitlements``, ``static_entitlements`` (with provisioning requests and a
``success_condition``), ``grants``, ``parent`` and ``depends_on``.

Values are kept as written here; :mod:`pybaton.connectors.http.values`
compiles them (``cel:`` expressions, ``tmpl:`` templates, literals). Unknown
keys are reported with their line (warnings, or errors with ``--strict``) by
the same machinery as the baton-sql loader.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field

from pybaton import yamldoc
from pybaton.connectors.sql.config import Issue, Model, Text, TextList, TextMap, validate_document
from pybaton.yamldoc import Path_, YamlDocument, dotted, load_file, parse_text

log = logging.getLogger("pybaton.connectors.http")

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_duration(value: Any) -> Any:
    """``30s``, ``500ms``, ``2m``, ``1h`` or a number of seconds → seconds (float)."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return float(value)
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"not a duration: {value!r} (use e.g. 30s, 500ms, 2m)")
    return float(match.group(1)) * _UNITS[match.group(2)]


Duration = Annotated[float, BeforeValidator(parse_duration)]


def _none_to_list(value: Any) -> Any:
    return [] if value is None else value


def _none_to_dict(value: Any) -> Any:
    return {} if value is None else value


def _rule(value: Any) -> Any:
    """``retry`` is short for ``{action: retry}``."""
    return {"action": value} if isinstance(value, str) else value


class ErrorRule(Model):
    action: Literal["fail", "retry", "warn", "ignore"] = "fail"
    retry_after: Duration | None = None


ErrorHandling = Annotated[dict[str, Annotated[ErrorRule, BeforeValidator(_rule)]], BeforeValidator(_none_to_dict)]


# -- connection ------------------------------------------------------------------------------------

class Auth(Model):
    type: Literal["none", "bearer", "basic", "api_key", "oauth2_client_credentials", "oauth2_password",
                  "bearer_dynamic"] = "none"
    token: Text = ""
    username: Text = ""
    password: Text = ""
    header: Text = ""
    prefix: Text = ""
    query: Text = ""
    token_url: Text = ""
    client_id: Text = ""
    client_secret: Text = ""
    scope: Text = ""
    scopes: TextList = Field(default_factory=list)
    client_auth_style: Literal["basic", "body", "header", "in_header", "in_body", "form", "params", "post"] = "basic"
    token_field: Text = ""
    expiry_field: Text = ""
    token_expiry_padding: Duration = 30.0
    body_style: Literal["json", "form"] = "json"
    additional_headers: TextMap = Field(default_factory=dict)
    additional_form_data: TextMap = Field(default_factory=dict)


class RequestDefaults(Model):
    headers: TextMap = Field(default_factory=dict)
    query_params: TextMap = Field(default_factory=dict)


class Connect(Model):
    base_url: Text = ""
    auth: Auth = Field(default_factory=Auth)
    request_defaults: RequestDefaults = Field(default_factory=RequestDefaults)
    insecure_skip_verify: bool = False


class Retry(Model):
    max_retries: int = Field(4, ge=0, le=50)
    retry_interval: Duration = 0.5
    retry_multiplier: float = Field(2.0, ge=1.0)
    max_retry_interval: Duration = 10.0
    max_wait: Duration = 60.0


class HttpSettings(Model):
    timeout: Duration = 30.0
    headers: TextMap = Field(default_factory=dict)
    retry: Retry = Field(default_factory=lambda: Retry.model_validate({}))


# -- requests --------------------------------------------------------------------------------------

class Pagination(Model):
    strategy: Literal["none", "offset", "cursor", "page", "link"] = "none"
    page_size: int = Field(0, ge=0)
    limit_param: Text = "limit"
    offset_param: Text = "offset"
    page_param: Text = "page"
    start_page: int = 1
    start_offset: int = 0
    cursor_param: Text = "cursor"
    cursor_path: Text = ""
    next_link_path: Text = ""
    total_path: Text = ""


class Request(Model):
    url: Text = ""
    method: Text = "GET"
    headers: TextMap = Field(default_factory=dict)
    query_params: TextMap = Field(default_factory=dict)
    body: Any = None
    body_format: Literal["json", "form"] = "json"
    error_handling: ErrorHandling = Field(default_factory=dict)


class Response(Model):
    items_path: Text = ""
    skip_if: Text = ""


class UserTraitMap(Model):
    emails: TextList = Field(default_factory=list)
    status: Text = ""
    login: Text = ""
    login_aliases: TextList = Field(default_factory=list)
    employee_ids: TextList = Field(default_factory=list)
    account_type: Text = ""
    profile: TextMap = Field(default_factory=dict)


class ProfileTraitMap(Model):
    profile: TextMap = Field(default_factory=dict)


class Traits(Model):
    user: UserTraitMap | None = None
    group: ProfileTraitMap | None = None
    role: ProfileTraitMap | None = None
    app: ProfileTraitMap | None = None


class ResourceMap(Model):
    id: Text = ""
    display_name: Text = ""
    description: Text = ""
    skip_if: Text = ""
    traits: Traits | None = None


class ListBlock(Model):
    request: Request = Field(default_factory=Request)
    response: Response = Field(default_factory=Response)
    pagination: Pagination = Field(default_factory=lambda: Pagination.model_validate({}))
    map: ResourceMap = Field(default_factory=ResourceMap)


class StaticResource(Model):
    id: Text = ""
    display_name: Text = ""
    description: Text = ""
    traits: Traits | None = None


class ProvisioningAction(Model):
    request: Request = Field(default_factory=Request)
    success_condition: Text = ""


class Provisioning(Model):
    vars: TextMap = Field(default_factory=dict)
    grant: ProvisioningAction | None = None
    revoke: ProvisioningAction | None = None


class EntitlementMap(Model):
    id: Text = ""
    display_name: Text = ""
    description: Text = ""
    purpose: Text = "assignment"
    grantable_to: TextList = Field(default_factory=list)
    skip_if: Text = ""
    provisioning: Provisioning | None = None


class EntitlementsBlock(Model):
    request: Request = Field(default_factory=Request)
    response: Response = Field(default_factory=Response)
    pagination: Pagination = Field(default_factory=lambda: Pagination.model_validate({}))
    map: Annotated[list[EntitlementMap], BeforeValidator(_none_to_list)] = Field(default_factory=list)


class Expandable(Model):
    entitlement_ids: TextList = Field(default_factory=list)
    shallow: bool = False
    skip_if: Text = ""


class GrantMap(Model):
    principal_id: Text = ""
    principal_type: Text = ""
    entitlement_id: Text = ""
    skip_if: Text = ""
    expandable: Expandable | None = None


class GrantsBlock(Model):
    request: Request = Field(default_factory=Request)
    response: Response = Field(default_factory=Response)
    pagination: Pagination = Field(default_factory=lambda: Pagination.model_validate({}))
    map: Annotated[list[GrantMap], BeforeValidator(_none_to_list)] = Field(default_factory=list)


class ResourceType(Model):
    name: Text = ""
    description: Text = ""
    parent: Text = ""
    depends_on: TextList = Field(default_factory=list)
    skip_entitlements_and_grants: bool = False
    error_handling: ErrorHandling = Field(default_factory=dict)
    list_: ListBlock | None = Field(None, alias="list")
    static_resources: Annotated[list[StaticResource], BeforeValidator(_none_to_list)] = Field(default_factory=list)
    entitlements: EntitlementsBlock | None = None
    static_entitlements: Annotated[list[EntitlementMap], BeforeValidator(_none_to_list)] = Field(default_factory=list)
    grants: Annotated[list[GrantsBlock], BeforeValidator(_none_to_list)] = Field(default_factory=list)


class HttpConfig(Model):
    version: Text = "1"
    app_name: Text = ""
    app_description: Text = ""
    connect: Connect = Field(default_factory=Connect)
    http: HttpSettings = Field(default_factory=HttpSettings)
    error_handling: ErrorHandling = Field(default_factory=dict)
    resource_types: Annotated[dict[str, ResourceType], BeforeValidator(_none_to_dict)] = Field(default_factory=dict)


# -- loading ---------------------------------------------------------------------------------------

LoadedConfig = yamldoc.LoadedConfig[HttpConfig]


def _semantic_issues(config: HttpConfig, doc: YamlDocument) -> list[Issue]:
    """What the models cannot see: the version, required blocks, references between types."""
    issues = []

    def error(path: Path_, message: str) -> None:
        issues.append(Issue(doc.where(path), dotted(path), message, error=True))

    if config.version not in ("1", "1.0"):
        error(("version",), f"unsupported version {config.version!r} (this reader knows version \"1\")")
    if not config.app_name:
        error(("app_name",), "is required")
    if not config.resource_types:
        error(("resource_types",), "at least one resource type is required")
    types = set(config.resource_types)
    for name, rt in config.resource_types.items():
        base: Path_ = ("resource_types", name)
        if rt.list_ is None and not rt.static_resources:
            error(base, "needs a list block or static_resources")
        for ref, key in [(rt.parent, "parent"), *((d, "depends_on") for d in rt.depends_on)]:
            if ref and ref not in types:
                error((*base, key), f"unknown resource type {ref!r} (known: {', '.join(sorted(types))})")
        for i, ent in enumerate(rt.static_entitlements):
            for target in ent.grantable_to:
                if target not in types:
                    error((*base, "static_entitlements", i, "grantable_to"), f"unknown resource type {target!r}")
    return issues


def from_document(doc: YamlDocument, *, strict: bool = False) -> LoadedConfig:
    """Validate a parsed document; raise one :class:`ConfigError` listing every problem found."""
    config, issues = validate_document(doc, HttpConfig, strict=strict, peer=None,
                                       expected="version, app_name, connect, resource_types",
                                       checks=_semantic_issues)
    return LoadedConfig(config, doc, issues)


def read(path: str | Path, *, strict: bool = False) -> LoadedConfig:
    """Read and validate a file; its warnings are returned in ``issues``, not logged."""
    return from_document(load_file(path), strict=strict)


def load(path: str | Path, *, strict: bool = False) -> LoadedConfig:
    """Read and validate a baton-http YAML file; unknown keys are logged as warnings (errors if ``strict``)."""
    loaded = read(path, strict=strict)
    for issue in loaded.issues:
        log.warning("%s", issue)
    return loaded


def loads(text: str, *, source: str = "<config>", strict: bool = False) -> LoadedConfig:
    return from_document(parse_text(text, source), strict=strict)
