"""Real servers for the test suite and the benchmarks, started on 127.0.0.1.

Each class starts one throw-away server of its kind, on a free port of
127.0.0.1 and in a temporary directory of its own, and ``stop()`` kills its
whole process tree and removes that directory::

    with PostgresServer() as pg:
        pg.psql("create table t (x int); insert into t values (1)")
        dsn = pg.dsn()  # TCP, password authentication

* :class:`PostgresServer`: ``initdb`` + ``pg_ctl start`` (run as the ``postgres``
  OS user when we are root).
* :class:`MariaDBServer`: ``mariadb-install-db`` + ``mariadbd``.
* :class:`SlapdServer`: OpenLDAP ``slapd`` with an mdb database (optionally LDAPS
  and StartTLS with a self-signed certificate).
* :class:`RedisServer`: ``redis-server`` with an append-only file (a restart keeps everything).
* :class:`ScimServer`: the ``scim2-server`` SCIM 2.0 HTTP server (PyPI package)
  with a static bearer token.

Setup and the helpers go through the servers' own client programs (``psql``,
``mariadb``, ``ldapadd``...) or, for SCIM, :mod:`urllib`: this module needs the
standard library only. Missing Debian packages are installed on first use when
we are root (:func:`ensure_debian_packages`). The servers never use the system
services of those packages: own ports, data directories, sockets and config
files only (``--no-defaults`` for MariaDB, ``-f`` for slapd).

The classes are not thread-safe; one instance is started and stopped by one
thread. Servers still running when the interpreter exits are stopped by an
:mod:`atexit` hook.
"""

from pybaton.testing.servers.managed import (
    LOCALHOST,
    ManagedServer,
    ServerCommandError,
    ServerError,
    ServerStartError,
    ensure_debian_packages,
    find_binary,
    free_port,
    pid_alive,
)
from pybaton.testing.servers.mariadb import MariaDBServer
from pybaton.testing.servers.postgres import PostgresServer, postgres_bin_dir
from pybaton.testing.servers.redis import RedisServer
from pybaton.testing.servers.scim import ScimServer
from pybaton.testing.servers.slapd import SlapdServer

__all__ = [
    "LOCALHOST",
    "ManagedServer",
    "MariaDBServer",
    "PostgresServer",
    "RedisServer",
    "ScimServer",
    "ServerCommandError",
    "ServerError",
    "ServerStartError",
    "SlapdServer",
    "ensure_debian_packages",
    "find_binary",
    "free_port",
    "pid_alive",
    "postgres_bin_dir",
]
