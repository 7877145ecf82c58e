"""The SCIM 2.0 protocol (RFC 7643/7644, RFC 9865 cursors) over :class:`~pybaton.connector.http.HttpClient`.

Only what the connector needs, but done the way any service provider expects:
discovery of what the server supports (``/ServiceProviderConfig``,
``/ResourceTypes``, ``/Schemas``), list pages by ``startIndex`` or by cursor,
single resources, and the writes (POST, PATCH, DELETE, Bulk). Connector-level
meaning (users, groups, grants) lives in :mod:`pybaton.connectors.scim.syncers`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pybaton.connector.http import HttpClient, HttpNotFoundError
from pybaton.errors import ConnectorError, FatalError

log = logging.getLogger("pybaton.connectors.scim")

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
BULK_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"

Pagination = Literal["auto", "index", "cursor"]

_INDEX, _CURSOR = "i:", "c:"


@dataclass(frozen=True)
class Capabilities:
    """What the service provider announced (defaults: RFC 7644's minimum, index paging only)."""

    patch: bool = True
    bulk: bool = False
    bulk_max_operations: int = 0
    bulk_max_payload: int = 0
    change_password: bool = False
    filter: bool = True
    max_results: int = 0
    cursor: bool = False
    index: bool = True
    max_page_size: int = 0
    endpoints: Mapping[str, str] = field(default_factory=dict)
    extensions: Mapping[str, Sequence[str]] = field(default_factory=dict)
    schemas: Sequence[str] = ()

    @classmethod
    def parse(cls, config: Mapping[str, Any], resource_types: Sequence[Mapping[str, Any]],
              schemas: Sequence[str]) -> Capabilities:
        """Read ``/ServiceProviderConfig`` and ``/ResourceTypes`` answers, tolerating missing parts."""
        def flag(name: str, key: str = "supported") -> bool:
            block = config.get(name)
            return bool(block.get(key)) if isinstance(block, Mapping) else False

        def number(name: str, key: str) -> int:
            block = config.get(name)
            value = block.get(key) if isinstance(block, Mapping) else None
            return int(value) if isinstance(value, int) and value > 0 else 0

        paging = config.get("pagination") if isinstance(config.get("pagination"), Mapping) else None
        endpoints = {str(rt.get("name") or rt.get("id")): str(rt.get("endpoint", "")).lstrip("/")
                     for rt in resource_types if rt.get("endpoint")}
        extensions = {str(rt.get("name") or rt.get("id")): [str(e.get("schema")) for e in rt.get("schemaExtensions")
                                                             or [] if isinstance(e, Mapping)]
                      for rt in resource_types}
        return cls(
            patch=flag("patch") if "patch" in config else True,
            bulk=flag("bulk"), bulk_max_operations=number("bulk", "maxOperations"),
            bulk_max_payload=number("bulk", "maxPayloadSize"),
            change_password=flag("changePassword"), filter=flag("filter") if "filter" in config else True,
            max_results=number("filter", "maxResults"),
            cursor=bool(paging.get("cursor")) if paging else False,
            index=bool(paging.get("index", True)) if paging else True,
            max_page_size=int(paging.get("maxPageSize") or 0) if paging else 0,
            endpoints=endpoints, extensions=extensions, schemas=tuple(schemas),
        )

    def endpoint(self, resource_type: str) -> str:
        """``Users``/``Groups`` unless ``/ResourceTypes`` names another endpoint."""
        return self.endpoints.get(resource_type, f"{resource_type}s")

    def page_cap(self, asked: int) -> int:
        """The page size to ask for: the engine's, capped by what the server announced."""
        caps = [c for c in (self.max_page_size, self.max_results) if c]
        return max(1, min([asked, *caps]))


@dataclass
class ListPage:
    resources: list[dict[str, Any]]
    next_token: str


def _list_body(body: Any, what: str) -> tuple[list[dict[str, Any]], Mapping[str, Any]]:
    if not isinstance(body, Mapping):
        raise ConnectorError(f"{what}: not a SCIM ListResponse")
    resources = body.get("Resources") or []
    if not isinstance(resources, list):
        raise ConnectorError(f"{what}: 'Resources' is not a list")
    return [r for r in resources if isinstance(r, dict)], body


class ScimClient:
    """SCIM calls on one service provider; thread-safe (the HTTP client is)."""

    def __init__(self, http: HttpClient, pagination: Pagination = "auto") -> None:
        self.http = http
        self.pagination = pagination
        self._caps: Capabilities | None = None

    # -- discovery ---------------------------------------------------------------------------------

    @property
    def capabilities(self) -> Capabilities:
        if self._caps is None:
            self._caps = self.discover()
        return self._caps

    def discover(self) -> Capabilities:
        """Ask the three discovery endpoints; a server without them gets RFC 7644's defaults."""
        config = self._optional("ServiceProviderConfig") or {}
        types = self._optional("ResourceTypes")
        schemas = self._optional("Schemas")
        caps = Capabilities.parse(config, _resources_of(types), [str(s.get("id")) for s in _resources_of(schemas)])
        log.debug("SCIM capabilities: %s", caps)
        return caps

    def _optional(self, path: str) -> Any:
        try:
            return self.http.get_json(path)
        except HttpNotFoundError:
            log.info("SCIM server has no /%s; assuming RFC 7644 defaults", path)
            return None

    def uses_cursor(self) -> bool:
        caps = self.capabilities
        if self.pagination == "cursor" and not caps.cursor:
            raise FatalError("--pagination cursor, but the server does not announce cursor pagination (RFC 9865)")
        # Cursors are preferred when offered: index pages skip or repeat items when the data changes mid-listing.
        return self.pagination == "cursor" or (self.pagination == "auto" and caps.cursor)

    # -- reading -----------------------------------------------------------------------------------

    def list_page(self, resource_type: str, token: str, size: int, *, params: Mapping[str, Any] | None = None
                  ) -> ListPage:
        """One page of ``resource_type``; ``token`` is ``""`` or what the previous page returned."""
        endpoint = self.capabilities.endpoint(resource_type)
        count = self.capabilities.page_cap(size)
        query: dict[str, Any] = {"count": count, **(params or {})}
        cursor_mode = token.startswith(_CURSOR) if token else self.uses_cursor()
        if cursor_mode:
            query["cursor"] = token[len(_CURSOR):]
        else:
            query["startIndex"] = _start_index(token)
        resources, body = _list_body(self.http.get_json(endpoint, params=query), f"GET /{endpoint}")
        if cursor_mode:
            nxt = body.get("nextCursor")
            return ListPage(resources, f"{_CURSOR}{nxt}" if nxt and resources else "")
        return ListPage(resources, _next_index(query["startIndex"], len(resources), body))

    def iterate(self, resource_type: str, size: int, *, params: Mapping[str, Any] | None = None
                ) -> Iterator[dict[str, Any]]:
        """Every resource of ``resource_type`` (for lookups and tools; syncs page via :meth:`list_page`)."""
        token = ""
        while True:
            page = self.list_page(resource_type, token, size, params=params)
            yield from page.resources
            if not page.next_token:
                return
            token = page.next_token

    def get(self, resource_type: str, rid: str, *, params: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
        """One resource, or None when the server says 404."""
        try:
            body = self.http.get_json(f"{self.capabilities.endpoint(resource_type)}/{rid}", params=params)
        except HttpNotFoundError:
            return None
        return body if isinstance(body, dict) else None

    def find(self, resource_type: str, attribute: str, value: str) -> dict[str, Any] | None:
        """The first resource whose ``attribute`` equals ``value`` (SCIM filter ``eq``)."""
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        page = self.list_page(resource_type, "", 1, params={"filter": f'{attribute} eq "{escaped}"'})
        return page.resources[0] if page.resources else None

    # -- writing -----------------------------------------------------------------------------------

    def create(self, resource_type: str, body: Mapping[str, Any]) -> dict[str, Any]:
        answer = self.http.json_of(self.http.request("POST", self.capabilities.endpoint(resource_type), json=body))
        if not isinstance(answer, dict) or "id" not in answer:
            raise ConnectorError(f"POST /{self.capabilities.endpoint(resource_type)}: no id in the answer")
        return answer

    def patch(self, resource_type: str, rid: str, operations: Sequence[Mapping[str, Any]]) -> None:
        """A PatchOp; retried like an idempotent call because each operation we send is one."""
        self.http.request("PATCH", f"{self.capabilities.endpoint(resource_type)}/{rid}",
                          json={"schemas": [PATCH_SCHEMA], "Operations": list(operations)}, idempotent=True)

    def delete(self, resource_type: str, rid: str) -> bool:
        """DELETE; False when it was already gone."""
        try:
            self.http.request("DELETE", f"{self.capabilities.endpoint(resource_type)}/{rid}")
        except HttpNotFoundError:
            return False
        return True

    def bulk(self, operations: Sequence[Mapping[str, Any]], *, fail_on_errors: int = 0) -> list[dict[str, Any]]:
        """One ``/Bulk`` request (RFC 7644 §3.7); the per-operation results."""
        body = {"schemas": [BULK_SCHEMA], "Operations": list(operations)}
        if fail_on_errors:
            body["failOnErrors"] = fail_on_errors
        answer = self.http.json_of(self.http.request("POST", "Bulk", json=body))
        ops = answer.get("Operations") if isinstance(answer, dict) else None
        return [op for op in ops if isinstance(op, dict)] if isinstance(ops, list) else []


def _resources_of(body: Any) -> list[Mapping[str, Any]]:
    """Discovery answers come as a ListResponse or (older servers) a bare list."""
    if isinstance(body, Mapping):
        body = body.get("Resources")
    return [r for r in body if isinstance(r, Mapping)] if isinstance(body, list) else []


def _start_index(token: str) -> int:
    if not token:
        return 1
    if not token.startswith(_INDEX) or not token[len(_INDEX):].isdigit():
        raise FatalError(f"malformed SCIM page token {token[:40]!r}")
    return int(token[len(_INDEX):])


def _next_index(start: int, got: int, body: Mapping[str, Any]) -> str:
    """``startIndex`` of the next page, or "" at the end (servers may return fewer than ``count``)."""
    total = body.get("totalResults")
    nxt = start + got
    if got == 0 or (isinstance(total, int) and nxt > total):
        return ""
    return f"{_INDEX}{nxt}"


__all__ = [
    "ENTERPRISE_SCHEMA",
    "GROUP_SCHEMA",
    "USER_SCHEMA",
    "Capabilities",
    "ListPage",
    "ScimClient",
]
