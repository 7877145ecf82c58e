"""One configured request: build it from its values, send it, pick the items out, find the next page.

A request block (``url``, ``method``, ``headers``, ``query_params``, ``body``,
``pre_requests``) plus its ``response`` (``items_path``, ``skip_if``) and
``pagination`` (its own, else ``connect.pagination``) compile into an
:class:`Endpoint`. Pre-requests run first, in order; their answers are
``pre_requests.NAME`` (``status_code``, ``headers``, ``body``) to the main
request's templates and expressions. :meth:`Endpoint.page` fetches one page given the
opaque token of the previous one, so the sync engine can checkpoint between
pages and resume exactly there. The five strategies:

=========  =================================================================
none       one request
offset     ``offset_param``/``limit_param``; done on a short page or at ``total_path``
page       ``page_param`` from ``page_start`` with ``limit_param``; done likewise
cursor     the next cursor is read at ``cursor_path`` and sent as ``cursor_param`` (with ``limit_param``)
link       the next URL is the ``Link: <…>; rel="next"`` header, or ``next_link_path``
=========  =================================================================
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from pybaton.connector.http import Action, HttpClient, StatusRule, StatusRules
from pybaton.connectors.http import config as cfg
from pybaton.connectors.http.values import JSON_TEXT, URL, Value, ValueCompiler, dig, text, truth
from pybaton.errors import FatalError

log = logging.getLogger("pybaton.connectors.http")


def status_rules(*layers: cfg.ErrorHandling | None) -> dict[int | str, StatusRule]:
    """``error_handling.error_status_codes`` merged, the later (more specific) winning: global, request."""
    out: dict[int | str, StatusRule] = {}
    for layer in layers:
        for key, rule in (layer.error_status_codes if layer is not None else {}).items():
            name: int | str = int(key) if str(key).isdigit() else str(key).lower()
            out[name] = StatusRule(Action(rule.action), rule.retry_after, rule.max_retries, rule.message)
    return out


NO_PAGES = cfg.Pagination.model_validate({})


@dataclass(frozen=True)
class Fetched:
    """One page: its items, the next page's token (``""`` at the end) and the response itself."""

    items: list[Any]
    next_token: str
    response: httpx.Response | None


