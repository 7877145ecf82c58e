"""Session-scoped real servers on 127.0.0.1 (pytest plugin, registered in conftest.py).

Each fixture starts its server once per test session, i.e. once per pytest-xdist
worker that needs it, and stops it at the end (process tree killed, temp dir
removed). The servers are shared by the tests of the session: give each test its
own database / LDAP subtree / SCIM userName so tests do not see each other's data.

With ``--dist loadgroup``, mark the tests using one server with its group so that
they run on one worker and share one server::

    @pytest.mark.xdist_group("postgres")
    def test_sync(postgres_server: PostgresServer) -> None: ...

Groups: ``postgres``, ``mariadb``, ``slapd``, ``scim``, ``fleet`` (Redis).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pybaton.testing.servers import MariaDBServer, PostgresServer, RedisServer, ScimServer, SlapdServer


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """PostgreSQL; TCP logins need ``superuser_password`` (see ``dsn()``), ``psql()`` uses the socket."""
    with PostgresServer() as server:
        yield server


@pytest.fixture(scope="session")
def mariadb_server() -> Iterator[MariaDBServer]:
    """MariaDB; root over the socket (``sql()``), TCP accounts from ``create_user()``."""
    with MariaDBServer() as server:
        yield server


@pytest.fixture(scope="session")
def slapd_server() -> Iterator[SlapdServer]:
    """OpenLDAP with ``dc=example,dc=org`` created; bind as ``bind_dn`` / ``bind_password``."""
    with SlapdServer() as server:
        yield server


@pytest.fixture(scope="session")
def scim_server() -> Iterator[ScimServer]:
    """SCIM 2.0 at ``base_url``, requiring ``Authorization: Bearer <token>``."""
    with ScimServer() as server:
        yield server


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """Redis with an append-only file; ``restart()`` keeps every key (the fleet's broker)."""
    with RedisServer() as server:
        yield server
