"""The first warehouse layout: systems, syncs, their rows, the correlation and the findings.

Revision ID: 0001
Revises:
Create Date: 2026-12-04

Frozen: this is what version 0.1 created. Later changes are new revisions.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _text(name: str, *, nullable: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.Text(), nullable=nullable)


def upgrade() -> None:
    op.create_table("systems",
                    sa.Column("system_id", sa.Integer(), primary_key=True, autoincrement=True),
                    sa.Column("name", sa.Text(), nullable=False, unique=True),
                    sa.Column("identity_provider", sa.Boolean(), nullable=False))
    op.create_table("syncs",
                    sa.Column("sync_pk", sa.Integer(), primary_key=True, autoincrement=True),
                    sa.Column("system_id", sa.Integer(), sa.ForeignKey("systems.system_id"), nullable=False),
                    _text("sync_id"), _text("kind"),
                    sa.Column("started_at", sa.DateTime(), nullable=True),
                    sa.Column("ended_at", sa.DateTime(), nullable=True),
                    _text("source_file"),
                    sa.Column("is_current", sa.Boolean(), nullable=False),
                    sa.Column("loaded_at", sa.DateTime(), nullable=False),
                    sa.Column("load_seconds", sa.Float(), nullable=False),
                    *(sa.Column(n, sa.Integer(), nullable=False)
                      for n in ("resource_types", "resources", "entitlements", "grants")),
                    sa.UniqueConstraint("system_id", "sync_id", name="uq_syncs_system_sync"))
    op.create_table("resource_types",
                    sa.Column("sync_pk", sa.Integer(), nullable=False),
                    _text("resource_type_id"), _text("display_name"), _text("traits"),
                    sa.Column("data", sa.LargeBinary(), nullable=False),
                    sa.Column("seq", sa.Integer(), nullable=False))
    op.create_index("ix_resource_types_sync", "resource_types", ["sync_pk", "resource_type_id"], unique=True)
    op.create_table("resources",
                    sa.Column("resource_pk", _BIG, primary_key=True, autoincrement=True),
                    sa.Column("sync_pk", sa.Integer(), nullable=False),
                    _text("resource_type_id"), _text("resource_id"), _text("display_name"),
                    _text("parent_resource_type_id", nullable=True), _text("parent_resource_id", nullable=True),
                    sa.Column("data", sa.LargeBinary(), nullable=False))
    op.create_index("ix_resources_sync", "resources", ["sync_pk", "resource_type_id", "resource_id"], unique=True)
    op.create_table("entitlements",
                    sa.Column("entitlement_pk", _BIG, primary_key=True, autoincrement=True),
                    sa.Column("sync_pk", sa.Integer(), nullable=False),
                    _text("entitlement_id"), _text("resource_type_id"), _text("resource_id"), _text("slug"),
                    _text("display_name"),
                    sa.Column("data", sa.LargeBinary(), nullable=False))
    op.create_index("ix_entitlements_sync", "entitlements", ["sync_pk", "entitlement_id"], unique=True)
    op.create_table("grants",
                    sa.Column("grant_pk", _BIG, primary_key=True, autoincrement=True),
                    sa.Column("sync_pk", sa.Integer(), nullable=False),
                    _text("grant_id"), _text("entitlement_id"), _text("resource_type_id"), _text("resource_id"),
                    _text("principal_type"), _text("principal_id"),
                    sa.Column("is_direct", sa.Boolean(), nullable=False),
                    _text("via"),
                    sa.Column("data", sa.LargeBinary(), nullable=False))
    op.create_index("ix_grants_entitlement", "grants", ["sync_pk", "entitlement_id"])
    op.create_index("ix_grants_principal", "grants", ["sync_pk", "principal_type", "principal_id"])
    op.create_table("grant_sources",
                    sa.Column("sync_pk", sa.Integer(), nullable=False),
                    _text("grant_id"), _text("source_entitlement_id"))
    op.create_index("ix_grant_sources_grant", "grant_sources", ["sync_pk", "grant_id"])
    op.create_table("identities",
                    sa.Column("identity_id", sa.Text(), primary_key=True),
                    *(_text(n) for n in ("source_system", "name", "display_name", "email", "login", "status")),
                    sa.Column("enabled", sa.Boolean(), nullable=False))
    op.create_table("accounts",
                    sa.Column("system", sa.Text(), primary_key=True),
                    sa.Column("resource_type_id", sa.Text(), primary_key=True),
                    sa.Column("resource_id", sa.Text(), primary_key=True),
                    _text("sync_id"), _text("identity_id", nullable=True),
                    *(_text(n) for n in ("match", "rule", "value", "display_name", "login", "email", "status",
                                         "kind")))
    op.create_index("ix_accounts_identity", "accounts", ["identity_id"])
    op.create_table("findings",
                    sa.Column("finding_pk", sa.Integer(), primary_key=True, autoincrement=True),
                    sa.Column("planned_at", sa.DateTime(), nullable=False),
                    *(_text(n) for n in ("kind", "system", "subject", "message", "rules")))


def downgrade() -> None:
    for table in ("findings", "accounts", "identities", "grant_sources", "grants", "entitlements", "resources",
                  "resource_types", "syncs", "systems"):
        op.drop_table(table)
