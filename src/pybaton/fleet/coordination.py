"""What the workers share through Redis: system locks with a lease, task outcomes, status, rate limits.

* A **system lock** (``concurrency`` slots per system, usually one) is taken
  before a sync or an apply and held with a lease the running task renews; a
  worker that dies stops renewing, the lease runs out, and the redelivered
  task can take the lock. Two syncs of one system never run at once.
* A task's **outcome** is written under its id before its lock is released;
  a second delivery of the same task (broker redelivery after a visibility
  timeout, a worker lost after finishing) finds it and does nothing again.
* A system's **status** (last success, last error, running now on which
  worker) is one hash per system, for ``pybaton fleet status``.
* A **rate limit** is a counter per system and second, shared by every worker.

All keys start with ``pybaton:fleet:``. Redis is expected to persist
(``appendonly yes``) so a restart loses none of this.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import redis
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import LockError, RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.lock import Lock
from redis.retry import Retry

log = logging.getLogger("pybaton.fleet")

PREFIX = "pybaton:fleet:"
OUTCOME_TTL = 7 * 86400
HISTORY = 50


def connect(url: str) -> redis.Redis:
    """A client that rides out a Redis restart (reconnects with backoff for about a minute)."""
    return redis.Redis.from_url(url, decode_responses=True, socket_timeout=30, socket_connect_timeout=5,
                                retry=Retry(ExponentialBackoff(cap=2.0, base=0.1), 40),
                                retry_on_error=[RedisConnectionError, RedisTimeoutError],
                                health_check_interval=10)


class Lease:
    """A held system lock; :meth:`renewing` keeps it alive while the work runs."""

    def __init__(self, lock: Lock, seconds: float) -> None:
        self._lock = lock
        self.seconds = seconds
        self.lost = threading.Event()

    @contextlib.contextmanager
    def renewing(self) -> Iterator[Lease]:
        """Renew every third of the lease; a renewal that finds the lock gone sets :attr:`lost`."""
        stop = threading.Event()

        def renew() -> None:
            while not stop.wait(self.seconds / 3):
                try:
                    self._lock.reacquire()
                except LockError:
                    log.error("lost the lock %s (its lease ran out)", self._lock.name)
                    self.lost.set()
                    return
                except RedisError as exc:  # Redis restarting: try again at the next tick
                    log.warning("could not renew %s: %s", self._lock.name, exc)

        thread = threading.Thread(target=renew, name="pybaton-lease", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            stop.set()
            thread.join()
            with contextlib.suppress(LockError, RedisError):
                self._lock.release()

    def held(self) -> bool:
        """Still ours (checked in Redis, not just remembered)."""
        return not self.lost.is_set() and self._lock.owned()


@dataclass(frozen=True)
class Coordinator:
    """The fleet's shared state in one Redis database."""

    client: redis.Redis

    # -- locks -------------------------------------------------------------------------------------

    def acquire(self, system: str, token: str, *, slots: int, lease: float) -> Lease | None:
        """One of the system's ``slots`` locks, or None when all are held (by live or not yet expired leases)."""
        for slot in range(slots):
            lock = Lock(self.client, f"{PREFIX}lock:{system}:{slot}", timeout=lease, blocking=False,
                        thread_local=False)
            if lock.acquire(token=token):
                return Lease(lock, lease)
        return None

    def holders(self, system: str, slots: int) -> list[str]:
        names = [f"{PREFIX}lock:{system}:{slot}" for slot in range(slots)]
        return [str(v) for v in self.client.mget(names) if v]

    # -- task outcomes -----------------------------------------------------------------------------

    def outcome(self, task_id: str) -> dict[str, Any] | None:
        raw = self.client.get(f"{PREFIX}task:{task_id}")
        return json.loads(raw) if raw else None

    def finish(self, task_id: str, outcome: Mapping[str, Any]) -> None:
        """Record how a task ended (before its lock is released) and add it to the system's history."""
        text = json.dumps(outcome, sort_keys=True)
        pipe = self.client.pipeline()
        pipe.set(f"{PREFIX}task:{task_id}", text, ex=OUTCOME_TTL)
        pipe.lpush(f"{PREFIX}history:{outcome['system']}", text)
        pipe.ltrim(f"{PREFIX}history:{outcome['system']}", 0, HISTORY - 1)
        pipe.execute()

    def history(self, system: str) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.client.lrange(f"{PREFIX}history:{system}", 0, -1)]

    # -- status ------------------------------------------------------------------------------------

    def update_status(self, system: str, **fields: Any) -> None:
        self.client.hset(f"{PREFIX}status:{system}", mapping={k: "" if v is None else str(v)
                                                              for k, v in fields.items()})

    def status(self, system: str) -> dict[str, str]:
        return {str(k): str(v) for k, v in self.client.hgetall(f"{PREFIX}status:{system}").items()}

    # -- coalesced jobs ----------------------------------------------------------------------------

    def coalesce(self, job: str, run: Callable[[], None], *, lease: float) -> bool:
        """Run ``run`` until no one has asked for ``job`` since it started; one runner fleet-wide.

        Asking while another worker runs it leaves the request for that runner,
        so N loads in a row cause a few correlations, not N. True when this call ran it.
        """
        flag, ran = f"{PREFIX}pending:{job}", False
        self.client.set(flag, "1")
        while self.client.exists(flag):
            lease_ = self.acquire(f"job-{job}", f"{time.time()}", slots=1, lease=lease)
            if lease_ is None:
                return ran  # the runner will see the flag
            with lease_.renewing():
                while self.client.delete(flag):
                    run()
                    ran = True
        return ran

    # -- rate limits -------------------------------------------------------------------------------

    def take_call(self, system: str, per_second: float) -> float:
        """Count one call to ``system``; the seconds to wait before making it (0 when within the limit)."""
        window = 1.0 if per_second >= 1 else 1.0 / per_second
        allowed = max(1, int(per_second * window))
        now = time.time()
        slot = int(now // window)
        key = f"{PREFIX}rate:{system}:{slot}"
        pipe = self.client.pipeline()
        pipe.incr(key)
        pipe.expire(key, int(window) + 2)
        count = int(pipe.execute()[0])
        if count <= allowed:
            return 0.0
        return (slot + 1) * window - now + 0.001


class SharedRateLimit:
    """A connector call hook: waits until the system's shared budget allows the call."""

    def __init__(self, coordinator: Coordinator, system: str, per_second: float) -> None:
        self.coordinator = coordinator
        self.system = system
        self.per_second = per_second

    def __call__(self, call: object) -> None:
        while (wait := self.coordinator.take_call(self.system, self.per_second)) > 0:
            time.sleep(wait)
