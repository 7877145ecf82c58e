"""A small, safe reader of Go ``text/template`` strings: what baton-http's ``tmpl:`` values use.

Supported: literal text; actions ``{{ … }}`` holding a pipeline of field
paths (``.resource.id``, ``.pre_requests.user.body.username``, ``.`` for the
whole data), string/number/boolean constants and Go's built-in functions
``print``, ``printf``, ``urlquery``, ``html``, ``js``, ``len`` and ``index``,
chained with ``|``; trim markers (``{{-``/``-}}``) and comments.
Control actions (``if``, ``range``, ``with``, ``define``…) are refused when the
template is compiled, with the place they are written.

A template is parsed once. Rendering only *looks up* data and formats it as
text: nothing taken from the data is ever parsed again, so a user called
``{{.principal.id}}`` stays that string. Callers choose how each inserted
value is escaped for where it lands (a URL path, a JSON string…).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus


class TemplateError(ValueError):
    """A template that cannot be parsed (at load time) or a function misused (at run time)."""


@dataclass(frozen=True)
class FieldRef:
    path: tuple[str, ...]  # () is "." itself


@dataclass(frozen=True)
class Const:
    value: Any


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Node, ...]


Node = FieldRef | Const | Call


@dataclass(frozen=True)
class Action:
    """One ``{{ … }}``: commands run left to right, each result passed as the last argument of the next."""

    source: str
    commands: tuple[Node, ...]

    def roots(self) -> set[str]:
        return set().union(*(_roots(c) for c in self.commands))


def _roots(node: Node) -> set[str]:
    if isinstance(node, FieldRef):
        return {node.path[0]} if node.path else set()
    if isinstance(node, Call):
        return set().union(set(), *(_roots(a) for a in node.args))
    return set()


_ACTION = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.S)
_TOKEN = re.compile(r"""\s*(?:(?P<field>(?:\.[A-Za-z_]\w*)+|\.)|(?P<str>"(?:[^"\\]|\\.)*")|(?P<raw>`[^`]*`)
                        |(?P<num>-?\d+(?:\.\d+)?)|(?P<ident>[A-Za-z_]\w*)|(?P<pipe>\|))""", re.X)
_CONTROL = {"if", "else", "end", "range", "with", "define", "template", "block", "break", "continue"}


def _fmt(value: Any) -> str:
    """A value as Go's ``print`` shows it, except that a missing value is empty and whole floats are integers."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(value, separators=(",", ":"), default=str)
    return str(value)


def _index(container: Any, *keys: Any) -> Any:
    for key in keys:
        if isinstance(container, Mapping):
            container = container.get(key if isinstance(key, str) else _fmt(key))
        elif isinstance(container, list | tuple) and isinstance(key, int) and 0 <= key < len(container):
            container = container[key]
        else:
            return None
    return container


def _printf(pattern: Any, *args: Any) -> str:
    """``%s``/``%v``/``%d``/``%q``/``%%`` only: the pattern is the config's text, the arguments are data."""
    values = iter(args)

    def one(match: re.Match[str]) -> str:
        verb = match.group(1)
        if verb == "%":
            return "%"
        value = next(values, None)
        return json.dumps(_fmt(value)) if verb == "q" else _fmt(value)

    return re.sub(r"%([svdq%])", one, str(pattern))


def _js(*args: Any) -> str:
    return json.dumps("".join(_fmt(a) for a in args))[1:-1].replace("'", "\\'").replace("<", "\\u003c")


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "print": lambda *a: "".join(_fmt(x) for x in a),
    "printf": _printf,
    "urlquery": lambda *a: quote_plus("".join(_fmt(x) for x in a)),
    "html": lambda *a: html.escape("".join(_fmt(x) for x in a)),
    "js": _js,
    "len": lambda x: len(x) if isinstance(x, str | list | tuple | Mapping) else 0,
    "index": _index,
}


def _parse_action(source: str) -> Action:
    tokens: list[tuple[str, str]] = []
    pos, text = 0, source.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise TemplateError(f"{{{{{source}}}}}: cannot read {text[pos:pos + 20]!r}")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        pos = match.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    if not tokens:
        raise TemplateError("{{}}: empty action")
    commands: list[Node] = []
    groups: list[list[tuple[str, str]]] = [[]]
    for token in tokens:
        if token[0] == "pipe":
            groups.append([])
        else:
            groups[-1].append(token)
    for i, group in enumerate(groups):
        if not group:
            raise TemplateError(f"{{{{{source}}}}}: empty command in the pipeline")
        commands.append(_command(group, source, piped=i > 0))
    return Action(source.strip(), tuple(commands))


