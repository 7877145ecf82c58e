"""The baton-http configuration file, as ConductorOne documents it, read with line-aware diagnostics.

The layout is the published one (ConductorOne's "Build a connector with
Baton-HTTP" page): ``version``, ``app_name``, ``app_description``, ``vars``,
``connect`` (``base_url``, ``auth`` with one nested block per type,
``request_defaults``, global ``pagination``), ``http`` (``timeout``,
``headers``, ``retry``), ``error_handling.error_status_codes``, ``actions``
and ``resource_types``. A resource type lists with ``list`` (``request``,
``response`` with ``mapping_type: resource`` and ``resource_mapping``,
``pagination``) or declares ``static_resources``; it has ``static_entitlements``
(with ``provisioning``), dynamic ``entitlements`` and ``grants`` blocks.

Values are kept as written here; :mod:`pybaton.connectors.http.values`
compiles them (``cel:`` expressions, ``tmpl:`` Go templates, literals). Unknown
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


# -- error handling --------------------------------------------------------------------------------

class StatusCodeRule(Model):
    """What to do with one HTTP status: ``fail`` (default), ``retry``, ``warn`` or ``ignore``."""

    action: Literal["fail", "retry", "warn", "ignore"] = "fail"
    retry_after: Duration | None = None
    max_retries: int | None = Field(None, ge=0, le=100)
    message: Text = ""


class ErrorHandling(Model):
    error_status_codes: Annotated[dict[str, StatusCodeRule], BeforeValidator(_none_to_dict)] = \
        Field(default_factory=dict)


# -- connection ------------------------------------------------------------------------------------

class ApiKey(Model):
    header: Text = "X-API-Key"
    prefix: Text = ""
    key: Text = ""


class OAuth2Client(Model):
    """What both OAuth2 grants share."""

    token_url: Text = ""
    client_id: Text = ""
    client_secret: Text = ""
    scope: Text = ""
    token_expiry_padding: Duration = 60.0


class ClientCredentials(OAuth2Client):
    issuer: Text = ""


class PasswordGrant(OAuth2Client):
    username: Text = ""
    password: Text = ""


class BearerDynamic(Model):
    token_url: Text = ""
    username: Text = ""
    password: Text = ""
    token_field: Text = "access_token"
    expiry_field: Text = ""
    token_expiry_padding: Duration = 60.0


AUTH_TYPES = ("none", "bearer", "basic", "api_key", "oauth2_client_credentials", "oauth2_password",
              "bearer_dynamic")


class Auth(Model):
    type: Literal["none", "bearer", "basic", "api_key", "oauth2_client_credentials", "oauth2_password",
                  "bearer_dynamic"] = "none"
    token: Text = ""
    username: Text = ""
    password: Text = ""
    api_key: ApiKey | None = None
    oauth2_client_credentials: ClientCredentials | None = None
    oauth2_password: PasswordGrant | None = None
    bearer_dynamic: BearerDynamic | None = None


class RequestDefaults(Model):
    content_type: Text = "application/json"
    headers: TextMap = Field(default_factory=dict)
    query_params: TextMap = Field(default_factory=dict)


class Pagination(Model):
    strategy: Literal["none", "offset", "cursor", "page", "link"] = "none"
    page_size: int = Field(0, ge=0)
    limit_param: Text = "limit"
    offset_param: Text = "offset"
    page_param: Text = "page"
    page_start: int = 1
    offset_start: int = 0  # pybaton's extension: 1-based offsets (SCIM's startIndex)
    cursor_param: Text = "cursor"
    cursor_path: Text = ""
    next_link_path: Text = ""
    total_path: Text = ""


class Connect(Model):
    base_url: Text = ""
    auth: Auth = Field(default_factory=Auth)
    request_defaults: RequestDefaults = Field(default_factory=RequestDefaults)
    pagination: Pagination | None = None


class Retry(Model):
    max_attempts: int = Field(3, ge=1, le=50)
    initial_backoff: Duration = 1.0
    max_backoff: Duration = 10.0


class HttpSettings(Model):
    timeout: Duration = 30.0
    headers: TextMap = Field(default_factory=dict)
    retry: Retry = Field(default_factory=lambda: Retry.model_validate({}))


# -- requests and responses ------------------------------------------------------------------------

class PreRequest(Model):
    url: Text = ""
    method: Text = "GET"
    headers: TextMap = Field(default_factory=dict)
    query_params: TextMap = Field(default_factory=dict)
    body: Any = None


class Request(PreRequest):
    pre_requests: Annotated[dict[str, PreRequest], BeforeValidator(_none_to_dict)] = Field(default_factory=dict)
    error_handling: ErrorHandling | None = None


class UserTraits(Model):
    email: Text = ""
    emails: TextList = Field(default_factory=list)
    login: Text = ""
    login_aliases: TextList = Field(default_factory=list)
    employee_id: Text = ""
    status: Text = ""
    account_type: Text = ""
    profile: TextMap = Field(default_factory=dict)


class ProfileTraits(Model):
    profile: TextMap = Field(default_factory=dict)


class ResourceMapping(Model):
    id: Text = ""
    display_name: Text = ""
    description: Text = ""
    user_traits: UserTraits | None = None
    group_traits: ProfileTraits | None = None
    role_traits: ProfileTraits | None = None
    app_traits: ProfileTraits | None = None


class EntitlementMapping(Model):
    id: Text = ""
    display_name: Text = ""
    description: Text = ""
    slug: Text = ""
    purpose: Text = "assignment"
    grantable_to: TextList = Field(default_factory=list)


class Expandable(Model):
    """pybaton's extension (as in baton-sql): the principal's own entitlements whose members also get this one."""

    entitlement_ids: TextList = Field(default_factory=list)
    shallow: bool = False
    skip_if: Text = ""


class GrantMapping(Model):
    principal_id: Text = ""
    principal_type: Text = ""
    entitlement_name: Text = ""
    expandable: Expandable | None = None


class Response(Model):
    items_path: Text = ""
    skip_if: Text = ""
    mapping_type: Literal["resource", "entitlement", "grant", ""] = ""
    resource_mapping: ResourceMapping | None = None
    entitlement_mapping: EntitlementMapping | None = None
    grant_mapping: GrantMapping | None = None


class Block(Model):
    """``list``, one ``entitlements`` entry or one ``grants`` entry: a request and what to make of it."""

    request: Request = Field(default_factory=Request)
    response: Response = Field(default_factory=Response)
    pagination: Pagination | None = None


# -- resource types --------------------------------------------------------------------------------

class ProvisioningAction(Model):
    request: Request = Field(default_factory=Request)
    success_condition: Text = ""


class Provisioning(Model):
    grant: ProvisioningAction | None = None
    revoke: ProvisioningAction | None = None


class StaticEntitlement(EntitlementMapping):
    provisioning: Provisioning | None = None


class ResourceType(Model):
    name: Text = ""
    description: Text = ""
    traits: TextList = Field(default_factory=list)
    depends_on: TextList = Field(default_factory=list)
    parent_type: Text = ""
    child_types: TextList = Field(default_factory=list)
    list_: Block | None = Field(None, alias="list")
    static_resources: Annotated[list[ResourceMapping], BeforeValidator(_none_to_list)] = Field(default_factory=list)
    static_entitlements: Annotated[list[StaticEntitlement], BeforeValidator(_none_to_list)] = \
        Field(default_factory=list)
    entitlements: Annotated[list[Block], BeforeValidator(_none_to_list)] = Field(default_factory=list)
    grants: Annotated[list[Block], BeforeValidator(_none_to_list)] = Field(default_factory=list)
    skip_entitlements_and_grants: bool = False


class HttpConfig(Model):
    version: Text = ""
    app_name: Text = ""
    app_description: Text = ""
    vars: Annotated[dict[str, Any], BeforeValidator(_none_to_dict)] = Field(default_factory=dict)
    connect: Connect = Field(default_factory=Connect)
    http: HttpSettings = Field(default_factory=HttpSettings)
    error_handling: ErrorHandling | None = None
    actions: Annotated[dict[str, Any], BeforeValidator(_none_to_dict)] = Field(default_factory=dict)
    resource_types: Annotated[dict[str, ResourceType], BeforeValidator(_none_to_dict)] = Field(default_factory=dict)


# -- loading ---------------------------------------------------------------------------------------

LoadedConfig = yamldoc.LoadedConfig[HttpConfig]
TRAITS = ("user", "group", "role", "app")
_MAPPINGS = {"resource": "resource_mapping", "entitlement": "entitlement_mapping", "grant": "grant_mapping"}


STATUS_KEY = re.compile(r"^(\d{3}|\dxx|default)$", re.I)
_OLD_AUTH_KEYS = {"token_url", "client_id", "client_secret", "scope", "scopes", "token_field", "expiry_field",
                  "token_expiry_padding", "header", "prefix", "query"}
_OLD_RETRY_KEYS = {"max_retries": "max_attempts", "retry_interval": "initial_backoff",
                   "max_retry_interval": "max_backoff"}


def _old_settings(data: dict[str, Any]) -> list[tuple[Path_, str]]:
    """The connection-level keys of the old layout, each with its documented spelling (see :func:`_old_layout`)."""
    found: list[tuple[Path_, str]] = []
    errors = data.get("error_handling")
    for key in errors if isinstance(errors, dict) else []:
        if STATUS_KEY.match(str(key)):
            found.append((("error_handling", str(key)),
                          f"status rules go under error_handling.error_status_codes: \"{key}\": {{action: …}}"))
    connect = data.get("connect")
    auth = connect.get("auth") if isinstance(connect, dict) else None
    if isinstance(auth, dict):
        kind = str(auth.get("type", ""))
        for key in sorted(set(auth) & _OLD_AUTH_KEYS):
            found.append((("connect", "auth", key), f"belongs in the block connect.auth.{kind or '<type>'}"
                                                    + (" (the key itself is api_key.key)" if kind == "api_key" else "")))
    http = data.get("http")
    retry = http.get("retry") if isinstance(http, dict) else None
    for key in retry if isinstance(retry, dict) else []:
        if key in _OLD_RETRY_KEYS:
            found.append((("http", "retry", key), f"baton-http's retry keys are max_attempts, initial_backoff, "
                                                  f"max_backoff (this one: {_OLD_RETRY_KEYS[key]})"))
    return found


def _old_layout(doc: YamlDocument) -> list[Issue]:
    """pybaton before issue #20 read an invented layout (``list.map``, ``parent``, flat auth keys…); it is
    no longer read, and each of its keys is reported with the documented spelling."""
    issues = [Issue(doc.where(path), dotted(path), message, error=True)
              for path, message in _old_settings(doc.data if isinstance(doc.data, dict) else {})]
    types = doc.data.get("resource_types") if isinstance(doc.data, dict) else None
    for name, rt in (types or {}).items() if isinstance(types, dict) else []:
        if not isinstance(rt, dict):
            continue
        blocks: list[tuple[str | int, ...]] = [("list",)] if isinstance(rt.get("list"), dict) else []
        blocks += [(k, i) for k in ("grants",) if isinstance(rt.get(k), list) for i in range(len(rt[k]))]
        if isinstance(rt.get("entitlements"), dict):
            blocks.append(("entitlements",))
        for block in blocks:
            node: Any = rt
            for part in block:
                node = node[part]
            if isinstance(node, dict) and "map" in node:
                kind = {"list": "resource", "grants": "grant"}.get(str(block[0]), "entitlement")
                path: Path_ = ("resource_types", name, *block, "map")
                issues.append(Issue(doc.where(path), dotted(path),
                                    f"'map' is not baton-http's format: write it as response.mapping_type: {kind} "
                                    f"with response.{_MAPPINGS[kind]} (see docs/connectors/http.md)", error=True))
        if "parent" in rt:
            path = ("resource_types", name, "parent")
            issues.append(Issue(doc.where(path), dotted(path), "baton-http calls this 'parent_type'", error=True))
    if issues:
        issues.insert(0, Issue(doc.source, "", "this is pybaton's old layout: `pybaton http convert --config "
                                            f"{doc.source}` rewrites it in baton-http's format", error=True))
    return issues


def _block_issues(block: Block, path: Path_, kind: str, doc: YamlDocument) -> list[Issue]:
    response = block.response
    issues = []
    if response.mapping_type and response.mapping_type != kind:
        where = (*path, "response", "mapping_type")
        issues.append(Issue(doc.where(where), dotted(where), f"must be {kind!r} here (got {response.mapping_type!r})",
                            error=True))
    if getattr(response, _MAPPINGS[kind]) is None:
        where = (*path, "response")
        issues.append(Issue(doc.where(where), dotted(where), f"needs {_MAPPINGS[kind]}", error=True))
    if not block.request.url:
        where = (*path, "request", "url")
        issues.append(Issue(doc.where(where), dotted(where), "is required", error=True))
    return issues


def _type_issues(name: str, rt: ResourceType, types: set[str], doc: YamlDocument) -> list[Issue]:
    base: Path_ = ("resource_types", name)
    issues = []

    def error(path: Path_, message: str) -> None:
        issues.append(Issue(doc.where(path), dotted(path), message, error=True))

    if rt.list_ is None and not rt.static_resources:
        error(base, "needs a list block or static_resources")
    if rt.list_ is not None:
        issues += _block_issues(rt.list_, (*base, "list"), "resource", doc)
    for key, kind in (("entitlements", "entitlement"), ("grants", "grant")):
        for i, block in enumerate(getattr(rt, key)):
            issues += _block_issues(block, (*base, key, i), kind, doc)
    for i, trait in enumerate(rt.traits):
        if trait not in TRAITS:
            error((*base, "traits", i), f"unknown trait {trait!r} (one of {', '.join(TRAITS)})")
    refs = [(rt.parent_type, ("parent_type",)), *((d, ("depends_on", i)) for i, d in enumerate(rt.depends_on)),
            *((c, ("child_types", i)) for i, c in enumerate(rt.child_types))]
    for i, ent in enumerate(rt.static_entitlements):
        if not ent.id:
            error((*base, "static_entitlements", i, "id"), "is required")
        refs += [(t, ("static_entitlements", i, "grantable_to", j)) for j, t in enumerate(ent.grantable_to)]
    for ref, where in refs:
        if ref and ref not in types:
            error((*base, *where), f"unknown resource type {ref!r} (known: {', '.join(sorted(types))})")
    return issues


def _semantic_issues(config: HttpConfig, doc: YamlDocument) -> list[Issue]:
    """What the models cannot see: the version, required blocks, references between types."""
    issues = _old_layout(doc)

    def error(path: Path_, message: str) -> None:
        issues.append(Issue(doc.where(path), dotted(path), message, error=True))

    if config.version != "1":
        error(("version",), f"must be \"1\" (got {config.version!r})" if config.version else "is required")
    if not config.app_name:
        error(("app_name",), "is required")
    if not config.connect.base_url:
        error(("connect", "base_url"), "is required")
    auth = config.connect.auth
    if auth.type in ("api_key", "oauth2_client_credentials", "oauth2_password", "bearer_dynamic") \
            and getattr(auth, auth.type) is None:
        error(("connect", "auth"), f"type {auth.type} needs its block connect.auth.{auth.type}")
    if not config.resource_types:
        error(("resource_types",), "at least one resource type is required")
    types = set(config.resource_types)
    for name, rt in config.resource_types.items():
        issues += _type_issues(name, rt, types, doc)
    return issues


def from_document(doc: YamlDocument, *, strict: bool = False) -> LoadedConfig:
    """Validate a parsed document; raise one :class:`ConfigError` listing every problem found."""
    config, issues = validate_document(doc, HttpConfig, strict=strict, peer="baton-http",
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
