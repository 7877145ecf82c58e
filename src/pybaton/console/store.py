"""The console's own tables, kept in the warehouse database beside the warehouse's.

``console_users`` (local accounts), ``review_campaigns`` and ``review_items``
(access reviews, every decision with who made it and when). They are the
console's, not part of the warehouse's public contract, so they are created by
the console when it first opens a warehouse (``create_all``, idempotent) rather
than by the warehouse's migrations; ``docs/console.md`` documents them.
"""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Index, Integer, MetaData, Table, Text

from pybaton.warehouse import Warehouse
from pybaton.warehouse.engine import write_transaction

metadata = MetaData()

users = Table(
    "console_users", metadata,
    Column("name", Text, primary_key=True),
    Column("password_hash", Text, nullable=False),
    Column("role", Text, nullable=False),
    Column("created_at", DateTime, nullable=False),
)

campaigns = Table(
    "review_campaigns", metadata,
    Column("campaign_id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("scope", Text, nullable=False),  # the Scope as JSON
    Column("due", Text, nullable=False),
    Column("status", Text, nullable=False),  # open | closed
    Column("created_at", DateTime, nullable=False),
    Column("created_by", Text, nullable=False),
    Column("closed_at", DateTime, nullable=True),
    Column("closed_by", Text, nullable=True),
    Column("plan_file", Text, nullable=True),
)

items = Table(
    "review_items", metadata,
    Column("item_pk", Integer, primary_key=True, autoincrement=True),
    Column("campaign_id", Text, nullable=False),
    Column("reviewer", Text, nullable=False),
    Column("system", Text, nullable=False),
    Column("entitlement_id", Text, nullable=False),
    Column("resource_name", Text, nullable=False),
    Column("principal_type", Text, nullable=False),
    Column("principal_id", Text, nullable=False),
    Column("principal_name", Text, nullable=False),
    Column("identity_id", Text, nullable=False),
    Column("person", Text, nullable=False),
    Column("access", Text, nullable=False),
    Column("via", Text, nullable=False),
    Column("decision", Text, nullable=False, default=""),  # "" | keep | revoke
    Column("comment", Text, nullable=False, default=""),
    Column("decided_by", Text, nullable=False, default=""),
    Column("decided_at", DateTime, nullable=True),
    Index("ix_review_items_reviewer", "campaign_id", "reviewer", "item_pk"),
)


def ensure_tables(wh: Warehouse) -> None:
    """Create the console's tables if this warehouse does not have them yet."""
    with write_transaction(wh.engine, lock="console-schema") as conn:
        metadata.create_all(conn, checkfirst=True)