def _operand(kind: str, value: str, source: str) -> Node:
    if kind == "field":
        return FieldRef(tuple(p for p in value.split(".") if p))
    if kind == "str":
        return Const(json.loads(value))
    if kind == "raw":
        return Const(value[1:-1])
    if kind == "num":
        return Const(float(value) if "." in value else int(value))
    if value in ("true", "false"):
        return Const(value == "true")
    if value == "nil":
        return Const(None)
    raise TemplateError(f"{{{{{source}}}}}: {value!r} is not a value here")


def _command(group: list[tuple[str, str]], source: str, *, piped: bool) -> Node:
    kind, value = group[0]
    if kind == "ident" and value in _CONTROL:
        raise TemplateError(f"{{{{{source}}}}}: {value!r} is not supported (pybaton's tmpl: reads field paths, "
                            f"constants and the functions {', '.join(sorted(FUNCTIONS))})")
    if kind == "ident" and value not in ("true", "false", "nil"):
        if value not in FUNCTIONS:
            raise TemplateError(f"{{{{{source}}}}}: unknown function {value!r} (a field starts with a dot: "
                                f"{{{{.{value}…}}}}; functions: {', '.join(sorted(FUNCTIONS))})")
        return Call(value, tuple(_operand(k, v, source) for k, v in group[1:]))
    if len(group) > 1 or piped:
        raise TemplateError(f"{{{{{source}}}}}: only a function can take arguments")
    return _operand(kind, value, source)


@dataclass(frozen=True)
class GoTemplate:
    """Parsed once; :meth:`render` fills it from data with a per-action escaping function."""

    source: str
    parts: tuple[str | Action, ...]

    @classmethod
    def parse(cls, source: str) -> GoTemplate:
        parts: list[str | Action] = []
        pos = 0
        for match in _ACTION.finditer(source):
            literal = source[pos:match.start()]
            if match.group(1):
                literal = literal.rstrip()
            parts.append(literal)
            body = match.group(2)
            if not body.strip().startswith("/*"):
                parts.append(_parse_action(body))
            pos = match.end()
            if match.group(3):
                while pos < len(source) and source[pos].isspace():
                    pos += 1
        tail = source[pos:]
        if "{{" in tail:
            raise TemplateError(f"unclosed action in {source!r}")
        parts.append(tail)
        return cls(source, tuple(p for p in parts if p != ""))

    @property
    def actions(self) -> list[Action]:
        return [p for p in self.parts if isinstance(p, Action)]

    def roots(self) -> set[str]:
        """The top-level names the template reads (``resource`` for ``.resource.id``)."""
        return set().union(set(), *(a.roots() for a in self.actions))

    def values(self, data: Mapping[str, Any]) -> list[Any]:
        """Each action's value, in order (not yet text)."""
        return [evaluate(a, data) for a in self.actions]

    def render(self, data: Mapping[str, Any], escape: Sequence[Callable[[Any], str]] | None = None) -> str:
        """The text; ``escape[i]`` turns the i-th action's value into text (default: Go's plain printing)."""
        out, i = [], 0
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            value = evaluate(part, data)
            out.append(escape[i](value) if escape is not None else _fmt(value))
            i += 1
        return "".join(out)


def lookup(data: Any, path: Sequence[str]) -> Any:
    for name in path:
        if not isinstance(data, Mapping):
            return None
        data = data.get(name)
    return data


def _eval(node: Node, data: Mapping[str, Any], piped: tuple[Any, ...] = ()) -> Any:
    if isinstance(node, FieldRef):
        return lookup(data, node.path)
    if isinstance(node, Const):
        return node.value
    args = [_eval(a, data) for a in node.args] + list(piped)
    try:
        return FUNCTIONS[node.name](*args)
    except TypeError as exc:
        raise TemplateError(f"{node.name}: {exc}") from None


def evaluate(action: Action, data: Mapping[str, Any]) -> Any:
    value: Any = None
    for i, command in enumerate(action.commands):
        value = _eval(command, data, (value,) if i else ())
    return value


def text_of(value: Any) -> str:
    """How a value prints when nothing else is asked (Go's plain printing)."""
    return _fmt(value)


__all__ = ["Action", "GoTemplate", "TemplateError", "evaluate", "lookup", "text_of"]
