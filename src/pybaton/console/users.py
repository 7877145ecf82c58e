"""Local console accounts: a name, a role, and a password hashed with argon2 (never stored or logged as given)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, insert, select, update

from pybaton.console import store
from pybaton.errors import UserError
from pybaton.warehouse import Warehouse
from pybaton.warehouse.engine import write_transaction


class Role(StrEnum):
    """What a user may do: read; read and decide their own review items; everything (campaigns, plans, apply)."""

    VIEWER = "viewer"
    REVIEWER = "reviewer"
    ADMIN = "admin"


RANK = {Role.VIEWER: 0, Role.REVIEWER: 1, Role.ADMIN: 2}
_hasher = PasswordHasher()
# Verifying against this when the name is unknown takes as long as for a real user (no timing oracle).
_DUMMY_HASH = _hasher.hash("not a password")


@dataclass(frozen=True)
class User:
    name: str
    role: Role

    def can(self, role: Role) -> bool:
        return RANK[self.role] >= RANK[role]


def parse_role(text: str) -> Role:
    try:
        return Role(text)
    except ValueError:
        raise UserError(f"unknown role {text!r}: use viewer, reviewer or admin") from None


def add_user(wh: Warehouse, name: str, password: str, role: Role) -> None:
    """Create ``name``, or set a new password and role when it exists."""
    if not name.strip():
        raise UserError("a user needs a name")
    if len(password) < 8:
        raise UserError("the password must have at least 8 characters")
    store.ensure_tables(wh)
    row = {"password_hash": _hasher.hash(password), "role": role.value}
    with write_transaction(wh.engine, lock="console-users") as conn:
        t = store.users
        if conn.execute(select(t.c.name).where(t.c.name == name)).first():
            conn.execute(update(t).where(t.c.name == name).values(**row))
        else:
            conn.execute(insert(t).values(name=name, created_at=dt.datetime.now(dt.UTC).replace(tzinfo=None), **row))


def remove_user(wh: Warehouse, name: str) -> bool:
    store.ensure_tables(wh)
    with write_transaction(wh.engine, lock="console-users") as conn:
        return bool(conn.execute(delete(store.users).where(store.users.c.name == name)).rowcount)


def list_users(wh: Warehouse) -> list[User]:
    store.ensure_tables(wh)
    with wh.reading() as conn:
        rows = conn.execute(select(store.users.c.name, store.users.c.role).order_by(store.users.c.name))
        return [User(str(n), Role(str(r))) for n, r in rows]


def authenticate(wh: Warehouse, name: str, password: str) -> User | None:
    """The user when ``password`` is theirs, else ``None`` (same work either way)."""
    with wh.reading() as conn:
        row = conn.execute(select(store.users.c.password_hash, store.users.c.role)
                           .where(store.users.c.name == name)).first()
    try:
        _hasher.verify(str(row[0]) if row else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    return User(name, Role(str(row[1]))) if row else None


def find_user(wh: Warehouse, name: str) -> User | None:
    with wh.reading() as conn:
        row = conn.execute(select(store.users.c.role).where(store.users.c.name == name)).first()
    return User(name, Role(str(row[0]))) if row else None
