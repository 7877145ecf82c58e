"""Values in a baton-http config: ``cel:`` expressions, ``tmpl:`` Go templates, or literals.

* ``cel:item.active ? "enabled" : "disabled"`` is a CEL expression, with
  baton-sql's helper functions (``toLower``, ``slugify``…), evaluated with the
  names of its place: ``item``, ``response``, ``resource``,
  ``parent_resource``, ``principal``, ``pre_requests``, ``vars``. JSON items
  are nested, and ``item.emails[0].address`` means what CEL says it means.
* ``tmpl:/groups/{{.resource.id}}/members`` is a Go ``text/template`` string
  (:mod:`.gotemplate`). What it inserts is escaped for where it lands: in a
  URL, percent-encoded, so an id with ``/`` or ``?`` cannot change the path;
  in a JSON body, as JSON (inside a string: escaped; elsewhere: a JSON value),
  so a name like ``" + 1 + "`` stays a name.
* anything else is a literal; ``${NAME}`` in it is replaced by the environment
  variable (how secrets reach the file without being written in it).

Every value is compiled once, when the config is loaded, so a typo in an
expression is reported with its line before any request is sent. Data is
never compiled: values read from the API or the store are only substituted.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote

import cel

from pybaton.connectors.http.gotemplate import GoTemplate, TemplateError, text_of
from pybaton.connectors.sql import functions
from pybaton.connectors.sql.expr import (
    STANDARD_FUNCTIONS,
    CelExpression,
    ConstExpression,
    Expression,
    ExpressionError,
    to_bool,
    to_text,
)
from pybaton.errors import ConfigError
from pybaton.yamldoc import expand_env

CEL, TMPL = "cel:", "tmpl:"
_ENV_REF = re.compile(r"\$\{([A-Za-z0-9_]+)\}")

# The names each place of a config may use (``vars`` everywhere).
ITEM = ("item", "response", "parent_resource", "vars")
RESOURCE = ("resource", "parent_resource", "vars")
RESOURCE_ITEM = (*RESOURCE, "item", "response")
PROVISION = ("principal", "entitlement", "resource", "parent_resource", "pre_requests", "vars")
OUTCOME = (*PROVISION, "response")

# How a template inserts a value: as text, into a URL, or into a JSON text.
TEXT, URL, JSON_TEXT = "text", "url", "json"


class Value(Protocol):
    """A compiled config value: evaluated against the names of its place."""

    @property
    def source(self) -> str: ...

    def value(self, env: Mapping[str, Any]) -> Any: ...


@dataclass(frozen=True)
class Literal:
    source: str
    literal: Any

    def value(self, env: Mapping[str, Any]) -> Any:
        return self.literal


@dataclass(frozen=True)
class Cel:
    source: str
    expr: Expression

    def value(self, env: Mapping[str, Any]) -> Any:
        return self.expr.value(env)


def _url_part(value: Any) -> str:
    return quote(text_of(value), safe="")


def _json_string_part(value: Any) -> str:
    return json.dumps(text_of(value))[1:-1]


def _json_value(value: Any) -> str:
    return json.dumps(value, default=str)


def _inside_json_strings(template: GoTemplate) -> list[bool]:
    """For each action, whether the literal text before it leaves it inside a JSON string."""
    inside, escaped, out = False, False, []
    for part in template.parts:
        if not isinstance(part, str):
            out.append(inside)
            continue
        for char in part:
            if escaped:
                escaped = False
            elif char == "\\" and inside:
                escaped = True
            elif char == '"':
                inside = not inside
    return out


@dataclass(frozen=True)
class Template:
    """A parsed Go template and, per action, how its value is escaped where it lands."""

    source: str
    template: GoTemplate
    escapes: tuple[Callable[[Any], str], ...]

    @classmethod
    def of(cls, source: str, template: GoTemplate, mode: str) -> Template:
        actions = len(template.actions)
        if mode == URL:
            # A URL that starts with a value (a whole next-page link) takes it as it is.
            lead = bool(template.parts) and not isinstance(template.parts[0], str)
            escapes = [text_of if lead and i == 0 else _url_part for i in range(actions)]
        elif mode == JSON_TEXT:
            escapes = [_json_string_part if inside else _json_value for inside in _inside_json_strings(template)]
        else:
            escapes = [text_of] * actions
        return cls(source, template, tuple(escapes))

    def value(self, env: Mapping[str, Any]) -> Any:
        return self.template.render(env, self.escapes)


@dataclass(frozen=True)
class Structure:
    """A mapping or list (a request body) whose leaves are values."""

    source: str
    shape: Any

    def value(self, env: Mapping[str, Any]) -> Any:
        return _realize(self.shape, env)


def _realize(shape: Any, env: Mapping[str, Any]) -> Any:
    if isinstance(shape, dict):
        return {k: _realize(v, env) for k, v in shape.items()}
    if isinstance(shape, list):
        return [_realize(v, env) for v in shape]
    return shape.value(env)


def _macro_names(program: Any, source: str) -> set[str]:
    """Variables bound by comprehension macros (``x`` in ``list.map(x, …)``) are not free names."""
    return set(re.findall(r"\.\s*(?:all|exists|exists_one|map|filter)\s*\(\s*([A-Za-z_]\w*)\s*,", source))


@dataclass
class ValueCompiler:
    """Compiles the values of one config, collecting every problem to report them together.

    ``env`` is where ``${NAME}`` references are looked up; with ``check_env``
    false (offline validation) a missing variable is a warning, not an error.
    """

    env: Mapping[str, str] | None = None
    check_env: bool = True
    locate: Callable[[str], str] = field(default=str)

    def __post_init__(self) -> None:
        self.problems: list[str] = []
        self.warnings: list[str] = []

    def problem(self, site: str, message: str) -> None:
        """Record a problem at ``site`` (a dotted config path), with its file and line."""
        self.problems.append(f"{self.locate(site)}: {message}")

    def compile(self, raw: Any, site: str, names: Iterable[str], *, mode: str = TEXT) -> Value:
        """One value; ``mode`` says how a template escapes what it inserts (``url``, ``json`` or ``text``)."""
        names = tuple(names)
        if isinstance(raw, dict | list):
            return Structure(str(raw), self._shape(raw, site, names))
        site = self.locate(site)
        if not isinstance(raw, str):
            return Literal(str(raw), raw)
        text = raw.strip()
        if text.startswith(CEL):
            return Cel(raw, self.expression(text[len(CEL):].strip(), site, names))
        if text.startswith(TMPL):
            body = text[len(TMPL):].lstrip()
            if mode == JSON_TEXT and not body.lstrip().startswith(("{", "[", '"')):
                mode = TEXT
            return self._template(raw, body, site, names, mode)
        return Literal(raw, self.literal(raw, site))

    def expression(self, source: str, site: str, names: Iterable[str]) -> Expression:
        """A CEL expression as written (no baton-sql rewrites), checked for unknown names and functions."""
        allowed = set(names)
        try:
            program = cel.compile(source)
        except (ValueError, RuntimeError) as exc:
            first = str(exc).strip().splitlines()
            self.problems.append(f"{site}: {source!r} does not compile: {first[0] if first else exc}")
            return ConstExpression(source, site, "")
        unknown = set(program.variables()) - allowed - _macro_names(program, source)
        if unknown:
            self.problems.append(f"{site}: {source!r} uses unknown name(s) {', '.join(sorted(unknown))} "
                                 f"(available here: {', '.join(sorted(allowed)) or 'none'})")
        called = set(program.functions())
        strange = [f for f in called if f[0].isalpha() and f not in STANDARD_FUNCTIONS and f not in functions.FUNCTIONS]
        if strange:
            self.problems.append(f"{site}: {source!r} calls unknown function(s) {', '.join(sorted(strange))}")
        calls = {name: fn for name, fn in functions.FUNCTIONS.items() if name in called}
        return CelExpression(source, site, program, tuple(program.variables()), calls)

    def optional(self, raw: str, site: str, names: Iterable[str]) -> Value | None:
        """None for an empty (unset) field."""
        return self.compile(raw, site, names) if raw else None

    def literal(self, raw: str, site: str) -> str:
        """``raw`` with ``${NAME}`` replaced from the environment."""
        if "${" not in raw:
            return raw
        if not self.check_env:
            env = os.environ if self.env is None else self.env
            missing = sorted({m for m in _ENV_REF.findall(raw) if m not in env})
            if missing:
                self.warnings.append(f"{site}: environment variable(s) {', '.join(missing)} not set")
                return raw
        try:
            return expand_env(raw, site, self.env)
        except ConfigError as exc:
            self.problems.append(str(exc).removeprefix("config: "))
            return raw

    def _template(self, raw: str, body: str, site: str, names: tuple[str, ...], mode: str) -> Value:
        try:
            template = GoTemplate.parse(body)
        except TemplateError as exc:
            self.problems.append(f"{site}: {exc}")
            return Literal(raw, "")
        # ${NAME} is read in the literal text only: nothing from the environment is parsed as a template.
        template = GoTemplate(template.source, tuple(p if not isinstance(p, str) else self.literal(p, site)
                                                     for p in template.parts))
        unknown = template.roots() - set(names)
        if unknown:
            self.problems.append(f"{site}: {raw.strip()!r} uses unknown name(s) {', '.join(sorted(unknown))} "
                                 f"(available here: {', '.join(sorted(names)) or 'none'})")
        return Template.of(raw, template, mode)

    def _shape(self, raw: Any, site: str, names: tuple[str, ...]) -> Any:
        if isinstance(raw, dict):
            return {str(k): self._shape(v, f"{site}.{k}", names) for k, v in raw.items()}
        if isinstance(raw, list):
            return [self._shape(v, f"{site}[{i}]", names) for i, v in enumerate(raw)]
        return self.compile(raw, site, names)

    def check(self) -> None:
        if self.problems:
            raise ConfigError(self.problems[0] + "".join(f"\n  {p}" for p in self.problems[1:]))


def text(value: Value | None, env: Mapping[str, Any]) -> str:
    """A value as text (``None`` → ``""``); an unset field is ``""``."""
    return "" if value is None else to_text(value.value(env))


def truth(value: Value | None, env: Mapping[str, Any], site: str) -> bool:
    """A condition (``skip_if``, ``success_condition``); an unset one is false."""
    if value is None:
        return False
    result = value.value(env)
    try:
        return to_bool(result)
    except TypeError as exc:
        raise ExpressionError(f"{site}: {value.source!r}: {exc}") from None


def dig(body: Any, path: str) -> Any:
    """``data.users`` / ``items[0].id`` inside a decoded JSON body; ``""`` is the body itself."""
    if not path:
        return body
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        if part.startswith("["):
            index = int(part[1:-1])
            body = body[index] if isinstance(body, list) and index < len(body) else None
        else:
            body = body.get(part) if isinstance(body, Mapping) else None
        if body is None:
            return None
    return body


__all__ = ["CEL", "ITEM", "JSON_TEXT", "OUTCOME", "PROVISION", "RESOURCE", "RESOURCE_ITEM", "TEXT", "TMPL", "URL",
           "Cel", "Literal",
           "Structure", "Template", "Value", "ValueCompiler", "dig", "text", "truth"]
