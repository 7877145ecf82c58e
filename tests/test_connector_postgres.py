"""The PostgreSQL connector against a real PostgreSQL server (started by the ``postgres_server`` fixture).

The cluster is loaded with ``fixtures/postgres.setup.sql``, the data Go's
baton-postgresql synced into ``fixtures/postgres.c1z``; the first tests check
that we find what it found (modelled our way: names instead of OIDs, see
docs/connectors/postgres.md), the rest exercise every provisioning operation
end to end, twice (idempotency), checking the server itself after each write.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import pytest
from realsys import Synced, assert_clean_failure, go_listing, run_command, sync_and_read

from pybaton import model
from pybaton.connector import AccountInfo, CreateAccountStatus, CredentialOptions
from pybaton.connectors.postgres import PostgresConfig, PostgresConnector
from pybaton.connectors.postgres.names import qualify, split_parts
from pybaton.errors import AuthenticationError, ConfigError, ProvisioningError, UnreachableError
from pybaton.pb.c1.connector.v2 import annotation_trait_pb2
from pybaton.testing import ConformanceOptions, assert_conformant
from pybaton.testing.servers import PostgresServer, free_port

pytestmark = [pytest.mark.servers, pytest.mark.xdist_group("postgres")]

SETUP = Path(__file__).parent / "fixtures" / "postgres.setup.sql"
EVIL = "robert'); drop table users; --"
FIXTURE_USERS = {"admin_su", "dba_lead", "alice", "bob", "carol", "dave", "erin", "frank", "postgres"}
FIXTURE_GROUPS = {"readers", "writers", "app_admins"}


@pytest.fixture(scope="module")
def pg(postgres_server: PostgresServer) -> PostgresServer:
    """The shared server, loaded once with the fixture data (without its change of the superuser's
    password, which other tests of the session rely on)."""
    if postgres_server.psql("SELECT 1 FROM pg_database WHERE datname = 'appdb'").strip() != "1":
        setup = re.sub(r"(?m)^ALTER ROLE postgres PASSWORD .*$", "", SETUP.read_text())
        postgres_server.psql(setup)
    return postgres_server


def connector(pg: PostgresServer, **config: Any) -> PostgresConnector:
    return PostgresConnector(PostgresConfig(dsn=pg.dsn(), **config))


def sql(pg: PostgresServer, statement: str, db: str = "postgres") -> str:
    return pg.psql(statement, db).strip()


@pytest.fixture(scope="module")
def synced(pg: PostgresServer, tmp_path_factory: pytest.TempPathFactory) -> Synced:
    """A full sync, expansion included (expanded grants count as found)."""
    return sync_and_read(connector(pg), tmp_path_factory.mktemp("pg") / "pg.c1z")


@pytest.fixture(scope="module")
def direct(pg: PostgresServer, tmp_path_factory: pytest.TempPathFactory) -> Synced:
    """The grants as the connector emits them, before expansion consumes their GrantExpandable."""
    return sync_and_read(connector(pg), tmp_path_factory.mktemp("pg") / "direct.c1z", expand=False)


# -- what Go found, we find ------------------------------------------------------------------------

_GO_ATTRIBUTES = {"superuser": "superuser", "create-db": "createdb", "create-role": "createrole",
                  "bypass-rls": "bypassrls", "replication": "replication"}


def _go_names() -> dict[str, tuple[str, str]]:
    """Go's OID-based resource ids → our ``(type, id)`` (functions: id prefix up to the "(")."""
    rows = [r["resource"] for r in go_listing("postgres", "resources")]
    names: dict[str, tuple[str, str]] = {}
    for r in rows:
        rtype, display = r["id"]["resourceType"], r["displayName"]
        if rtype in ("role", "database"):
            names[r["id"]["resource"]] = (rtype, display)
        elif rtype == "schema":
            db, schema = display.split(" - ")
            names[r["id"]["resource"]] = ("schema", qualify(db, schema))
    for r in rows:
        rtype, display = r["id"]["resourceType"], r["displayName"]
        if rtype in ("table", "view", "sequence"):
            names[r["id"]["resource"]] = (rtype, names[r["parentResourceId"]["resource"]][1] + "." + qualify(display))
        elif rtype in ("function", "procedure"):
            parent = names[r["parentResourceId"]["resource"]][1]
            names[r["id"]["resource"]] = ("function", f"{parent}.{display.split('(')[0]}(")
    return names