@dataclass
class Endpoint:
    """A compiled request block with its pre-requests, response and pagination settings."""

    site: str
    method: str
    url: Value
    headers: dict[str, Value]
    params: dict[str, Value]
    body: Value | None
    content_type: str
    rules: StatusRules
    pre_requests: dict[str, Endpoint]
    items_path: str = ""
    skip_if: Value | None = None
    paging: cfg.Pagination = NO_PAGES

    @classmethod
    def compile(cls, compiler: ValueCompiler, site: str, request: cfg.PreRequest, names: tuple[str, ...], *,
                response: cfg.Response | None = None, pagination: cfg.Pagination | None = None,
                rules: StatusRules | None = None, content_type: str = "application/json") -> Endpoint:
        if not request.url:
            compiler.problem(f"{site}.url", "is required")
        pre: dict[str, Endpoint] = {}
        if isinstance(request, cfg.Request):
            for name, sub in request.pre_requests.items():
                pre[name] = cls.compile(compiler, f"{site}.pre_requests.{name}", sub, (*names, "pre_requests"),
                                        rules=rules, content_type=content_type)
            rules = {**(rules or {}), **status_rules(request.error_handling)}
            if pre:
                names = (*names, "pre_requests")
        item_names = (*names, "item", "response")
        response = response or cfg.Response.model_validate({})
        return cls(
            site=compiler.locate(site), method=request.method.upper() or "GET",
            url=compiler.compile(request.url, f"{site}.url", names, mode=URL),
            headers={k: compiler.compile(v, f"{site}.headers.{k}", names) for k, v in request.headers.items()},
            params={k: compiler.compile(v, f"{site}.query_params.{k}", names)
                    for k, v in request.query_params.items()},
            body=compiler.compile(request.body, f"{site}.body", names, mode=JSON_TEXT)
            if request.body is not None else None,
            content_type=content_type, rules=rules or {}, pre_requests=pre,
            items_path=response.items_path,
            skip_if=compiler.optional(response.skip_if, f"{site.removesuffix('.request')}.response.skip_if",
                                      item_names),
            paging=pagination or NO_PAGES,
        )

    # -- sending -----------------------------------------------------------------------------------

    def with_pre_requests(self, client: HttpClient, env: Mapping[str, Any]) -> Mapping[str, Any]:
        """``env`` plus ``pre_requests.NAME`` for each pre-request, sent in order."""
        if not self.pre_requests:
            return env
        answers: dict[str, Any] = {}
        env = {**env, "pre_requests": answers}
        for name, pre in self.pre_requests.items():
            answers[name] = response_env(pre.send(client, env))
        return env

    def _body(self, env: Mapping[str, Any]) -> dict[str, Any]:
        """The body as httpx wants it: a mapping as JSON (or a form), a rendered text as it is."""
        if self.body is None:
            return {}
        body = self.body.value(env)
        form = "x-www-form-urlencoded" in self.content_type
        if isinstance(body, str):
            return {"content": body.encode(), "headers": {"Content-Type": self.content_type}}
        return {"data": body} if form else {"json": body}

    def send(self, client: HttpClient, env: Mapping[str, Any], *, extra: Mapping[str, Any] | None = None,
             url: str | None = None, rules: StatusRules | None = None) -> httpx.Response:
        """The request built from ``env`` (``url`` overrides it: a ``link`` page), with paging parameters."""
        params = {k: text(v, env) for k, v in self.params.items()}
        params.update(extra or {})
        body = self._body(env)
        headers = {**body.pop("headers", {}), **{k: text(v, env) for k, v in self.headers.items()}}
        kwargs: dict[str, Any] = {"params": params or None, "headers": headers or None, **body}
        target = url if url is not None else text(self.url, env)
        if url is not None:
            kwargs["params"] = None
        return client.request(self.method, target, rules=self.rules if rules is None else rules, **kwargs)

    def page(self, client: HttpClient, env: Mapping[str, Any], token: str, size: int) -> Fetched:
        """One page of items from ``token`` (``""``: the first)."""
        state = _load(token, self.site)
        size = self.paging.page_size or size
        strategy = self.paging.strategy
        extra = self._paging_params(strategy, state, size)
        env = self.with_pre_requests(client, env)
        response = self.send(client, env, extra=extra, url=state.get("u") if strategy == "link" else None)
        body = client.json_of(response)
        if not response.is_success:  # a warn/ignore rule: nothing here, and nothing more
            return Fetched([], "", response)
        items = self._items(body, env, response)
        raw = _as_list(dig(body, self.items_path))
        return Fetched(items, self._next(strategy, state, size, len(raw), body, response), response)

    def _paging_params(self, strategy: str, state: dict[str, Any], size: int) -> dict[str, Any]:
        p = self.paging
        limit = {p.limit_param: size} if p.limit_param and size else {}
        if strategy == "offset":
            return {p.offset_param: state.get("o", p.offset_start), **limit}
        if strategy == "page":
            return {p.page_param: state.get("p", p.page_start), **limit}
        if strategy == "cursor":
            return {**({p.cursor_param: state["c"]} if state.get("c") else {}), **limit}
        return {}

    def _items(self, body: Any, env: Mapping[str, Any], response: httpx.Response) -> list[Any]:
        found = dig(body, self.items_path)
        if found is not None and not isinstance(found, list):
            raise FatalError(f"{self.site}: items_path {self.items_path!r} is not a list in the response")
        base = {**env, "response": _response_view(response, body)}
        return [item for item in found or []
                if not truth(self.skip_if, {**base, "item": item}, f"{self.site}.response.skip_if")]

    def _more(self, body: Any, got: int, size: int, seen: int) -> bool:
        total = dig(body, self.paging.total_path) if self.paging.total_path else None
        return _more_pages(total, got, size, seen)

    def _next(self, strategy: str, state: dict[str, Any], size: int, got: int, body: Any,
              response: httpx.Response) -> str:
        p = self.paging
        if strategy == "offset":
            nxt = state.get("o", p.offset_start) + got
            return _dump({"o": nxt}) if self._more(body, got, size, nxt - p.offset_start) else ""
        if strategy == "page":
            page, seen = state.get("p", p.page_start), state.get("n", 0) + got
            return _dump({"p": page + 1, "n": seen}) if self._more(body, got, size, seen) else ""
        if strategy == "cursor":
            cursor = dig(body, p.cursor_path) if p.cursor_path else response.headers.get(p.cursor_param)
            return _dump({"c": str(cursor)}) if cursor not in (None, "") and got else ""
        if strategy == "link":
            link = dig(body, p.next_link_path) if p.next_link_path else response.links.get("next", {}).get("url")
            return _dump({"u": str(link)}) if link and got else ""
        return ""


def _more_pages(total: Any, got: int, size: int, seen: int) -> bool:
    """With a known total, keep going until it is reached (an API may cap pages below our size);
    without one, a short page is the last."""
    if isinstance(total, int):
        return got > 0 and seen < total
    return got >= size > 0


def _response_view(response: httpx.Response, body: Any) -> dict[str, Any]:
    """What expressions see as ``response``: status, headers (lower-case names) and decoded body."""
    return {"status_code": response.status_code,
            "headers": {k.lower(): v for k, v in response.headers.items()}, "body": body}


def response_env(response: httpx.Response) -> dict[str, Any]:
    """``response`` for a ``success_condition`` or a pre-request (the body decoded when it is JSON, else text)."""
    try:
        body = response.json() if response.content.strip() else None
    except ValueError:
        body = response.text
    return _response_view(response, body)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dump(state: Mapping[str, Any]) -> str:
    return json.dumps(state, separators=(",", ":"), sort_keys=True)


def _load(token: str, site: str) -> dict[str, Any]:
    if not token:
        return {}
    try:
        state = json.loads(token)
    except ValueError:
        raise FatalError(f"{site}: malformed page token {token[:60]!r}") from None
    if not isinstance(state, dict):
        raise FatalError(f"{site}: malformed page token {token[:60]!r}")
    return state


__all__ = ["Endpoint", "Fetched", "response_env", "status_rules"]
