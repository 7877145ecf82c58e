"""Redis (``redis-server``) with an append-only file, so a restart keeps every key (queues, locks, outcomes)."""

from __future__ import annotations

import signal
import socket
import time
from typing import Any

from pybaton.testing.servers.managed import (
    _CHECK_TIMEOUT,
    ManagedServer,
    _require_binary,
    ensure_debian_packages,
)


class RedisServer(ManagedServer):
    """``redis-server`` in the foreground on ``redis://127.0.0.1:port/0``.

    Persistence is the append-only file with ``appendfsync always`` (every
    write on disk before the reply), in the temp dir; :meth:`restart` stops the
    process (SIGTERM, or SIGKILL with ``kill=True``) and starts it again on the
    same port and data, as an operator's restart or a crash would.
    """

    name = "redis"

    def __init__(self, *, password: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.password = password

    def url(self, db: int = 0) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}{self.host}:{self.port}/{db}"

    def restart(self, *, kill: bool = False, down_seconds: float = 0.0) -> None:
        """Stop the server process and start it again with the same port and data directory."""
        if self._proc is not None:
            self._proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            self._proc.wait(timeout=self.stop_timeout)
        if self._log_handle is not None:
            self._log_handle.close()
            self._log_handle = None
        time.sleep(down_seconds)
        self._launch()
        self._wait_ready()

    # ---- hooks

    def _ensure_installed(self) -> None:
        ensure_debian_packages("redis-server", ["redis-server"])

    def _prepare(self) -> None:
        lines = [f"port {self.port}", f"bind {self.host}", f"dir {self.directory}", "appendonly yes",
                 "appendfsync always", "save ''", "protected-mode no", "daemonize no", "loglevel notice"]
        if self.password:
            lines.append(f"requirepass {self.password}")
        (self.directory / "redis.conf").write_text("\n".join(lines) + "\n")

    def _launch(self) -> None:
        self._spawn([_require_binary("redis-server"), str(self.directory / "redis.conf")])

    def _is_ready(self) -> bool:
        with socket.create_connection((self.host, self.port), timeout=_CHECK_TIMEOUT) as sock:
            if self.password:
                sock.sendall(f"AUTH {self.password}\r\n".encode())
                sock.recv(64)
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