def _go_grants() -> set[tuple[str, str]]:
    """Go's grants as ``(our entitlement id, principal role name)``."""
    names = _go_names()
    out = set()
    for row in go_listing("postgres", "grants"):
        g = row["grant"]
        rid = g["entitlement"]["resource"]["id"]["resource"]
        slug = g["entitlement"]["id"].removeprefix(f"entitlement:{rid}:")
        who = names[g["principal"]["id"]["resource"]][1]
        rtype, ours = names[rid]
        if rtype == "database" and slug in _GO_ATTRIBUTES:
            out.add((f"cluster:cluster:{_GO_ATTRIBUTES[slug]}", who))
            continue
        slug = slug.removesuffix(":grant") + ("-with-grant-option" if slug.endswith(":grant") else "")
        kind = rtype
        if rtype == "role":
            kind = "user" if ours in FIXTURE_USERS else "role"
        out.add((f"{kind}:{ours}:{slug}", who))
    return out


def test_same_roles_databases_and_objects_as_go(synced: Synced) -> None:
    names = _go_names()
    roles = {n for t, n in names.values() if t == "role"}
    assert roles <= synced.ids("user") | synced.ids("role")
    assert synced.ids("user") >= FIXTURE_USERS
    assert synced.ids("role") >= FIXTURE_GROUPS
    assert not (synced.ids("user") & synced.ids("role"))
    for rtype in ("database", "schema", "table", "view", "sequence"):
        assert {n for t, n in names.values() if t == rtype} <= synced.ids(rtype), rtype
    functions = {n for t, n in names.values() if t == "function"}
    assert all(any(f.startswith(prefix) for f in synced.ids("function")) for prefix in functions)


def test_every_go_grant_is_found_except_implicit_superuser_power(synced: Synced) -> None:
    """Go's grants ⊆ ours (after expansion), except where Go is wrong or spells superuser power out.

    Go gives superusers every privilege explicitly (we grant them ``cluster:superuser``
    once) and ignores ``REVOKE EXECUTE ... FROM PUBLIC`` on the function and
    procedure (we do not: nobody but the granted roles can execute them).
    """
    superusers = {"admin_su", "postgres"}
    ours = synced.pairs()
    missing = set()
    for ent, who in _go_grants():
        if ent.startswith("function:"):
            continue  # checked below, with the correct semantics
        if who in superusers and not ent.startswith(("cluster:", "user:", "role:")):
            continue
        if (ent, who) not in ours:
            missing.add((ent, who))
    assert not missing, sorted(missing)[:20]
    executors = {who for ent, who in ours if ent.startswith("function:appdb.sales.record_payment(")
                 and ent.endswith(":execute")}
    assert {"app_admins", "erin", "dba_lead"} <= executors  # app_admins and its members
    assert not executors & {"alice", "bob", "readers"}


def test_models_public_membership_and_nesting(synced: Synced, direct: Synced) -> None:
    assert ("role", "public") in synced.resources
    assert ("role", "public") in synced.holders("database:analytics:temporary")
    assert ("role", "public") not in synced.holders("database:analytics:connect")
    assert ("user", "alice") in synced.holders("role:public:member")
    # nested roles: readers ← writers ← app_admins, expandable to the members of each
    assert direct.expandable("role:readers:member:role:writers") == ["role:writers:member"]
    assert direct.expandable("table:appdb.public.customers:select:role:readers") == ["role:readers:member"]
    assert direct.expandable("database:appdb:temporary:role:public") == ["role:public:member"]
    assert not direct.expandable("role:readers:member:user:alice")  # alice has no members
    assert ("user", "erin") not in direct.holders("table:appdb.public.customers:select")
    assert ("user", "erin") in synced.holders("table:appdb.public.customers:select")  # via expansion
    assert ("user", "erin") in synced.holders("role:app_admins:admin")
    assert ("user", "erin") in synced.holders("role:app_admins:member")  # Go misses this one
    assert ("user", "dave") in synced.holders("role:pg_read_all_stats:member")


