"""MariaDB: ``mariadb-install-db`` + ``mariadbd`` with its own socket, port and data directory."""

from __future__ import annotations

import os
import pwd
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pybaton.testing.servers.managed import (
    _CHECK_TIMEOUT,
    ManagedServer,
    ServerCommandError,
    _clean_env,
    _quote_ident,
    _require_binary,
    _run,
    _sql_literal,
    ensure_debian_packages,
)

# Test speed and container friendliness: no native AIO (io_setup limits), small buffers,
# no buffer pool dump at shutdown (it made mariadb-install-db take 0.5-4 s at random).
_INNODB_OPTIONS = (
    "--innodb-use-native-aio=0",
    "--innodb-buffer-pool-dump-at-shutdown=0",
    "--innodb-buffer-pool-load-at-startup=0",
    "--innodb-buffer-pool-size=64M",
    "--innodb-log-file-size=32M",
    "--innodb-flush-log-at-trx-commit=2",
)


class MariaDBServer(ManagedServer):
    """MariaDB (``mariadbd``) on 127.0.0.1 with a socket in its temp dir.

    ``mariadb-install-db`` then ``mariadbd --no-defaults`` (the system's
    /etc/mysql config is never read), as the ``mysql`` OS user when we are
    root. ``root`` logs in over the socket only (unix_socket authentication,
    or an empty password when we are not root); TCP logins use accounts made
    with :meth:`create_user`.
    """

    name = "mariadb"

    def __init__(self, *, root_user: str = "root", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.root_user = root_user

    @property
    def socket_path(self) -> Path:
        return self.directory / "mysqld.sock"

    @property
    def data_dir(self) -> Path:
        return self.directory / "data"

    def sql(self, statement: str, db: str | None = None, *, timeout: float = 120.0) -> str:
        """Run SQL with the ``mariadb`` client over the socket as root; return its batch output
        (tab-separated, no column names). Raises :class:`ServerCommandError` on error."""
        cmd = [
            _require_binary("mariadb"), "--no-defaults", f"--socket={self.socket_path}",
            f"--user={self.root_user}", "--batch", "--skip-column-names", "--connect-timeout=5",
        ]
        if db is not None:
            cmd.append(f"--database={db}")
        return _run(cmd, input=statement, env=_clean_env(("MYSQL",)), timeout=timeout).stdout

    def create_database(self, name: str) -> None:
        self.sql(f"CREATE DATABASE {_quote_ident(name, '`')} CHARACTER SET utf8mb4;")

    def create_user(
        self, name: str, password: str, grants: Sequence[str] = (), host: str = "%"
    ) -> None:
        """Create ``'name'@'host'`` with ``password`` and run ``GRANT <g> TO`` it for each of
        ``grants`` (e.g. ``"SELECT, INSERT ON shop.*"``, ``"ALL PRIVILEGES ON *.*"``)."""
        account = f"{_sql_literal(name)}@{_sql_literal(host)}"
        statements = [f"CREATE USER {account} IDENTIFIED BY {_sql_literal(password)};"]
        statements += [f"GRANT {grant} TO {account};" for grant in grants]
        self.sql("\n".join(statements))

    # ---- hooks

    def _ensure_installed(self) -> None:
        ensure_debian_packages("mariadbd", ["mariadb-server", "mariadb-client"])
        ensure_debian_packages("mariadb", ["mariadb-client"])

    def _os_user(self) -> str | None:
        return "mysql" if os.geteuid() == 0 else None

    def _dir_owner(self) -> str | None:
        return self._os_user()

    def _log_files(self) -> list[Path]:
        if self._dir is None:
            return []
        return [self.directory / "install.log", self.directory / "server.log", self.directory / "error.log"]

    def _prepare(self) -> None:
        user = self._os_user()
        # Our own tmpdir, for the bootstrap too: two bootstraps sharing /tmp can collide on
        # their temporary table files ("Unknown table 'mysql.tmp_user_sys'").
        tmp = self.directory / "tmp"
        tmp.mkdir()
        if user is not None:
            shutil.chown(tmp, user, pwd.getpwnam(user).pw_gid)
        cmd = [
            _require_binary("mariadb-install-db"), "--no-defaults", f"--datadir={self.data_dir}",
            "--skip-test-db",
            "--skip-name-resolve",  # like the server; also no resolveip of our hostname (DNS may hang)
            f"--tmpdir={tmp}", *_INNODB_OPTIONS,  # unknown options go on to the bootstrap server
        ]
        if user is not None:
            cmd.append(f"--user={user}")
        else:
            cmd.append("--auth-root-authentication-method=normal")
        log = self.directory / "install.log"
        try:
            result = _run(cmd, cwd=self.directory, timeout=300)
        except ServerCommandError as exc:
            log.write_text(exc.stdout + exc.stderr)
            raise
        log.write_text(result.stdout + result.stderr)

    def _launch(self) -> None:
        d = self.directory
        cmd = [
            _require_binary("mariadbd"), "--no-defaults",
            f"--datadir={self.data_dir}", f"--socket={self.socket_path}", f"--port={self.port}",
            f"--bind-address={self.host}", "--skip-networking=0", "--skip-grant-tables=0",
            f"--pid-file={d / 'mysqld.pid'}", f"--log-error={d / 'error.log'}", f"--tmpdir={d / 'tmp'}",
            "--skip-name-resolve", "--character-set-server=utf8mb4", "--collation-server=utf8mb4_unicode_ci",
            *_INNODB_OPTIONS, "--max-connections=200",
        ]
        user = self._os_user()
        if user is not None:
            cmd.insert(2, f"--user={user}")
        self._spawn(cmd, env=_clean_env(("MYSQL",)))

    def _is_ready(self) -> bool:
        if not self.socket_path.exists():
            return False
        return self.sql("SELECT 1;", timeout=_CHECK_TIMEOUT).strip() == "1"


