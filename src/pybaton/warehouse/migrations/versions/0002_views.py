"""The views for the questions people ask: access, entitlement_holders, orphan_accounts, leaver_access.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04

Each view reads the *current* sync of every system (``syncs.is_current``); for
another point in time, join ``syncs`` yourself (docs/warehouse.md shows how).
Plain SQL that SQLite and PostgreSQL both run unchanged.
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_CURRENT_GRANTS = """
    FROM grants g
    JOIN syncs s ON s.sync_pk = g.sync_pk AND s.is_current
    JOIN systems y ON y.system_id = s.system_id
    LEFT JOIN entitlements e ON e.sync_pk = g.sync_pk AND e.entitlement_id = g.entitlement_id
    LEFT JOIN resources r ON r.sync_pk = g.sync_pk AND r.resource_type_id = g.resource_type_id
                         AND r.resource_id = g.resource_id
"""

_GRANT_COLUMNS = """
    y.name AS system, g.resource_type_id, g.resource_id, r.display_name AS resource_name,
    g.entitlement_id, e.display_name AS entitlement_name,
    CASE WHEN g.is_direct THEN 'direct' ELSE 'inherited' END AS access, g.via, s.sync_id
"""

VIEWS = {
    "access": f"""
SELECT i.identity_id, i.name AS person, i.email AS person_email,
       g.principal_type AS account_type, g.principal_id AS account_id, {_GRANT_COLUMNS}
{_CURRENT_GRANTS}
    JOIN accounts a ON a.system = y.name AND a.resource_type_id = g.principal_type
                   AND a.resource_id = g.principal_id
    JOIN identities i ON i.identity_id = a.identity_id
""",
    "entitlement_holders": f"""
SELECT g.principal_type, g.principal_id, p.display_name AS principal_name,
       a.identity_id, i.email AS person_email, {_GRANT_COLUMNS}
{_CURRENT_GRANTS}
    LEFT JOIN resources p ON p.sync_pk = g.sync_pk AND p.resource_type_id = g.principal_type
                         AND p.resource_id = g.principal_id
    LEFT JOIN accounts a ON a.system = y.name AND a.resource_type_id = g.principal_type
                        AND a.resource_id = g.principal_id
    LEFT JOIN identities i ON i.identity_id = a.identity_id
""",
    "orphan_accounts": """
SELECT a.system, a.resource_type_id, a.resource_id, a.display_name, a.login, a.email, a.status, a.sync_id,
       (SELECT count(*) FROM grants g JOIN syncs s ON s.sync_pk = g.sync_pk AND s.is_current
                                   JOIN systems y ON y.system_id = s.system_id
         WHERE y.name = a.system AND g.principal_type = a.resource_type_id
           AND g.principal_id = a.resource_id) AS grants
  FROM accounts a
 WHERE a.match = 'orphan'
""",
    "leaver_access": f"""
SELECT i.identity_id, i.name AS person, i.email AS person_email, i.status AS person_status,
       g.principal_type AS account_type, g.principal_id AS account_id, {_GRANT_COLUMNS}
{_CURRENT_GRANTS}
    JOIN accounts a ON a.system = y.name AND a.resource_type_id = g.principal_type
                   AND a.resource_id = g.principal_id AND a.match = 'linked'
    JOIN identities i ON i.identity_id = a.identity_id AND NOT i.enabled
""",
}


def upgrade() -> None:
    for name, body in VIEWS.items():
        op.execute(f"CREATE VIEW {name} AS {body}")


def downgrade() -> None:
    for name in VIEWS:
        op.execute(f"DROP VIEW {name}")
