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

from __future__ import annotations

import abc
import atexit
import contextlib
import fcntl
import http.client
import importlib.util
import json
import os
import pwd
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Self

__all__ = [
    "ManagedServer",
    "MariaDBServer",
    "PostgresServer",
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

LOCALHOST = "127.0.0.1"

# Unix sockets paths are limited to 107 bytes; keep a margin for the file name.
_MAX_SOCKET_DIR = 80

# Bound on one readiness probe (a port may accept connections and never answer).
_CHECK_TIMEOUT = 3.0

# Messages of the servers when their port was taken between free_port() and bind().
_PORT_IN_USE = re.compile(r"address already in use|errno=98|EADDRINUSE|another server running", re.I)


class ServerError(RuntimeError):
    """A test server could not be installed, started, used or stopped."""


class ServerStartError(ServerError):
    """A test server did not start; the message ends with its log tail."""


class ServerCommandError(ServerError):
    """A command run for a test server (client, setup tool) failed."""

    def __init__(self, cmd: Sequence[str], returncode: int | None, stdout: str, stderr: str) -> None:
        self.cmd = list(cmd)
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        status = "timed out" if returncode is None else f"exited with {returncode}"
        super().__init__(
            f"command {status}: {' '.join(self.cmd)}\n--- stdout ---\n{stdout.strip()}\n"
            f"--- stderr ---\n{stderr.strip()}"
        )


# --------------------------------------------------------------------------- helpers


def free_port(host: str = LOCALHOST) -> int:
    """Return a TCP port of ``host`` that is free right now (bind to port 0).

    Another process may take it before the server binds it: the servers retry
    with a new port when their log says so.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


_SBIN_DIRS = ("/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/bin")


def find_binary(name: str) -> str | None:
    """Find a program on PATH, or in the sbin directories that PATH may lack."""
    if os.path.isabs(name):
        return name if os.access(name, os.X_OK) else None
    found = shutil.which(name)
    if found is not None:
        return found
    for directory in _SBIN_DIRS:
        candidate = os.path.join(directory, name)
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def _require_binary(name: str) -> str:
    path = find_binary(name)
    if path is None:
        raise ServerError(f"program {name!r} not found")
    return path


_apt_lock = threading.Lock()
_apt_updated = False


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (across processes, e.g. xdist workers)."""
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_debian_packages(binary_check: str | Callable[[], bool], packages: Sequence[str]) -> None:
    """Install Debian ``packages`` unless ``binary_check`` says they are there.

    ``binary_check`` is a program name (looked up by :func:`find_binary`) or a
    callable returning True when the packages are installed. When it fails and
    we are root with ``apt-get``, this runs ``apt-get update`` (once per
    process) and ``apt-get install -y --no-install-recommends PACKAGES`` with
    ``DEBIAN_FRONTEND=noninteractive``, serialised across processes by a file
    lock (pytest-xdist workers may get here together). Otherwise it raises
    :class:`ServerError` naming the packages to install.
    """
    global _apt_updated

    def installed() -> bool:
        if isinstance(binary_check, str):
            return find_binary(binary_check) is not None
        return binary_check()

    if installed():
        return
    what = binary_check if isinstance(binary_check, str) else "the server"
    hint = f"install the Debian packages {' '.join(packages)} (bash scripts/install-test-servers.sh)"
    if os.geteuid() != 0 or find_binary("apt-get") is None:
        raise ServerError(f"{what} is not installed and we cannot install it (not root with apt-get): {hint}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    with _apt_lock, _file_lock(Path(tempfile.gettempdir()) / "pybaton-apt.lock"):
        if installed():
            return
        try:
            if not _apt_updated:
                _run(["apt-get", "update", "-q"], env=env, timeout=900)
                _apt_updated = True
            _run(
                [
                    "apt-get", "install", "-y", "-q", "--no-install-recommends",
                    "-o", "DPkg::Lock::Timeout=600", *packages,
                ],
                env=env,
                timeout=1800,
            )
        except ServerCommandError as exc:
            raise ServerError(f"could not install {' '.join(packages)}: {exc}") from exc
    if not installed():
        raise ServerError(f"{what} is still missing after installing {' '.join(packages)}: {hint}")


def _ensure_python_module(module: str, requirement: str) -> None:
    """Install ``requirement`` with this interpreter's pip if ``module`` is missing."""
    if importlib.util.find_spec(module) is not None:
        return
    try:
        _run([sys.executable, "-m", "pip", "install", "-q", requirement], timeout=900)
    except ServerCommandError as exc:
        raise ServerError(f"could not pip install {requirement}: {exc}") from exc
    importlib.invalidate_caches()
    if importlib.util.find_spec(module) is None:
        raise ServerError(f"{module} is still missing after pip install {requirement}")


def _clean_env(drop_prefixes: Sequence[str] = (), **extra: str) -> dict[str, str]:
    """The environment minus variables that would redirect a client (PGHOST...)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(tuple(drop_prefixes))}
    env.update(extra)
    return env


def _run(
    cmd: Sequence[str],
    *,
    input: str | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    user: str | None = None,
    timeout: float = 120.0,
) -> subprocess.CompletedProcess[str]:
    """Run a command to completion; raise :class:`ServerCommandError` unless it exits 0.

    ``user`` runs it as that OS user (we must be root), with its primary group only.
    """
    gid: int | None = None
    groups: list[int] | None = None
    if user is not None:
        gid = pwd.getpwnam(user).pw_gid
        groups = []
    try:
        proc = subprocess.run(
            list(cmd),
            input=input,
            capture_output=True,
            text=True,
            env=None if env is None else dict(env),
            cwd=cwd,
            user=user,
            group=gid,
            extra_groups=groups,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else exc.stdout or ""
        err = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else exc.stderr or ""
        raise ServerCommandError(cmd, None, out, err) from exc
    if proc.returncode != 0:
        raise ServerCommandError(cmd, proc.returncode, proc.stdout, proc.stderr)
    return proc


def _proc_stat(pid: int) -> tuple[str, int, int] | None:
    """(state, ppid, pgrp) of a process from /proc, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = data[data.rindex(")") + 2 :].split()
    return fields[0], int(fields[1]), int(fields[2])


def _cmdline(pid: int) -> str:
    """The command line of a process ('' when gone or unreadable)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def pid_alive(pid: int) -> bool:
    """True while ``pid`` is a running (not zombie) process."""
    if os.path.isdir("/proc"):
        stat = _proc_stat(pid)
        return stat is not None and stat[0] not in ("Z", "X")
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _process_tree(pid: int) -> set[int]:
    """``pid``, its descendants and the members of its process group (Linux /proc)."""
    result = {pid}
    if not os.path.isdir("/proc"):
        return result
    stats: dict[int, tuple[str, int, int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _proc_stat(int(entry))
            if stat is not None:
                stats[int(entry)] = stat
    own = stats.get(pid)
    pgid = own[2] if own is not None else pid
    children: dict[int, list[int]] = {}
    for p, (_, ppid, pgrp) in stats.items():
        children.setdefault(ppid, []).append(p)
        if pgrp == pgid and pgid != os.getpgrp():
            result.add(p)
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in result:
                result.add(child)
                todo.append(child)
    return result


def _sql_literal(value: str) -> str:
    """A single-quoted SQL string literal (standard quoting, backslashes doubled for MariaDB)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def _pg_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _pg_ident(name: str) -> str:
    return _quote_ident(name, '"')


def _quote_ident(name: str, quote: str) -> str:
    return quote + name.replace(quote, quote + quote) + quote


# --------------------------------------------------------------------------- base class

_live_servers: weakref.WeakSet[ManagedServer] = weakref.WeakSet()


@atexit.register
def _stop_live_servers() -> None:
    for server in list(_live_servers):
        with contextlib.suppress(Exception):
            server.stop()


class ManagedServer(abc.ABC):
    """A server process on ``host:port`` with a temporary directory of its own.

    Subclasses implement :meth:`_prepare` (files, init), :meth:`_launch` (start
    the process: set ``_proc`` and/or ``_pid``) and :meth:`_is_ready`; they may
    override :meth:`_after_ready` (post-start setup) and :meth:`_log_files`.
    :meth:`start` retries with a new port when an automatically chosen port was
    taken meanwhile; :meth:`stop` sends :attr:`stop_signal` to the main process,
    waits, then SIGKILLs whatever is left of its process tree, and removes the
    directory. Both are idempotent.
    """

    #: Short name used in messages and temp dir names.
    name: ClassVar[str] = "server"
    #: Signal asking the main process for a clean shutdown.
    stop_signal: ClassVar[signal.Signals] = signal.SIGTERM
    #: How many log lines a start error shows.
    log_tail_lines: ClassVar[int] = 40

    def __init__(
        self,
        *,
        host: str = LOCALHOST,
        port: int | None = None,
        startup_timeout: float = 60.0,
        stop_timeout: float = 30.0,
        base_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self.host = host
        self._requested_port = port
        self._port: int | None = port
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self._base_dir = None if base_dir is None else Path(base_dir)
        self._dir: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._pid: int | None = None
        self._log_handle: Any = None
        #: Seconds the last successful start() took.
        self.startup_seconds: float | None = None

    # ---- public API

    @property
    def port(self) -> int:
        if self._port is None:
            raise ServerError(f"{self.name} server has no port yet: call start() first")
        return self._port

    @property
    def directory(self) -> Path:
        """The server's temporary directory (removed by :meth:`stop`)."""
        if self._dir is None:
            raise ServerError(f"{self.name} server is not started")
        return self._dir

    @property
    def pid(self) -> int | None:
        """The main server process id while started."""
        if self._pid is not None:
            return self._pid
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        pid = self.pid
        return pid is not None and pid_alive(pid)

    def processes(self) -> set[int]:
        """Live pids of the server: the main process, its descendants and process group."""
        pid = self.pid
        if pid is None:
            return set()
        return {p for p in _process_tree(pid) if pid_alive(p)}

    def start(self) -> Self:
        """Start the server and wait until it answers; return self."""
        if self._dir is not None:
            raise ServerError(f"{self.name} server already started")
        self._ensure_installed()
        attempts = 1 if self._requested_port is not None else 3
        began = time.monotonic()
        for attempt in range(attempts):
            try:
                self._start_once()
            except ServerStartError as exc:
                self._cleanup()
                if attempt + 1 < attempts and _PORT_IN_USE.search(str(exc)):
                    continue
                raise
            except BaseException:
                self._cleanup()
                raise
            break
        self.startup_seconds = time.monotonic() - began
        _live_servers.add(self)
        return self

    def stop(self) -> None:
        """Stop the server: clean shutdown, then kill its process tree; remove its directory."""
        _live_servers.discard(self)
        self._cleanup()

    def __enter__(self) -> Self:
        return self.start() if self._dir is None else self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def log_tail(self, lines: int | None = None) -> str:
        """The last lines of the server's log files (for error messages)."""
        count = self.log_tail_lines if lines is None else lines
        parts = []
        for path in self._log_files():
            try:
                text = path.read_text(errors="replace")
            except OSError:
                continue
            tail = "\n".join(text.splitlines()[-count:])
            parts.append(f"--- {path.name} ---\n{tail}")
        return "\n".join(parts) if parts else "(no log)"

    def __repr__(self) -> str:
        state = f"{self.host}:{self._port}" if self._dir is not None else "stopped"
        return f"<{type(self).__name__} {state}>"

    # ---- hooks for subclasses

    def _ensure_installed(self) -> None:  # noqa: B027 (optional hook)
        """Install what the server needs (see :func:`ensure_debian_packages`)."""

    def _dir_owner(self) -> str | None:
        """OS user to give the temp directory to (servers that drop root)."""
        return None

    @abc.abstractmethod
    def _prepare(self) -> None:
        """Write config files and initialise data in :attr:`directory`."""

    @abc.abstractmethod
    def _launch(self) -> None:
        """Start the server process (:meth:`_spawn`, or set ``_pid``)."""

    @abc.abstractmethod
    def _is_ready(self) -> bool:
        """True once the server answers a real request."""

    def _after_ready(self) -> None:  # noqa: B027 (optional hook)
        """Setup needing the running server (passwords, base entries)."""

    def _log_files(self) -> list[Path]:
        return [self.directory / "server.log"] if self._dir is not None else []

    def _find_pid(self) -> int | None:
        """The main pid when the server daemonised (read a pid file)."""
        return None

    # ---- machinery

    def _make_dir(self) -> Path:
        owner = self._dir_owner()
        parent = self._base_dir or Path(tempfile.gettempdir())
        if owner is not None and not _traversable_by_others(parent):
            parent = Path("/tmp")
        if len(str(parent)) > _MAX_SOCKET_DIR - 30:
            parent = Path("/tmp")
        path = Path(tempfile.mkdtemp(prefix=f"pybaton-{self.name}-", dir=parent))
        if owner is not None and os.geteuid() == 0:
            shutil.chown(path, owner, pwd.getpwnam(owner).pw_gid)
        return path

    def _start_once(self) -> None:
        if self._requested_port is None:
            self._port = free_port(self.host)
        self._dir = self._make_dir()
        try:
            self._prepare()
            self._launch()
        except ServerCommandError as exc:
            raise ServerStartError(f"{self.name} server failed to start: {exc}\n{self.log_tail()}") from exc
        self._wait_ready()
        self._after_ready()

    def _spawn(self, cmd: Sequence[str], *, env: Mapping[str, str] | None = None, user: str | None = None) -> None:
        """Start the server process in its own session, output to server.log."""
        self._log_handle = open(self.directory / "server.log", "ab")  # noqa: SIM115 (closed in _cleanup)
        gid = None if user is None else pwd.getpwnam(user).pw_gid
        self._proc = subprocess.Popen(
            list(cmd),
            stdin=subprocess.DEVNULL,
            stdout=self._log_handle,
            stderr=subprocess.STDOUT,
            cwd=self.directory,
            env=None if env is None else dict(env),
            start_new_session=True,
            user=user,
            group=gid,
            extra_groups=None if user is None else [],
        )

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        delay = 0.05
        while True:
            if self._proc is not None and self._proc.poll() is not None:
                raise ServerStartError(
                    f"{self.name} server exited with code {self._proc.returncode} while starting "
                    f"on {self.host}:{self._port}\n{self.log_tail()}"
                )
            try:
                if self._is_ready():
                    return
            except (OSError, ValueError, http.client.HTTPException, ServerCommandError):
                pass  # not up yet
            if time.monotonic() > deadline:
                raise ServerStartError(
                    f"{self.name} server did not answer on {self.host}:{self._port} within "
                    f"{self.startup_timeout:.0f}s\n{self.log_tail()}"
                )
            time.sleep(delay)
            delay = min(delay * 1.5, 0.5)

    def _cleanup(self) -> None:
        pid = self.pid
        if pid is None and self._dir is not None:
            with contextlib.suppress(OSError, ValueError):
                pid = self._find_pid()
        if pid is not None:
            self._kill_tree(pid)
        if self._proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=5)
        if self._log_handle is not None:
            self._log_handle.close()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
        self._proc = None
        self._pid = None
        self._log_handle = None
        self._dir = None
        if self._requested_port is None:
            self._port = None

    def _kill_tree(self, pid: int) -> None:
        tree = _process_tree(pid)
        if pid_alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, self.stop_signal)
            if self._wait_gone(tree, self.stop_timeout):
                return
        for p in _process_tree(pid) | tree:
            with contextlib.suppress(ProcessLookupError):
                os.kill(p, signal.SIGKILL)
        if not self._wait_gone(tree, 10.0):
            left = sorted(p for p in tree if pid_alive(p))
            raise ServerError(f"{self.name} server processes survived SIGKILL: {left}")

    def _wait_gone(self, pids: set[int], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            if self._proc is not None:
                self._proc.poll()  # reap our own child, else it stays a zombie
            if not any(pid_alive(p) for p in pids):
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)


def _traversable_by_others(path: Path) -> bool:
    """True when every directory up to ``path`` has the o+x bit (servers dropping root can reach it)."""
    for directory in [path, *path.parents]:
        try:
            if not directory.stat().st_mode & 0o001:
                return False
        except OSError:
            return False
    return True


# --------------------------------------------------------------------------- PostgreSQL


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


# --------------------------------------------------------------------------- MariaDB


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


# --------------------------------------------------------------------------- OpenLDAP slapd


class SlapdServer(ManagedServer):
    """OpenLDAP ``slapd`` with an mdb database, on ``ldap://127.0.0.1:port/``.

    The config (``slapd.conf``: core, cosine, nis and inetorgperson schemas;
    no overlay) is written into the temp dir and slapd runs in the foreground
    (``-d none``: unlike ``-d 0`` it still prints fatal errors such as a
    port in use). The entry of :attr:`base_dn` is created at start unless
    ``create_base=False``. With ``tls=True`` a self-signed certificate for
    127.0.0.1 (openssl CLI) is made, StartTLS works on :attr:`url` and
    :attr:`ldaps_url` listens too; clients trust :attr:`ca_cert`.
    """

    name = "slapd"

    def __init__(
        self,
        *,
        base_dn: str = "dc=example,dc=org",
        bind_dn: str | None = None,
        bind_password: str = "admin",
        create_base: bool = True,
        tls: bool = False,
        loglevel: str = "stats",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.base_dn = base_dn
        self.bind_dn = bind_dn if bind_dn is not None else f"cn=admin,{base_dn}"
        self.bind_password = bind_password
        self.create_base = create_base
        self.tls = tls
        self.loglevel = loglevel
        self._tls_port: int | None = None
        for value in (base_dn, self.bind_dn, bind_password):
            if any(c in value for c in '"\n\\'):
                raise ValueError(f"unsupported character in slapd setting {value!r}")

    @property
    def url(self) -> str:
        return f"ldap://{self.host}:{self.port}/"

    @property
    def tls_port(self) -> int:
        if self._tls_port is None:
            raise ServerError("slapd server has no LDAPS port (tls=False or not started)")
        return self._tls_port

    @property
    def ldaps_url(self) -> str:
        return f"ldaps://{self.host}:{self.tls_port}/"

    @property
    def ca_cert(self) -> Path:
        """The self-signed certificate (PEM) to trust, with ``tls=True``."""
        return self.directory / "cert.pem"

    @property
    def config_path(self) -> Path:
        return self.directory / "slapd.conf"

    def client_env(self) -> dict[str, str]:
        """Environment for the ldap-utils clients (trusting :attr:`ca_cert` with TLS)."""
        env = _clean_env(("LDAP",))
        if self.tls:
            env.update(LDAPTLS_CACERT=str(self.ca_cert), LDAPTLS_REQCERT="demand")
        return env

    def ldapadd(self, ldif_text: str) -> str:
        """Add the entries of ``ldif_text`` with ``ldapadd``, bound as :attr:`bind_dn`."""
        return self._tool("ldapadd", [], ldif_text)

    def ldapmodify(self, ldif_text: str) -> str:
        """Apply an LDIF change record with ``ldapmodify``, bound as :attr:`bind_dn`."""
        return self._tool("ldapmodify", [], ldif_text)

    def ldapsearch(
        self, filter: str = "(objectClass=*)", *attrs: str, base: str | None = None, scope: str = "sub"
    ) -> str:
        """Search with ``ldapsearch`` bound as :attr:`bind_dn`; return unwrapped LDIF (``-LLL``)."""
        args = ["-LLL", "-o", "ldif-wrap=no", "-b", base or self.base_dn, "-s", scope, filter, *attrs]
        return self._tool("ldapsearch", args, None)

    def _tool(self, tool: str, args: list[str], stdin: str | None) -> str:
        cmd = [
            _require_binary(tool), "-x", "-H", self.url, "-D", self.bind_dn, "-w", self.bind_password,
            "-o", "nettimeout=10", *args,
        ]
        return _run(cmd, input=stdin, env=self.client_env(), timeout=60).stdout

    # ---- hooks

    def _ensure_installed(self) -> None:
        ensure_debian_packages("slapd", ["slapd"])
        ensure_debian_packages("ldapadd", ["ldap-utils"])
        if self.tls:
            ensure_debian_packages("openssl", ["openssl"])

    def _prepare(self) -> None:
        d = self.directory
        (d / "db").mkdir()
        tls_conf = ""
        if self.tls:
            self._tls_port = free_port(self.host)
            _run(
                [
                    _require_binary("openssl"), "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "7",
                    "-keyout", str(d / "key.pem"), "-out", str(self.ca_cert), "-subj", f"/CN={self.host}",
                    "-addext", f"subjectAltName=IP:{self.host},DNS:localhost",
                ],
                cwd=d,
                timeout=60,
            )
            tls_conf = (
                f'TLSCACertificateFile "{self.ca_cert}"\n'
                f'TLSCertificateFile "{self.ca_cert}"\n'
                f'TLSCertificateKeyFile "{d / "key.pem"}"\n'
            )
        schema = Path("/etc/ldap/schema")
        self.config_path.write_text(
            "# pybaton test server (written by pybaton.testing.servers)\n"
            + "".join(f"include {schema / s}.schema\n" for s in ("core", "cosine", "nis", "inetorgperson"))
            + f'pidfile "{d / "slapd.pid"}"\n'
            f'argsfile "{d / "slapd.args"}"\n'
            f"loglevel {self.loglevel}\n"
            "modulepath /usr/lib/ldap\n"
            "moduleload back_mdb\n"
            f"{tls_conf}"
            "database mdb\n"
            "maxsize 104857600\n"
            f'suffix "{self.base_dn}"\n'
            f'rootdn "{self.bind_dn}"\n'
            f'rootpw "{self.bind_password}"\n'
            f'directory "{d / "db"}"\n'
            "index objectClass eq\n"
            "index uid,cn,memberUid,gidNumber eq\n"
            "index member,uniqueMember eq\n"
            "access to attrs=userPassword\n  by self write\n  by anonymous auth\n  by * none\n"
            "access to *\n  by * read\n"
        )
        _run([_require_binary("slaptest"), "-Q", "-u", "-f", str(self.config_path)], cwd=d, timeout=60)

    def _launch(self) -> None:
        urls = self.url + (f" {self.ldaps_url}" if self.tls else "")
        self._spawn([_require_binary("slapd"), "-f", str(self.config_path), "-h", urls, "-d", "none"])

    def _is_ready(self) -> bool:
        cmd = [
            _require_binary("ldapsearch"), "-x", "-H", self.url, "-b", "", "-s", "base", "-LLL",
            "-o", "nettimeout=2", "namingContexts",
        ]
        return self.base_dn.lower() in _run(cmd, env=self.client_env(), timeout=_CHECK_TIMEOUT).stdout.lower()

    def _after_ready(self) -> None:
        if not self.create_base:
            return
        attr, _, value = self.base_dn.split(",", 1)[0].partition("=")
        object_classes = {
            "dc": ["dcObject", "organization"],
            "o": ["organization"],
            "ou": ["organizationalUnit"],
        }.get(attr.strip().lower())
        if object_classes is None:
            return
        lines = [f"dn: {self.base_dn}", "objectClass: top", *(f"objectClass: {oc}" for oc in object_classes)]
        lines.append(f"{attr.strip()}: {value.strip()}")
        if attr.strip().lower() == "dc":
            lines.append(f"o: {value.strip()}")
        self.ldapadd("\n".join(lines) + "\n")

    def _cleanup(self) -> None:
        super()._cleanup()
        self._tls_port = None


# --------------------------------------------------------------------------- SCIM


class ScimServer(ManagedServer):
    """A SCIM 2.0 server (the ``scim2-server`` PyPI package) on ``http://127.0.0.1:port/v2``.

    Runs ``python -m scim2_server.testserver.cli --hostname H --port P
    --bearer-token TOKEN`` with this interpreter (the package is pip-installed
    if missing). Resources live in memory; every endpoint but the discovery
    ones answers 401 without ``Authorization: Bearer <token>``.
    """

    name = "scim"

    def __init__(self, *, token: str | None = None, extra_args: Sequence[str] = (), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.token = token if token is not None else secrets.token_urlsafe(24)
        self.extra_args = list(extra_args)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v2"

    def request(
        self, method: str, path: str, body: Any = None, *, token: str | None = None, timeout: float = 10.0
    ) -> tuple[int, Any]:
        """Send a SCIM request (``path`` relative to :attr:`base_url`); return (status, JSON body or None).

        ``token`` defaults to :attr:`token`; pass ``""`` to send no Authorization header.
        """
        headers = {"Accept": "application/scim+json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/scim+json"
        token = self.token if token is None else token
        if token:
            headers["Authorization"] = f"Bearer {token}"
        req = urllib.request.Request(self.base_url + "/" + path.lstrip("/"), data=data, headers=headers, method=method)
        try:
            with _NO_PROXY.open(req, timeout=timeout) as resp:
                status: int = resp.status
                raw: bytes = resp.read()
        except urllib.error.HTTPError as err:
            status, raw = err.code, err.read()
        return status, json.loads(raw) if raw.strip() else None

    # ---- hooks

    def _ensure_installed(self) -> None:
        _ensure_python_module("scim2_server", "scim2-server")

    def _launch(self) -> None:
        self._spawn(
            [
                sys.executable, "-m", "scim2_server.testserver.cli", "--hostname", self.host,
                "--port", str(self.port), f"--bearer-token={self.token}", *self.extra_args,
            ],
            env=_clean_env(("PYTHONSTARTUP",), PYTHONUNBUFFERED="1"),
        )

    def _prepare(self) -> None:
        pass

    def _is_ready(self) -> bool:
        status, _ = self.request("GET", "ServiceProviderConfig", timeout=_CHECK_TIMEOUT)
        return status == 200


# Requests to our own loopback servers never go through an HTTP proxy from the environment.
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))
