"""Grant expandability (Baton's GrantExpandable), so the reconcile planner can rebuild the expansion graph.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04

A warehouse at 0002 gets the empty table, and its syncs are marked
``has_expansions = false``: their expansion graph is unknown, so planning from
them is refused with a message (the next sync of the system is loaded whole).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table("grant_expansions",
                    sa.Column("expansion_pk", _BIG, primary_key=True, autoincrement=True),
                    sa.Column("sync_pk", sa.Integer(), nullable=False),
                    *(sa.Column(n, sa.Text(), nullable=False)
                      for n in ("grant_id", "entitlement_id", "principal_type", "principal_id")),
                    sa.Column("data", sa.LargeBinary(), nullable=True))
    op.create_index("ix_grant_expansions_sync", "grant_expansions", ["sync_pk", "grant_id"])
    # A plain ADD COLUMN (both backends have it): a batch copy of ``syncs`` would trip over the views on it.
    op.add_column("syncs", sa.Column("has_expansions", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    op.drop_column("syncs", "has_expansions")
    op.drop_table("grant_expansions")
