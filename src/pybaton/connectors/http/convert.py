"""``pybaton http convert``: a config in pybaton's old layout, rewritten in baton-http's documented format.

Before issue #20 pybaton read a layout of its own making (``list.map`` with
``traits.user``, ``parent``, flat ``connect.auth`` keys, status rules directly
under ``error_handling``, ``tmpl:`` placeholders holding CEL). That layout is
no longer read; this module rewrites such a file key by key. What has no
documented equivalent is dropped and listed in the notes the command prints
(each with its place), never silently.

Comments are not carried over (the file is written anew).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pybaton.connectors.http.config import STATUS_KEY

_PATH = re.compile(r"^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*$")
_PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}", re.S)
_RENAMED_NAMES = [(re.compile(r"\bparent\.(?=[A-Za-z_])"), "parent_resource."),
                  (re.compile(r"\bresponse\.status\b(?!_)"), "response.status_code"),
                  (re.compile(r"\b(resource|principal|parent_resource)\.ID\b"), r"\1.id")]


@dataclass
class Conversion:
    """The rewritten config and what could not be carried over."""

    config: dict[str, Any]
    notes: list[str] = field(default_factory=list)


@dataclass
class _Converter:
    notes: list[str] = field(default_factory=list)
    vars: dict[str, str] = field(default_factory=dict)  # provisioning vars of the entitlement being converted

    def note(self, where: str, message: str) -> None:
        self.notes.append(f"{where}: {message}")

    # -- values ------------------------------------------------------------------------------------

    def cel(self, expression: str) -> str:
        for pattern, replacement in _RENAMED_NAMES:
            expression = pattern.sub(replacement, expression)
        for name, value in self.vars.items():
            expression = re.sub(rf"\bvars\.{name}\b", f"({value})", expression)
        return expression

    def value(self, raw: Any, where: str) -> Any:
        """A leaf value: ``cel:`` with the renamed names, ``tmpl:`` as a Go template, literals as they are."""
        if isinstance(raw, dict):
            return {k: self.value(v, f"{where}.{k}") for k, v in raw.items()}
        if isinstance(raw, list):
            return [self.value(v, f"{where}[{i}]") for i, v in enumerate(raw)]
        if not isinstance(raw, str):
            return raw
        text = raw.strip()
        if text.startswith("cel:"):
            return "cel:" + self.cel(text[4:].strip())
        if text.startswith("tmpl:"):
            return "tmpl:" + _PLACEHOLDER.sub(lambda m: self.placeholder(m.group(1), where), text[5:].lstrip())
        return raw

    def placeholder(self, expression: str, where: str) -> str:
        """``{{ resource.id }}`` (CEL) → ``{{.resource.id}}`` (Go); anything but a field path cannot be."""
        path = self.cel(expression.strip())
        if path.startswith("(") and path.endswith(")"):
            path = path[1:-1].strip()
        if path.startswith("cel:"):
            path = path[4:].strip()
        if _PATH.match(path):
            return "{{." + path + "}}"
        self.note(where, f"the placeholder {{{{{expression.strip()}}}}} is an expression; a Go template reads "
                         "field paths only: rewrite this value as a cel: expression")
        return "{{" + expression + "}}"

    # -- connection ----------------------------------------------------------------------------------

    def auth(self, old: dict[str, Any]) -> dict[str, Any]:
        kind = str(old.get("type", "none"))
        plain = {k: v for k, v in old.items() if k in ("type", "token", "username", "password")}
        scope = " ".join([*(old.get("scopes") or []), *str(old.get("scope", "")).split()])
        for key in ("client_auth_style", "body_style", "additional_headers", "additional_form_data", "query"):
            if key in old:
                self.note(f"connect.auth.{key}", "has no documented equivalent; dropped")
        if kind == "api_key":
            block = {"header": old.get("header", "X-API-Key"), "prefix": str(old.get("prefix", "")).rstrip(),
                     "key": old.get("token", "")}
            return {"type": kind, "api_key": {k: v for k, v in block.items() if v != ""}}
        if kind in ("oauth2_client_credentials", "oauth2_password", "bearer_dynamic"):
            keys = {"oauth2_client_credentials": ("token_url", "client_id", "client_secret", "token_expiry_padding"),
                    "oauth2_password": ("token_url", "client_id", "client_secret", "username", "password",
                                        "token_expiry_padding"),
                    "bearer_dynamic": ("token_url", "username", "password", "token_field", "expiry_field",
                                       "token_expiry_padding")}[kind]
            block = {k: old[k] for k in keys if k in old}
            if scope and kind != "bearer_dynamic":
                block["scope"] = scope
            return {"type": kind, kind: block}
        return plain

    @staticmethod
    def status_rules(old: dict[str, Any]) -> dict[str, Any]:
        return {"error_status_codes": {str(k): {"action": v} if isinstance(v, str) else v for k, v in old.items()}}

    def retry(self, old: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if "max_retries" in old:
            out["max_attempts"] = int(old["max_retries"]) + 1
        for before, after in (("retry_interval", "initial_backoff"), ("max_retry_interval", "max_backoff")):
            if before in old:
                out[after] = old[before]
        for key in ("retry_multiplier", "max_wait"):
            if key in old:
                self.note(f"http.retry.{key}", "has no documented equivalent; dropped")
        return out

    # -- requests and mappings -----------------------------------------------------------------------

    def request(self, old: dict[str, Any], where: str, rules: dict[str, Any] | None) -> dict[str, Any]:
        out = {k: self.value(v, f"{where}.{k}") for k, v in old.items()
               if k in ("url", "method", "headers", "query_params", "body")}
        if old.get("body_format") == "form":
            self.note(f"{where}.body_format", "a form body: set connect.request_defaults.content_type to "
                                              "application/x-www-form-urlencoded")
        merged = {**(rules or {}), **(old.get("error_handling") or {})}
        if merged:
            out["error_handling"] = self.status_rules(merged)
        return out

    @staticmethod
    def pagination(old: dict[str, Any] | None) -> dict[str, Any] | None:
        if not old:
            return None
        renamed = {"start_page": "page_start", "start_offset": "offset_start"}
        return {renamed.get(k, k): v for k, v in old.items() if not (k == "start_offset" and not v)}

    def traits(self, old: dict[str, Any] | None, where: str) -> tuple[str, dict[str, Any]]:
        """``traits: {user: {...}}`` → ``("user", {"user_traits": {...}})``."""
        for kind, spec in (old or {}).items():
            spec = dict(spec or {})
            if kind == "user":
                emails = list(spec.pop("emails", []) or [])
                if emails:
                    spec["email"] = emails[0]
                    if emails[1:]:
                        spec["emails"] = emails[1:]
                ids = list(spec.pop("employee_ids", []) or [])
                if ids:
                    spec["employee_id"] = ids[0]
                    if ids[1:]:
                        self.note(f"{where}.traits.user.employee_ids", "only the first is kept")
            return kind, {f"{kind}_traits": self.value(spec, f"{where}.traits.{kind}")}
        return "", {}

    def resource_mapping(self, old: dict[str, Any], where: str) -> tuple[str, dict[str, Any]]:
        out: dict[str, Any] = {k: self.value(old[k], f"{where}.{k}")
                               for k in ("id", "display_name", "description") if k in old}
        kind, traits = self.traits(old.get("traits"), where)
        return kind, {**out, **traits}

    def block(self, old: dict[str, Any], where: str, kind: str, mapping: dict[str, Any], skip_if: str,
              rules: dict[str, Any] | None) -> dict[str, Any]:
        response = {k: v for k, v in (old.get("response") or {}).items() if k == "items_path"}
        conditions = [c for c in (str((old.get("response") or {}).get("skip_if", "")), skip_if) if c]
        if len(conditions) == 1:
            response["skip_if"] = self.value(conditions[0], f"{where}.response.skip_if")
        elif conditions:
            response["skip_if"] = "cel:" + " || ".join(f"({self.cel(c.strip().removeprefix('cel:').strip())})"
                                                      for c in conditions)
        response["mapping_type"] = kind
        response[f"{kind}_mapping"] = mapping
        out = {"request": self.request(old.get("request") or {}, f"{where}.request", rules), "response": response}
        paging = self.pagination(old.get("pagination"))
        if paging:
            out["pagination"] = paging
        return out

    def entitlement(self, old: dict[str, Any], where: str) -> dict[str, Any]:
        keys = ("id", "display_name", "description", "purpose", "grantable_to")
        return {k: self.value(old[k], f"{where}.{k}") for k in keys if k in old}

    def provisioning(self, old: dict[str, Any], where: str, rules: dict[str, Any] | None) -> dict[str, Any]:
        self.vars = {}
        for name, raw in (old.get("vars") or {}).items():
            text = str(raw).strip()
            self.vars[name] = self.cel(text[4:].strip()) if text.startswith("cel:") else repr(text)
        out = {}
        for action in ("grant", "revoke"):
            spec = old.get(action)
            if spec:
                at = f"{where}.{action}"
                out[action] = {"request": self.request(spec.get("request") or {}, f"{at}.request", rules)}
                if spec.get("success_condition"):
                    out[action]["success_condition"] = self.value(spec["success_condition"],
                                                                  f"{at}.success_condition")
        self.vars = {}
        return out

    # -- resource types --------------------------------------------------------------------------------

    def resource_type(self, name: str, old: dict[str, Any]) -> dict[str, Any]:
        at = f"resource_types.{name}"
        rules = old.get("error_handling") or None
        out: dict[str, Any] = {k: old[k] for k in ("name", "description") if k in old}
        if old.get("parent"):
            out["parent_type"] = old["parent"]
        if old.get("depends_on"):
            out["depends_on"] = old["depends_on"]
        kinds: list[str] = []
        if old.get("list"):
            kind, mapping = self.resource_mapping(old["list"].get("map") or {}, f"{at}.list.map")
            kinds.append(kind)
            out["list"] = self.block(old["list"], f"{at}.list", "resource", mapping,
                                     str((old["list"].get("map") or {}).get("skip_if", "")), rules)
        statics = []
        for i, res in enumerate(old.get("static_resources") or []):
            kind, mapping = self.resource_mapping(res, f"{at}.static_resources[{i}]")
            kinds.append(kind)
            statics.append(mapping)
        if statics:
            out["static_resources"] = statics
        traits = [k for k in dict.fromkeys(kinds) if k]
        if traits:
            out["traits"] = traits
        self._entitlements(old, out, at, rules)
        self._grants(old, out, at, rules)
        if old.get("skip_entitlements_and_grants"):
            out["skip_entitlements_and_grants"] = True
        return out

    def _entitlements(self, old: dict[str, Any], out: dict[str, Any], at: str, rules: dict[str, Any] | None) -> None:
        statics = []
        for i, ent in enumerate(old.get("static_entitlements") or []):
            converted = self.entitlement(ent, f"{at}.static_entitlements[{i}]")
            if ent.get("provisioning"):
                converted["provisioning"] = self.provisioning(ent["provisioning"],
                                                              f"{at}.static_entitlements[{i}].provisioning", rules)
            statics.append(converted)
        if statics:
            out["static_entitlements"] = statics
        block = old.get("entitlements")
        if block:
            out["entitlements"] = [
                self.block(block, f"{at}.entitlements", "entitlement",
                           self.entitlement(m, f"{at}.entitlements.map[{i}]"), str(m.get("skip_if", "")), rules)
                for i, m in enumerate(block.get("map") or [])]
            if any(m.get("provisioning") for m in block.get("map") or []):
                self.note(f"{at}.entitlements", "provisioning of dynamic entitlements is not documented; dropped")

    def _grants(self, old: dict[str, Any], out: dict[str, Any], at: str, rules: dict[str, Any] | None) -> None:
        grants = []
        for i, block in enumerate(old.get("grants") or []):
            for j, m in enumerate(block.get("map") or []):
                where = f"{at}.grants[{i}].map[{j}]"
                mapping: dict[str, Any] = {"principal_id": self.value(m.get("principal_id", ""), where),
                                           "principal_type": self.value(m.get("principal_type", ""), where),
                                           "entitlement_name": self.value(m.get("entitlement_id", ""), where)}
                if m.get("expandable"):
                    mapping["expandable"] = self.value(m["expandable"], f"{where}.expandable")
                grants.append(self.block(block, f"{at}.grants[{i}]", "grant", mapping, str(m.get("skip_if", "")),
                                         rules))
        if grants:
            out["grants"] = grants


def _section(old: dict[str, Any], key: str, convert: Callable[[dict[str, Any]], dict[str, Any]]) -> dict[str, Any]:
    value = old.get(key)
    return {key: convert(value)} if isinstance(value, dict) and value else {}


def is_old_layout(data: Any) -> bool:
    """Whether a parsed config uses the old layout anywhere the converter looks."""
    if not isinstance(data, dict):
        return False
    rules = data.get("error_handling")
    if isinstance(rules, dict) and any(STATUS_KEY.match(str(k)) for k in rules):
        return True
    auth = (data.get("connect") or {}).get("auth") if isinstance(data.get("connect"), dict) else None
    if isinstance(auth, dict) and {"token_url", "client_id", "header"} & set(auth):
        return True
    for rt in (data.get("resource_types") or {}).values() if isinstance(data.get("resource_types"), dict) else []:
        if isinstance(rt, dict) and ("parent" in rt or "map" in (rt.get("list") or {})
                                     or any("map" in (g or {}) for g in rt.get("grants") or [])):
            return True
    return False


def convert(old: dict[str, Any]) -> Conversion:
    """The documented-format equivalent of an old-layout config (already parsed)."""
    c = _Converter()
    out: dict[str, Any] = {k: old[k] for k in ("version", "app_name", "app_description") if k in old}
    connect = dict(old.get("connect") or {})
    if "auth" in connect:
        connect["auth"] = c.auth(connect["auth"] or {})
    if connect.pop("insecure_skip_verify", False):
        c.note("connect.insecure_skip_verify", "has no documented equivalent; dropped (TLS is verified)")
    out["connect"] = connect
    http = dict(old.get("http") or {})
    if isinstance(http.get("retry"), dict):
        http["retry"] = c.retry(http["retry"])
    if http:
        out["http"] = http
    out.update(_section(old, "error_handling", c.status_rules))
    out["resource_types"] = {name: c.resource_type(name, rt or {})
                             for name, rt in (old.get("resource_types") or {}).items()}
    return Conversion(out, c.notes)


__all__ = ["Conversion", "convert", "is_old_layout"]
