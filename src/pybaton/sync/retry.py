"""Calling a connector: retries with backoff, rate-limit waits, typed outcomes.

The engine never inspects messages: a :class:`~pybaton.errors.RetryableError`
is retried, a :class:`~pybaton.errors.RateLimitedError` waits for its reset,
a :class:`~pybaton.errors.NotFoundError` becomes a warning and an empty result,
and anything else stops the sync with the call's context attached.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

from pybaton.errors import (
    AuthenticationError,
    CursorExpiredError,
    FatalError,
    NotFoundError,
    PyBatonError,
    RateLimitedError,
    RetryableError,
    UnreachableError,
    UserError,
)
from pybaton.sync.options import RetryPolicy

T = TypeVar("T")

log = logging.getLogger("pybaton.sync")


class SyncCallError(FatalError):
    """A connector call failed for good; carries what was being done."""


def backoff_delay(policy: RetryPolicy, attempt: int) -> float:
    delay = min(policy.max_delay, policy.base_delay * (2 ** attempt))
    return float(delay * (0.5 + random.random() / 2))


def call_with_retry(fn: Callable[[], T], *, what: str, policy: RetryPolicy, on_not_found: Callable[[], T],
                    sleep: Callable[[float], None] = time.sleep) -> T:
    """Run ``fn`` under ``policy``; ``what`` names the call in logs and errors."""
    last: Exception | None = None
    for attempt in range(policy.attempts):
        try:
            return fn()
        except RateLimitedError as exc:
            last = exc
            wait = min(exc.seconds_to_wait() or backoff_delay(policy, attempt), policy.max_rate_limit_wait)
            log.warning("%s: rate limited, waiting %.1fs (attempt %d/%d)", what, wait, attempt + 1, policy.attempts)
            sleep(wait)
        except (AuthenticationError, UnreachableError):
            raise
        except RetryableError as exc:
            last = exc
            wait = backoff_delay(policy, attempt)
            log.warning("%s: %s; retrying in %.1fs (attempt %d/%d)", what, exc, wait, attempt + 1, policy.attempts)
            sleep(wait)
        except NotFoundError as exc:
            log.warning("%s: not found (%s); skipping", what, exc)
            return on_not_found()
        except (UserError, CursorExpiredError):
            raise
        except PyBatonError as exc:
            raise SyncCallError(f"{what}: {exc}") from exc
        except Exception as exc:
            raise SyncCallError(f"{what}: {type(exc).__name__}: {exc}") from exc
    raise SyncCallError(f"{what}: gave up after {policy.attempts} attempts: {last}") from last
