"""baton-sql's CEL helper functions, with the results its Go implementations give.

Configs written for baton-sql call ``toUpper``, ``toLower``, ``titleCase``,
``slugify``, ``phpSerializeStringArray`` and ``phpDeserializeStringArray``; the
same config must map the same rows to the same strings here, so each function
follows the Go behaviour (word rules of ``golang.org/x/text/cases.Title``, the
slug rules of baton-sql, the PHP format of ``elliotchance/phpserialize``), not
Python's nearest built-in (``str.title`` would turn "ain't" into "Ain'T").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

_SLUG_DROP = re.compile(r"[^a-z0-9-]+")
_SLUG_DASHES = re.compile(r"-+")

# Characters that join two letters into one word in Unicode word breaking (MidLetter/MidNumLet).
_MID_WORD = frozenset("'\u2019.:\u00b7")


def _need_str(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name}: expected a string, got {type(value).__name__}")
    return value


def to_upper(value: Any) -> str:
    return _need_str("toUpper", value).upper()


def to_lower(value: Any) -> str:
    return _need_str("toLower", value).lower()


def _is_word_char(text: str, i: int, in_word: bool) -> bool:
    ch = text[i]
    if ch.isalnum() or ch == "_":
        return True
    return in_word and ch in _MID_WORD and i + 1 < len(text) and text[i + 1].isalnum()


def title_case(value: Any) -> str:
    """Upper-case the first letter of each word and lower-case the rest, as Go's ``cases.Title``.

    Words are runs of letters, digits and ``_``; an apostrophe or dot between
    letters stays inside the word ("ain't" → "Ain't", "hello-world" → "Hello-World").
    """
    text = _need_str("titleCase", value)
    out: list[str] = []
    in_word = False
    for i, ch in enumerate(text):
        word_char = _is_word_char(text, i, in_word)
        out.append(ch.title() if word_char and not in_word else ch.lower())
        in_word = word_char
    return "".join(out)


def slugify(value: Any) -> str:
    """Lower-case, spaces and underscores to dashes, drop everything outside ``[a-z0-9-]``, squeeze dashes."""
    slug = _need_str("slugify", value).lower().replace(" ", "-").replace("_", "-")
    slug = _SLUG_DROP.sub("", slug)
    return _SLUG_DASHES.sub("-", slug).strip("-")


def _php_string(text: str) -> str:
    return f's:{len(text.encode("utf-8"))}:"{text}";'


def php_serialize_string_array(value: Any) -> str:
    """``['editor']`` → ``a:1:{s:6:"editor";b:1;}``: each string a key set to true, as WordPress stores roles."""
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise TypeError("phpSerializeStringArray: expected a list of strings")
    keys = list(dict.fromkeys(value))
    return f"a:{len(keys)}:{{" + "".join(_php_string(k) + "b:1;" for k in keys) + "}"


class _PhpReader:
    """A minimal reader of PHP's ``serialize()`` format (arrays, strings, ints, floats, bools, null)."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def _until(self, stop: bytes) -> bytes:
        end = self.data.index(stop, self.pos)
        chunk = self.data[self.pos:end]
        self.pos = end + len(stop)
        return chunk

    def _expect(self, token: bytes) -> None:
        if not self.data.startswith(token, self.pos):
            raise ValueError(f"expected {token.decode()!r} at byte {self.pos}")
        self.pos += len(token)

    def value(self) -> Any:
        kind = self.data[self.pos:self.pos + 2]
        self.pos += 2
        readers: dict[bytes, Callable[[], Any]] = {
            b"s:": self._string, b"i:": lambda: int(self._until(b";")),
            b"d:": lambda: float(self._until(b";")), b"b:": lambda: self._until(b";") == b"1",
            b"a:": self._array,
        }
        if kind == b"N;":
            return None
        reader = readers.get(kind)
        if reader is None:
            raise ValueError(f"unsupported PHP value {kind.decode(errors='replace')!r} at byte {self.pos - 2}")
        return reader()

    def _string(self) -> str:
        length = int(self._until(b":"))
        self._expect(b'"')
        text = self.data[self.pos:self.pos + length]
        self.pos += length
        self._expect(b'";')
        return text.decode("utf-8")

    def _array(self) -> list[tuple[Any, Any]]:
        count = int(self._until(b":"))
        self._expect(b"{")
        items = [(self.value(), self.value()) for _ in range(count)]
        self._expect(b"}")
        return items


def php_deserialize_string_array(value: Any) -> list[str]:
    """The string keys of a serialized PHP array, in order (``a:1:{s:13:"administrator";b:1;}`` → ``['administrator']``)."""
    text = _need_str("phpDeserializeStringArray", value)
    try:
        parsed = _PhpReader(text.encode("utf-8")).value()
    except (ValueError, IndexError) as exc:
        raise ValueError(f"phpDeserializeStringArray: not a serialized PHP array: {exc}") from None
    if not isinstance(parsed, list):
        raise ValueError("phpDeserializeStringArray: not a serialized PHP array")
    return [key for key, _ in parsed if isinstance(key, str)]


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "toUpper": to_upper,
    "toLower": to_lower,
    "titleCase": title_case,
    "slugify": slugify,
    "phpSerializeStringArray": php_serialize_string_array,
    "phpDeserializeStringArray": php_deserialize_string_array,
}


def names() -> Sequence[str]:
    return tuple(FUNCTIONS)