def test_attributes_owner_and_grant_option(synced: Synced) -> None:
    assert synced.holders("cluster:cluster:superuser") >= {("user", "admin_su"), ("user", "postgres")}
    assert ("user", "dba_lead") in synced.holders("cluster:cluster:createdb")
    assert ("user", "erin") in synced.holders("cluster:cluster:createrole")
    assert ("user", "dba_lead") in synced.holders("table:appdb.sales.invoices:owner")
    assert ("user", "carol") in synced.holders("table:appdb.sales.invoices:select-with-grant-option")
    assert ("user", "bob") not in synced.holders("table:appdb.sales.invoices:select-with-grant-option")
    assert synced.resources[("table", "appdb.sales.invoices")].parent_resource_id.resource == "appdb.sales"
    assert synced.resources[("schema", "appdb.sales")].parent_resource_id.resource == "appdb"


def test_login_roles_are_users_and_expired_passwords_disable(pg: PostgresServer, tmp_path: Path) -> None:
    name = f"expired_{uuid.uuid4().hex[:6]}"
    sql(pg, f"CREATE ROLE {name} LOGIN VALID UNTIL '2001-01-01'")
    try:
        got = sync_and_read(connector(pg, databases=["postgres"]), tmp_path / "x.c1z", expand=False)
    finally:
        sql(pg, f"DROP ROLE {name}")
    trait = model.annotations.find(got.resources[("user", name)].annotations, annotation_trait_pb2.UserTrait)
    assert trait is not None and trait.login == name
    assert trait.status.status == annotation_trait_pb2.UserTrait.Status.STATUS_DISABLED


def test_default_privileges(pg: PostgresServer, tmp_path: Path) -> None:
    sql(pg, "ALTER DEFAULT PRIVILEGES FOR ROLE dba_lead IN SCHEMA sales GRANT SELECT ON TABLES TO readers", "appdb")
    sql(pg, "ALTER DEFAULT PRIVILEGES FOR ROLE dba_lead REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC", "appdb")
    try:
        got = sync_and_read(connector(pg, databases=["appdb"]), tmp_path / "d.c1z", expand=False)
    finally:
        sql(pg, "ALTER DEFAULT PRIVILEGES FOR ROLE dba_lead IN SCHEMA sales REVOKE SELECT ON TABLES FROM readers",
            "appdb")
        sql(pg, "ALTER DEFAULT PRIVILEGES FOR ROLE dba_lead GRANT EXECUTE ON FUNCTIONS TO PUBLIC", "appdb")
    in_schema, database_wide = "appdb.sales/tables/dba_lead", "appdb/functions/dba_lead"
    assert got.resources[("default_privilege", in_schema)].parent_resource_id.resource == "appdb.sales"
    assert got.resources[("default_privilege", database_wide)].parent_resource_id.resource == "appdb"
    assert got.holders(f"default_privilege:{in_schema}:select") == {("role", "readers")}
    assert ("role", "public") not in got.holders(f"default_privilege:{database_wide}:execute")
    assert ("user", "dba_lead") in got.holders(f"default_privilege:{database_wide}:execute")


def test_selecting_databases_and_schemas(pg: PostgresServer, tmp_path: Path) -> None:
    got = sync_and_read(connector(pg, databases=["appdb"], schemas=["sales"]), tmp_path / "s.c1z")
    assert got.ids("database") == {"appdb"}
    assert got.ids("schema") == {"appdb.sales"}
    assert got.ids("table") == {"appdb.sales.invoices", "appdb.sales.payments"}
    no_public = sync_and_read(connector(pg, databases=["appdb"], expand_public=False), tmp_path / "p.c1z")
    assert not no_public.holders("role:public:member")


