"""The base of every test server: free ports, temp directories, process trees, clean stops."""

from __future__ import annotations

import abc
import atexit
import contextlib
import fcntl
import http.client
import importlib.util
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Self

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


