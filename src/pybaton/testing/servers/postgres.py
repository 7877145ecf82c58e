"""PostgreSQL: ``initdb`` + ``pg_ctl start`` (as the ``postgres`` OS user when we are root)."""

from __future__ import annotations

import os
import re
import shlex
import signal
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pybaton.testing.servers.managed import (
    _CHECK_TIMEOUT,
    ManagedServer,
    ServerError,
    _clean_env,
    _cmdline,
    _pg_ident,
    _pg_literal,
    _run,
    ensure_debian_packages,
)


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", name))


def postgres_bin_dir() -> Path | None:
    """The newest /usr/lib/postgresql/<version>/bin holding initdb, if any."""
    root = Path("/usr/lib/postgresql")
    if not root.is_dir():
        return None
    candidates = [d / "bin" for d in root.iterdir() if (d / "bin" / "initdb").exists()]
    if not candidates:
        return None
    return max(candidates, key=lambda p: _version_key(p.parent.name))


class PostgresServer(ManagedServer):
    """PostgreSQL (newest version under /usr/lib/postgresql) on 127.0.0.1.

    ``initdb --auth=trust -E UTF8 --locale=C.UTF-8`` then ``pg_ctl -w start``,
    both as the ``postgres`` OS user when we are root. Connections over the
    unix socket in :attr:`socket_dir` are trusted (used by :meth:`psql`); TCP
    connections from 127.0.0.1 need a password (``scram-sha-256`` by
    default): :attr:`superuser` has :attr:`superuser_password`. Durability is
    off (``fsync=off``...) unless ``durable=True``.
    """

    name = "postgres"
    stop_signal = signal.SIGINT  # "fast" shutdown, as pg_ctl stop -m fast

    def __init__(
        self,
        *,
        superuser: str = "postgres",
        superuser_password: str = "postgres-test-password",
        tcp_auth: str = "scram-sha-256",
        durable: bool = False,
        settings: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.superuser = superuser
        self.superuser_password = superuser_password
        self.tcp_auth = tcp_auth
        self.durable = durable
        self.settings = dict(settings or {})
        self._bin: Path | None = None

    @property
    def bin_dir(self) -> Path:
        if self._bin is None:
            self._bin = postgres_bin_dir()
            if self._bin is None:
                raise ServerError("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb)")
        return self._bin

    @property
    def data_dir(self) -> Path:
        return self.directory / "data"

    @property
    def socket_dir(self) -> Path:
        """Directory of the unix socket (trust authentication)."""
        return self.directory

    def dsn(self, dbname: str = "postgres", user: str | None = None, password: str | None = None) -> str:
        """A libpq URI for a TCP connection to 127.0.0.1:port.

        ``user`` defaults to the superuser; ``password`` defaults to
        :attr:`superuser_password` for the superuser and to none otherwise.
        """
        user = self.superuser if user is None else user
        if password is None and user == self.superuser:
            password = self.superuser_password
        auth = urllib.parse.quote(user, safe="")
        if password is not None:
            auth += ":" + urllib.parse.quote(password, safe="")
        return f"postgresql://{auth}@{self.host}:{self.port}/{urllib.parse.quote(dbname, safe='')}"

    def psql(self, sql: str, db: str = "postgres", *, user: str | None = None, timeout: float = 120.0) -> str:
        """Run SQL with psql over the unix socket (trust); return its unaligned, tuples-only output.

        Stops at the first error and raises :class:`ServerCommandError`.
        """
        cmd = [
            str(self.bin_dir / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
            "-h", str(self.socket_dir), "-p", str(self.port), "-U", user or self.superuser, "-d", db, "-f", "-",
        ]
        return _run(cmd, input=sql, env=self._client_env(), timeout=timeout).stdout

    def create_database(self, name: str, owner: str | None = None) -> None:
        sql = f"CREATE DATABASE {_pg_ident(name)}"
        if owner is not None:
            sql += f" OWNER {_pg_ident(owner)}"
        self.psql(sql + ";")

    # ---- hooks

    def _ensure_installed(self) -> None:
        ensure_debian_packages(lambda: postgres_bin_dir() is not None, ["postgresql", "postgresql-contrib"])
        self._bin = None

    def _os_user(self) -> str | None:
        return "postgres" if os.geteuid() == 0 else None

    def _dir_owner(self) -> str | None:
        return self._os_user()

    def _client_env(self) -> dict[str, str]:
        return _clean_env(("PG",), PGPASSFILE=os.devnull, PGCONNECT_TIMEOUT="5")

    def _log_files(self) -> list[Path]:
        return [self.directory / "postgres.log"] if self._dir is not None else []

    def _prepare(self) -> None:
        env = _clean_env(("PG", "LC_", "LANG"), HOME=str(self.directory), LANG="C.UTF-8")
        _run(
            [
                str(self.bin_dir / "initdb"), "-D", str(self.data_dir), "-U", self.superuser,
                "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-instructions",
                *([] if self.durable else ["--no-sync"]),
            ],
            env=env,
            cwd=self.directory,
            user=self._os_user(),
            timeout=300,
        )
        (self.data_dir / "pg_hba.conf").write_text(
            "# pybaton test server: socket trusted for setup, TCP needs a password\n"
            "local  all  all                 trust\n"
            f"host   all  all  {self.host}/32  {self.tcp_auth}\n"
        )
        settings = {} if self.durable else {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
        settings.update(self.settings)
        with open(self.data_dir / "postgresql.conf", "a") as conf:
            conf.write("\n# pybaton test server\n")
            for key, value in settings.items():
                conf.write(f"{key} = {_pg_literal(value)}\n")

    def _launch(self) -> None:
        options = f"-p {self.port} -c listen_addresses={self.host} -k {shlex.quote(str(self.socket_dir))}"
        _run(
            [
                str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-l", str(self.directory / "postgres.log"),
                "-o", options, "-w", "-t", str(int(self.startup_timeout)), "start",
            ],
            env=_clean_env(("PG",), HOME=str(self.directory)),
            cwd=self.directory,
            user=self._os_user(),
            timeout=self.startup_timeout + 30,
        )
        self._pid = self._find_pid()

    def _find_pid(self) -> int | None:
        """The postmaster pid (pg_ctl daemonises it in its own session)."""
        pid_file = self.data_dir / "postmaster.pid"
        if not pid_file.exists():
            return None
        pid = int(pid_file.read_text().split("\n", 1)[0])
        # A crashed postmaster leaves its pid file: never signal a process that reused the pid.
        return pid if str(self.data_dir) in _cmdline(pid) else None

    def _is_ready(self) -> bool:
        return self.psql("SELECT 1;", timeout=_CHECK_TIMEOUT).strip() == "1"

    def _after_ready(self) -> None:
        self.psql(
            f"SET password_encryption = {_pg_literal('md5' if self.tcp_auth == 'md5' else 'scram-sha-256')};\n"
            f"ALTER ROLE {_pg_ident(self.superuser)} PASSWORD {_pg_literal(self.superuser_password)};"
        )