def test_least_privilege_login_skips_databases_it_cannot_enter(pg: PostgresServer, tmp_path: Path,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    """frank (NOINHERIT) may not connect to analytics: it is synced as a database, without contents."""
    caplog.set_level(logging.INFO)  # other tests may have configured the root logger higher
    as_frank = PostgresConnector(PostgresConfig(dsn=pg.dsn(user="frank", password="frank-pw")))
    got = sync_and_read(as_frank, tmp_path / "f.c1z", expand=False)
    assert {"appdb", "analytics"} <= got.ids("database")
    assert "appdb.sales" in got.ids("schema") and "analytics.public" not in got.ids("schema")
    assert ("role", "readers") in got.holders("database:analytics:connect")
    assert any("database analytics" in r.getMessage() for r in caplog.records)


def test_ids_round_trip_through_quoting() -> None:
    assert qualify("appdb", "Sales Q1", 'we"ird.name') == 'appdb."Sales Q1"."we""ird.name"'
    assert split_parts('appdb."Sales Q1"."we""ird.name"') == ["appdb", "Sales Q1", 'we"ird.name']
    assert split_parts("appdb.sales/tables/dba_lead") == ["appdb", "sales", "tables", "dba_lead"]
    assert split_parts("appdb.public.f(integer, text)") == ["appdb", "public", "f"]
    with pytest.raises(ProvisioningError):
        split_parts("appdb..x")


def test_conformance(pg: PostgresServer, tmp_path: Path) -> None:
    assert_conformant(lambda: connector(pg, databases=["appdb"]), tmp_path=tmp_path,
                      options=ConformanceOptions(page_size=7, interruptions=2, kills=1))


# -- provisioning, end to end ----------------------------------------------------------------------

def _principal(kind: str, name: str) -> Any:
    return model.resource(model.resource_type(kind, kind.title()), name, name)


def _ent(rtype: str, rid: str, slug: str) -> Any:
    return model.entitlement_ref(model.resource_id(rtype, rid), slug)


@pytest.fixture
def scratch_user(pg: PostgresServer) -> Iterator[str]:
    name = f"pgt_{uuid.uuid4().hex[:8]}"
    sql(pg, f'CREATE ROLE "{name}" LOGIN')
    yield name
    sql(pg, f'DROP OWNED BY "{name}"', "appdb")
    sql(pg, f'DROP ROLE IF EXISTS "{name}"')


def _grant_twice(syncer: Any, principal: Any, ent: Any) -> None:
    first, second = syncer.grant(principal, ent), syncer.grant(principal, ent)
    assert not first.already_exists and second.already_exists
    assert first.grants[0].id == f"{ent.id}:{principal.id.resource_type}:{principal.id.resource}"


def _revoke_twice(syncer: Any, principal: Any, ent: Any) -> None:
    grant = model.grant(ent, principal.id)
    first, second = syncer.revoke(grant), syncer.revoke(grant)
    assert not first.already_revoked and second.already_revoked


def test_membership_grant_and_revoke(pg: PostgresServer, scratch_user: str) -> None:
    c = connector(pg)
    roles, who = c.syncer_for("role"), _principal("user", scratch_user)
    check = f"SELECT pg_has_role('{scratch_user}', 'readers', 'MEMBER'), pg_has_role('{scratch_user}', 'readers', 'USAGE WITH ADMIN OPTION')"
    _grant_twice(roles, who, _ent("role", "readers", "admin"))
    assert sql(pg, check) == "t|t"
    _revoke_twice(roles, who, _ent("role", "readers", "admin"))
    assert sql(pg, check) == "t|f"  # admin option gone, membership kept
    _revoke_twice(roles, who, _ent("role", "readers", "member"))
    assert sql(pg, check) == "f|f"
    with pytest.raises(ProvisioningError, match="PUBLIC"):
        roles.grant(who, _ent("role", "public", "member"))
    c.close()


def test_privilege_grant_and_revoke_on_every_kind(pg: PostgresServer, scratch_user: str) -> None:
    c = connector(pg)
    who = _principal("user", scratch_user)
    cases = [
        ("table", "appdb.public.orders", "select", "has_table_privilege('{u}', 'public.orders', 'SELECT')"),
        ("table", "appdb.sales.invoices", "update-with-grant-option",
         "has_table_privilege('{u}', 'sales.invoices', 'UPDATE WITH GRANT OPTION')"),
        ("view", "appdb.public.order_summary", "select", "has_table_privilege('{u}', 'public.order_summary', 'SELECT')"),
        ("sequence", "appdb.public.orders_id_seq", "usage",
         "has_sequence_privilege('{u}', 'public.orders_id_seq', 'USAGE')"),
        ("schema", "appdb.sales", "usage", "has_schema_privilege('{u}', 'sales', 'USAGE')"),
        ("database", "analytics", "connect", "has_database_privilege('{u}', 'analytics', 'CONNECT')"),
        ("function", "appdb.public.order_total(integer)", "execute",
         "has_function_privilege('{u}', 'public.order_total(integer)', 'EXECUTE')"),
    ]
    for rtype, rid, slug, check in cases:
        query = "SELECT " + check.format(u=scratch_user)
        ent = _ent(rtype, rid, slug)
        assert sql(pg, query, "appdb") == "f", rid
        _grant_twice(c.syncer_for(rtype), who, ent)
        assert sql(pg, query, "appdb") == "t", rid
        _revoke_twice(c.syncer_for(rtype), who, ent)
        assert sql(pg, query, "appdb") == "f", rid
    c.close()


def test_grant_option_is_revoked_on_its_own(pg: PostgresServer, scratch_user: str) -> None:
    c = connector(pg)
    tables, who = c.syncer_for("table"), _principal("user", scratch_user)
    with_option = _ent("table", "appdb.public.products", "select-with-grant-option")
    tables.grant(who, with_option)
    _revoke_twice(tables, who, with_option)
    assert sql(pg, f"SELECT has_table_privilege('{scratch_user}', 'public.products', 'SELECT'), "
                   f"has_table_privilege('{scratch_user}', 'public.products', 'SELECT WITH GRANT OPTION')",
               "appdb") == "t|f"
    c.close()


def test_public_and_default_privilege_grants(pg: PostgresServer, scratch_user: str) -> None:
    c = connector(pg)
    public = _principal("role", "public")
    ent = _ent("database", "analytics", "connect")
    query = f"SELECT has_database_privilege('{scratch_user}', 'analytics', 'CONNECT')"
    _grant_twice(c.syncer_for("database"), public, ent)
    assert sql(pg, query) == "t"
    _revoke_twice(c.syncer_for("database"), public, ent)
    assert sql(pg, query) == "f"
    sql(pg, "ALTER DEFAULT PRIVILEGES FOR ROLE dba_lead IN SCHEMA sales GRANT SELECT ON TABLES TO readers", "appdb")
    try:
        defaults = c.syncer_for("default_privilege")
        ent = _ent("default_privilege", "appdb.sales/tables/dba_lead", "insert")
        _grant_twice(defaults, _principal("role", "writers"), ent)
        acl = sql(pg, "SELECT defaclacl::text FROM pg_default_acl WHERE defaclrole = 'dba_lead'::regrole "
                      "AND defaclobjtype = 'r'", "appdb")
        assert "writers=a/dba_lead" in acl
        _revoke_twice(defaults, _principal("role", "writers"), ent)
    finally:
        sql(pg, "ALTER DEFAULT PRIVILEGES FOR ROLE dba_lead IN SCHEMA sales REVOKE ALL ON TABLES FROM readers, "
                "writers", "appdb")
    c.close()


def test_role_attributes_and_ownership(pg: PostgresServer, scratch_user: str) -> None:
    c = connector(pg)
    cluster, who = c.syncer_for("cluster"), _principal("user", scratch_user)
    ent = _ent("cluster", "cluster", "createdb")
    _grant_twice(cluster, who, ent)
    assert sql(pg, f"SELECT rolcreatedb FROM pg_roles WHERE rolname = '{scratch_user}'") == "t"
    _revoke_twice(cluster, who, ent)
    assert sql(pg, f"SELECT rolcreatedb FROM pg_roles WHERE rolname = '{scratch_user}'") == "f"
    sql(pg, "CREATE TABLE IF NOT EXISTS public.scratch_owned (x int)", "appdb")
    owner = _ent("table", "appdb.public.scratch_owned", "owner")
    _grant_twice(c.syncer_for("table"), who, owner)
    assert sql(pg, "SELECT tableowner FROM pg_tables WHERE tablename = 'scratch_owned'", "appdb") == scratch_user
    with pytest.raises(ProvisioningError, match="every object has an owner"):
        c.syncer_for("table").revoke(model.grant(owner, who.id))
    sql(pg, "DROP TABLE public.scratch_owned", "appdb")
    c.close()


def _login(pg: PostgresServer, role: str, password: str) -> str:
    dsn = f"postgresql://{quote(role, safe='')}:{quote(password, safe='')}@{pg.host}:{pg.port}/postgres"
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT current_user").fetchone()
    return str(row[0]) if row else ""


def test_accounts_with_a_hostile_name(pg: PostgresServer) -> None:
    """Create, log in, grant, rotate, refuse to drop while owning, reassign and drop ``robert'); …``."""
    sql(pg, "CREATE TABLE IF NOT EXISTS public.users (id int)", "appdb")
    c = connector(pg)
    users = c.syncer_for("user")
    created = users.create_account(AccountInfo(login=EVIL), CredentialOptions())
    assert created.status == CreateAccountStatus.SUCCESS and created.resource is not None
    assert created.resource.id.resource == EVIL
    password = created.credentials[0].value
    assert _login(pg, EVIL, password) == EVIL
    again = users.create_account(AccountInfo(login=EVIL), CredentialOptions())
    assert again.status == CreateAccountStatus.ALREADY_EXISTS and not again.credentials
    assert _login(pg, EVIL, password) == EVIL  # the second call changed nothing

    who = _principal("user", EVIL)
    _grant_twice(c.syncer_for("role"), who, _ent("role", "readers", "member"))
    rotated = users.rotate_credentials(who.id, CredentialOptions(length=24))[0].value
    assert rotated != password and _login(pg, EVIL, rotated) == EVIL
    with pytest.raises(psycopg.OperationalError):
        _login(pg, EVIL, password)
    seen = sql(pg, "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
                   "AND strpos(query, '" + rotated + "') > 0")
    assert seen == "0"  # only a SCRAM verifier travels in SQL text, never the password:
    assert sql(pg, "SELECT rolpassword LIKE 'SCRAM-SHA-256$%' FROM pg_authid WHERE rolname = "
                   + "'" + EVIL.replace("'", "''") + "'") == "t"

    c.syncer_for("table").grant(who, _ent("table", "appdb.public.users", "owner"))
    with pytest.raises(ProvisioningError, match="owns 1 object"):
        users.delete_resource(who.id)
    c.close()
    c = connector(pg, reassign_owned_to="dba_lead")
    assert not c.syncer_for("user").delete_resource(who.id).already_deleted
    assert c.syncer_for("user").delete_resource(who.id).already_deleted
    assert sql(pg, "SELECT tableowner FROM pg_tables WHERE tablename = 'users'", "appdb") == "dba_lead"
    assert sql(pg, f"SELECT count(*) FROM pg_roles WHERE rolname = '{EVIL.replace(chr(39), chr(39) * 2)}'") == "0"
    sql(pg, "DROP TABLE public.users", "appdb")
    c.close()


def test_refusals(pg: PostgresServer) -> None:
    c = connector(pg)
    users = c.syncer_for("user")
    with pytest.raises(ProvisioningError, match="built into PostgreSQL"):
        users.delete_resource(model.resource_id("user", "postgres"))
    as_admin = PostgresConnector(PostgresConfig(dsn=pg.dsn(user="admin_su", password="admin_su-pw")))
    with pytest.raises(ProvisioningError, match="connected as"):
        as_admin.syncer_for("user").delete_resource(model.resource_id("user", "admin_su"))
    as_admin.close()
    with pytest.raises(ProvisioningError, match="reserved"):
        users.create_account(AccountInfo(login="pg_nope"), CredentialOptions())
    with pytest.raises(ProvisioningError, match="NOLOGIN"):
        users.rotate_credentials(model.resource_id("user", "readers"), CredentialOptions())
    with pytest.raises(ProvisioningError, match="no privilege"):
        c.syncer_for("table").grant(_principal("user", "alice"), _ent("table", "appdb.public.orders", "execute"))
    with pytest.raises(ProvisioningError, match="no table"):
        c.syncer_for("table").grant(_principal("user", "alice"), _ent("table", "appdb.public.nope", "select"))
    c.close()


def test_cli_dry_run_then_grant(pg: PostgresServer, scratch_user: str, tmp_path: Path) -> None:
    out = tmp_path / "cli.c1z"
    base = ["--dsn", pg.dsn(), "--databases", "appdb", "-f", str(out), "--log-level", "error"]
    code, err = run_command(PostgresConnector, base)
    assert code == 0, err
    ent, principal = "table:appdb.public.orders:select", f"user:{scratch_user}"
    grant = ["-p", "--grant-entitlement", ent, "--grant-principal", principal, "--audit-log", str(tmp_path / "a")]
    code, err = run_command(PostgresConnector, [*base, *grant, "--dry-run"])
    assert code == 0, err
    query = f"SELECT has_table_privilege('{scratch_user}', 'public.orders', 'SELECT')"
    assert sql(pg, query, "appdb") == "f"
    code, err = run_command(PostgresConnector, [*base, *grant])
    assert code == 0, err
    assert sql(pg, query, "appdb") == "t"


# -- failures --------------------------------------------------------------------------------------

def test_connection_failures_are_one_line(pg: PostgresServer, tmp_path: Path) -> None:
    wrong = pg.dsn(password="not-the-password-xyzzy")
    line = assert_clean_failure(PostgresConnector, ["--dsn", wrong], tmp_path / "a.c1z",
                                f"{pg.host}:{pg.port}", "not-the-password-xyzzy")
    assert "authentication failed" in line
    down = f"postgresql://postgres:hunter2-secret@127.0.0.1:{_closed_port()}/postgres"
    line = assert_clean_failure(PostgresConnector, ["--dsn", down, "--connect-timeout", "2"],
                                tmp_path / "b.c1z", "127.0.0.1:", "hunter2-secret")
    assert "unreachable" in line
    line = assert_clean_failure(PostgresConnector, ["--dsn", pg.dsn(), "--sslmode", "require"],
                                tmp_path / "c.c1z", f"{pg.host}:{pg.port}", pg.superuser_password)
    assert "TLS" in line


def test_connection_failures_raise_typed_errors(pg: PostgresServer) -> None:
    with pytest.raises(AuthenticationError):
        PostgresConnector(PostgresConfig(dsn=pg.dsn(password="wrong"))).validate()
    with pytest.raises(UnreachableError):
        PostgresConnector(PostgresConfig(dsn=f"postgresql://x@127.0.0.1:{_closed_port()}/postgres")).validate()
    with pytest.raises(ConfigError):
        connector(pg, databases=["no_such_db"]).validate()


def _closed_port() -> int:
    return free_port()
