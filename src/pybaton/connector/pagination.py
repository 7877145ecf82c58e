"""Pages and page tokens: how a connector hands results to the engine in pieces.

A syncer method receives a :class:`PageToken` and returns a :class:`Page`; an
empty ``next_token`` means "done". Tokens are opaque strings to the engine (it
stores them in checkpoints), so a connector may put anything in them;
:class:`TokenBag` is the usual thing to put when pagination is nested (list the
groups, then the members of each group, each with its own cursor).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pybaton.errors import FatalError

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 100


@dataclass(frozen=True)
class PageToken:
    """Where to continue (``token`` is empty on the first call) and how many to return."""

    token: str = ""
    size: int = DEFAULT_PAGE_SIZE

    @property
    def first(self) -> bool:
        return not self.token


@dataclass
class Page(Generic[T]):
    """One page of results and the token of the next (``""`` when this was the last)."""

    items: Sequence[T] = field(default_factory=list)
    next_token: str = ""
    annotations: Sequence[Any] = field(default_factory=list)

    @property
    def last(self) -> bool:
        return not self.next_token


def offset_of(token: str) -> int:
    """The position an offset page token points at (``""`` is the start).

    A malformed token is fatal rather than "start over": restarting would
    silently duplicate everything already written.
    """
    if not token:
        return 0
    try:
        value = int(token)
    except ValueError:
        value = -1
    if value < 0:
        raise FatalError(f"malformed offset page token {token[:60]!r}")
    return value


@dataclass
class _State:
    resource_type_id: str
    resource_id: str = ""
    token: str = ""


class TokenBag:
    """A stack of pagination states serialised into one page token.

    Push a state to descend (e.g. into one group's members), pop when that level
    is exhausted, and :meth:`next_token` serialises what is left. The JSON layout
    (``{"states": [...], "current_state": {...}}``) matches Baton's ``pagination.Bag``.
    """

    def __init__(self) -> None:
        self._states: list[_State] = []
        self._current: _State | None = None

    @classmethod
    def load(cls, token: str) -> TokenBag:
        bag = cls()
        if not token:
            return bag
        try:
            raw = json.loads(token)
            bag._states = [_State(s.get("resource_type_id", ""), s.get("resource_id", ""), s.get("token", ""))
                           for s in raw.get("states") or []]
            cur = raw.get("current_state")
            bag._current = _State(cur.get("resource_type_id", ""), cur.get("resource_id", ""),
                                  cur.get("token", "")) if cur else None
        except (ValueError, AttributeError, TypeError):
            raise ValueError(f"malformed page token {token[:60]!r}") from None
        return bag

    @property
    def current(self) -> _State | None:
        return self._current

    def push(self, resource_type_id: str, resource_id: str = "", token: str = "") -> None:
        if self._current is not None:
            self._states.append(self._current)
        self._current = _State(resource_type_id, resource_id, token)

    def pop(self) -> _State | None:
        popped = self._current
        self._current = self._states.pop() if self._states else None
        return popped

    def next_token(self, page_token: str = "") -> str:
        """Record ``page_token`` as the current level's cursor (popping it when empty)."""
        if self._current is not None:
            if page_token:
                self._current.token = page_token
            else:
                self.pop()
        return self.marshal()

    def marshal(self) -> str:
        if self._current is None:
            return ""

        def enc(s: _State) -> dict[str, str]:
            return {"resource_type_id": s.resource_type_id, "resource_id": s.resource_id, "token": s.token}

        return json.dumps({"states": [enc(s) for s in self._states], "current_state": enc(self._current)},
                          separators=(",", ":"))
