"""The warehouse's tables, as SQLAlchemy Core objects: the public contract of ``docs/warehouse.md``.

Every row of a system's sync carries ``sync_pk`` (the warehouse's key of that
sync), so several syncs of one system sit side by side (history), a load adds
one sync's rows before it becomes current, and pruning deletes by that key. The
``data`` columns hold the Baton protobuf message exactly as the ``.c1z`` stored
it, so the warehouse can list a sync the way ``pybaton -f FILE`` does; the
other columns are what SQL users join and filter on.

The migrations under :mod:`pybaton.warehouse.migrations` create these tables;
a change here needs a new migration (a warehouse written by an older version
is upgraded in place when opened).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

# SQLite only autoincrements INTEGER PRIMARY KEY; PostgreSQL gets a bigint identity.
BigKey = BigInteger().with_variant(Integer(), "sqlite")

systems = Table(
    "systems", metadata,
    Column("system_id", Integer, primary_key=True, autoincrement=True),
    Column("name", Text, nullable=False, unique=True),
    Column("identity_provider", Boolean, nullable=False, default=False),
)

syncs = Table(
    "syncs", metadata,
    Column("sync_pk", Integer, primary_key=True, autoincrement=True),
    Column("system_id", Integer, ForeignKey("systems.system_id"), nullable=False),
    Column("sync_id", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("started_at", DateTime, nullable=True),
    Column("ended_at", DateTime, nullable=True),
    Column("source_file", Text, nullable=False),
    Column("is_current", Boolean, nullable=False, default=False),
    Column("loaded_at", DateTime, nullable=False),
    Column("load_seconds", Float, nullable=False, default=0.0),
    Column("resource_types", Integer, nullable=False, default=0),
    Column("resources", Integer, nullable=False, default=0),
    Column("entitlements", Integer, nullable=False, default=0),
    Column("grants", Integer, nullable=False, default=0),
    # False for syncs loaded before grant_expansions existed (revision 0003): their graph is unknown.
    Column("has_expansions", Boolean, nullable=False, default=True),
    UniqueConstraint("system_id", "sync_id", name="uq_syncs_system_sync"),
)

resource_types = Table(
    "resource_types", metadata,
    Column("sync_pk", Integer, nullable=False),
    Column("resource_type_id", Text, nullable=False),
    Column("display_name", Text, nullable=False),
    Column("traits", Text, nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("seq", Integer, nullable=False),
    Index("ix_resource_types_sync", "sync_pk", "resource_type_id", unique=True),
)

resources = Table(
    "resources", metadata,
    Column("resource_pk", BigKey, primary_key=True, autoincrement=True),
    Column("sync_pk", Integer, nullable=False),
    Column("resource_type_id", Text, nullable=False),
    Column("resource_id", Text, nullable=False),
    Column("display_name", Text, nullable=False),
    Column("parent_resource_type_id", Text, nullable=True),
    Column("parent_resource_id", Text, nullable=True),
    Column("data", LargeBinary, nullable=False),
    Index("ix_resources_sync", "sync_pk", "resource_type_id", "resource_id", unique=True),
)

entitlements = Table(
    "entitlements", metadata,
    Column("entitlement_pk", BigKey, primary_key=True, autoincrement=True),
    Column("sync_pk", Integer, nullable=False),
    Column("entitlement_id", Text, nullable=False),
    Column("resource_type_id", Text, nullable=False),
    Column("resource_id", Text, nullable=False),
    Column("slug", Text, nullable=False),
    Column("display_name", Text, nullable=False),
    Column("data", LargeBinary, nullable=False),
    Index("ix_entitlements_sync", "sync_pk", "entitlement_id", unique=True),
)

grants = Table(
    "grants", metadata,
    Column("grant_pk", BigKey, primary_key=True, autoincrement=True),
    Column("sync_pk", Integer, nullable=False),
    Column("grant_id", Text, nullable=False),
    Column("entitlement_id", Text, nullable=False),
    Column("resource_type_id", Text, nullable=False),
    Column("resource_id", Text, nullable=False),
    Column("principal_type", Text, nullable=False),
    Column("principal_id", Text, nullable=False),
    Column("is_direct", Boolean, nullable=False),
    Column("via", Text, nullable=False),
    Column("data", LargeBinary, nullable=False),
    Index("ix_grants_entitlement", "sync_pk", "entitlement_id"),
    Index("ix_grants_principal", "sync_pk", "principal_type", "principal_id"),
)

grant_sources = Table(
    "grant_sources", metadata,
    Column("sync_pk", Integer, nullable=False),
    Column("grant_id", Text, nullable=False),
    Column("source_entitlement_id", Text, nullable=False),
    Index("ix_grant_sources_grant", "sync_pk", "grant_id"),
)

# Which grants pass their entitlement on (Baton's GrantExpandable), so the planner can rebuild the expansion
# graph from the warehouse alone. ``data`` is the serialized GrantExpandable as the file held it (NULL when
# the file's annotation could not be read); rows are in the order the sync's expansion read them.
grant_expansions = Table(
    "grant_expansions", metadata,
    Column("expansion_pk", BigKey, primary_key=True, autoincrement=True),
    Column("sync_pk", Integer, nullable=False),
    Column("grant_id", Text, nullable=False),
    Column("entitlement_id", Text, nullable=False),
    Column("principal_type", Text, nullable=False),
    Column("principal_id", Text, nullable=False),
    Column("data", LargeBinary, nullable=True),
    Index("ix_grant_expansions_sync", "sync_pk", "grant_id"),
)

identities = Table(
    "identities", metadata,
    Column("identity_id", Text, primary_key=True),
    Column("source_system", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("display_name", Text, nullable=False),
    Column("email", Text, nullable=False),
    Column("login", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("enabled", Boolean, nullable=False),
)

accounts = Table(
    "accounts", metadata,
    Column("system", Text, primary_key=True),
    Column("resource_type_id", Text, primary_key=True),
    Column("resource_id", Text, primary_key=True),
    Column("sync_id", Text, nullable=False),
    Column("identity_id", Text, nullable=True),
    Column("match", Text, nullable=False),
    Column("rule", Text, nullable=False),
    Column("value", Text, nullable=False),
    Column("display_name", Text, nullable=False),
    Column("login", Text, nullable=False),
    Column("email", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Index("ix_accounts_identity", "identity_id"),
)

findings = Table(
    "findings", metadata,
    Column("finding_pk", Integer, primary_key=True, autoincrement=True),
    Column("planned_at", DateTime, nullable=False),
    Column("kind", Text, nullable=False),
    Column("system", Text, nullable=False),
    Column("subject", Text, nullable=False),
    Column("message", Text, nullable=False),
    Column("rules", Text, nullable=False),
)

# What belongs to one sync (deleted together when it is pruned or a load is undone).
SYNC_TABLES = (grant_expansions, grant_sources, grants, entitlements, resources, resource_types)
