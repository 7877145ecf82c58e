"""The arithmetic behind the ``scale`` connector: who is where, computed on demand.

Nothing is stored. Every answer (a group's parent and children, the k-th
member of a group) is a pure function of the flags and the seed, so the same
flags give the same data, any page can be produced in isolation (workers,
resume) and memory stays flat whether there are ten grants or ten million.

Layout:

- users ``u0 … u{U-1}``; groups ``g0 … g{G-1}``; apps ``app0 …``.
- groups form a forest of ``depth`` levels of (nearly) equal size; each group
  below the top level is a member of one group of the level above. A nested
  group's membership grant is expandable (its members inherit the parent's).
- ``grants`` direct user → group memberships, spread evenly over the groups;
  group ``g`` takes users ``(a_g + k·s_g) mod U`` for ``k = 0, 1, …`` with ``s_g``
  coprime to ``U``, so a group never lists a user twice.
- each app has ``read``/``write``/``admin``, each granted to two groups
  (expandable) and two users.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterator
from dataclasses import dataclass, field

_MASK = (1 << 64) - 1
APP_SLUGS = ("read", "write", "admin")
APP_GROUPS_PER_ENTITLEMENT = 2
APP_USERS_PER_ENTITLEMENT = 2

# Stream labels: keep the draws for different purposes independent.
_ROTATION, _START, _STRIDE, _APP_GROUP, _APP_USER = range(1, 6)


def _splitmix(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def mix(*values: int) -> int:
    """A 64-bit hash of ``values``: the deterministic PRNG every choice below draws from."""
    h = 0
    for v in values:
        h = _splitmix(h ^ (v & _MASK))
    return h


@dataclass(frozen=True)
class ScaleModel:
    users: int
    groups: int
    depth: int
    grants: int
    apps: int
    seed: int = 0
    _bounds: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.users < 1 or self.groups < 1 or self.depth < 1 or self.apps < 0 or self.grants < 0:
            raise ValueError("users, groups and depth must be ≥ 1; apps and grants ≥ 0")
        if self.grants > self.users * self.groups:
            raise ValueError(f"{self.grants} grants do not fit: at most users * groups = "
                             f"{self.users * self.groups} distinct memberships")
        levels = min(self.depth, self.groups)
        object.__setattr__(self, "_bounds", tuple(level * self.groups // levels for level in range(levels + 1)))

    # -- group forest --------------------------------------------------------------------------

    @property
    def levels(self) -> int:
        return len(self._bounds) - 1

    def level(self, group: int) -> int:
        return bisect.bisect_right(self._bounds, group) - 1

    def _level_size(self, level: int) -> int:
        return self._bounds[level + 1] - self._bounds[level]

    def _rotation(self, level: int) -> int:
        """Shifts which parent each child of ``level`` gets, so seeds differ in nesting too."""
        return mix(self.seed, _ROTATION, level) % self._level_size(level - 1)

    def parent(self, group: int) -> int | None:
        """The group ``group`` is a member of, or None at the top level."""
        level = self.level(group)
        if level == 0:
            return None
        offset = (group - self._bounds[level] + self._rotation(level)) % self._level_size(level - 1)
        return self._bounds[level - 1] + offset

    def children(self, group: int) -> range:
        """The groups that are members of ``group`` (the inverse of :meth:`parent`)."""
        level = self.level(group) + 1
        if level >= self.levels:
            return range(0)
        width = self._level_size(level - 1)
        first = (group - self._bounds[level - 1] - self._rotation(level)) % width
        return range(self._bounds[level] + first, self._bounds[level + 1], width)

    @property
    def nested_edges(self) -> int:
        return self.groups - self._bounds[1]

    # -- direct memberships --------------------------------------------------------------------

    def direct_count(self, group: int) -> int:
        base, extra = divmod(self.grants, self.groups)
        return base + (1 if group < extra else 0)

    def _affine(self, group: int) -> tuple[int, int]:
        start = mix(self.seed, _START, group) % self.users
        stride = mix(self.seed, _STRIDE, group) % self.users or 1
        while math.gcd(stride, self.users) != 1:
            stride += 1
        return start, stride

    def members(self, group: int, positions: range) -> Iterator[int]:
        """User indexes of the direct members of ``group`` at ``positions`` (distinct, no storage)."""
        start, stride = self._affine(group)
        users = self.users
        return ((start + k * stride) % users for k in positions)

    # -- apps ----------------------------------------------------------------------------------

    def app_groups(self, app: int, slug: int) -> list[int]:
        first = mix(self.seed, _APP_GROUP, app, slug)
        return [(first + j) % self.groups for j in range(min(APP_GROUPS_PER_ENTITLEMENT, self.groups))]

    def app_users(self, app: int, slug: int) -> list[int]:
        first = mix(self.seed, _APP_USER, app, slug)
        return [(first + j) % self.users for j in range(min(APP_USERS_PER_ENTITLEMENT, self.users))]

    @property
    def app_grants(self) -> int:
        per_entitlement = min(APP_GROUPS_PER_ENTITLEMENT, self.groups) + min(APP_USERS_PER_ENTITLEMENT, self.users)
        return self.apps * len(APP_SLUGS) * per_entitlement

    @property
    def total_grants(self) -> int:
        """Everything :meth:`ScaleConnector` emits: memberships, nesting edges and app grants."""
        return self.grants + self.nested_edges + self.app_grants
