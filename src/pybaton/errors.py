"""The exception taxonomy shared by every part of pybaton.

Callers decide what to do by *type*, never by parsing messages: the sync engine
retries :class:`RetryableError`, waits out :class:`RateLimitedError`, warns on
:class:`NotFoundError` and stops on :class:`FatalError`; the CLI prints a
:class:`UserError` as one line (no traceback) and exits non-zero.
"""

from __future__ import annotations

import datetime as dt


class PyBatonError(Exception):
    """Base of every error pybaton raises on purpose."""


class UserError(PyBatonError):
    """The operator gave something wrong: a path, a flag, a config value.

    Printed as one line by the CLI with exit code :attr:`exit_code`.
    """

    exit_code = 1


class UsageError(UserError):
    """A command was called with flags that do not fit together."""

    exit_code = 2


class ConfigError(UserError):
    """A connector or workspace configuration value is missing or invalid."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        self.field = field
        super().__init__(f"config: {field}: {message}" if field else f"config: {message}")


class C1ZError(UserError):
    """A ``.c1z`` file cannot be read or written as asked."""


class C1ZFormatError(C1ZError):
    """The bytes are not a usable ``.c1z`` (corrupt, truncated, hostile, other format)."""


class WarehouseError(UserError):
    """The access warehouse cannot be opened, loaded or queried as asked."""


class WarehouseLoadError(WarehouseError):
    """A sync could not be loaded; the warehouse is exactly as it was before the load."""


class SyncNotFoundError(C1ZError):
    """The requested sync id is not in the file (or the file holds no finished sync)."""


class OnlyOneSyncError(SyncNotFoundError):
    """A diff was asked of a file holding a single sync run: there is nothing yet to compare it with."""


class ConnectorError(PyBatonError):
    """Raised by connectors: what went wrong talking to the system."""


class RetryableError(ConnectorError):
    """A transient failure (timeout, 5xx, dropped connection): the call may be retried."""


class RateLimitedError(RetryableError):
    """The system asked us to slow down; retry after :attr:`reset_at` (if known)."""

    def __init__(self, message: str = "rate limited", *, reset_at: dt.datetime | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        if reset_at is None and retry_after is not None:
            reset_at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=retry_after)
        self.reset_at = reset_at

    def seconds_to_wait(self, now: dt.datetime | None = None) -> float:
        if self.reset_at is None:
            return 0.0
        now = now or dt.datetime.now(dt.UTC)
        return max(0.0, (self.reset_at - now).total_seconds())


class NotFoundError(ConnectorError):
    """The object asked for does not exist (any more)."""


class PermissionDeniedError(ConnectorError):
    """The connector's credentials are not allowed to do this."""


class AuthenticationError(ConnectorError, UserError):
    """Credentials were rejected (wrong password, expired token): the operator must act."""


class UnreachableError(ConnectorError, UserError):
    """The system cannot be reached at all (refused, DNS, TLS): the operator must act."""


class CursorExpiredError(ConnectorError):
    """The system no longer knows a change cursor (log rotated, too old): only a full sync helps."""


class FatalError(ConnectorError):
    """Anything that makes continuing pointless; the sync stops and the file is not marked done."""


class ProvisioningError(UserError):
    """A write to a system was refused before or while it was attempted."""


class MissingExtraError(UserError):
    """An optional dependency is not installed; :attr:`extra` names the pybaton extra that brings it."""

    def __init__(self, purpose: str, module: str, extra: str) -> None:
        self.module = module
        self.extra = extra
        super().__init__(f"{purpose} needs {module}, which is not installed: "
                         f"install pybaton[{extra}] (pip install 'pybaton[{extra}]')")
