"""MySQL/MariaDB drivers: PyMySQL, and mysqlclient when it is installed.

PyMySQL (the ``mysql`` extra) is pure Python: it decodes every field of every
row in the interpreter. On issue 19's sync (1,000,000 memberships, 100,000
users) that was ~2.4 of the connector's ~8 CPU seconds, against ~0.2 with
mysqlclient, which decodes in C (libmariadb) and waits on the network without
holding the GIL. mysqlclient only builds where the MariaDB/MySQL client headers
are (Debian: ``libmariadb-dev``, ``pkg-config``), so it cannot be a plain
requirement of the extra (``pip install pybaton[mysql]`` must work anywhere):
``make native`` installs it from pyproject's ``native`` dependency group after
``scripts/install-test-servers.sh`` has installed those; elsewhere PyMySQL does
the work.

PyMySQL stays required either way (a missing ``mysql`` extra is reported the
same), and ``PYBATON_MYSQL_DRIVER=pymysql`` forces it. Both give the same
values: mysqlclient is opened without multi-statements, binds bytes as
``_binary``, takes ``localhost`` as TCP to 127.0.0.1 (libmariadb would take its
default Unix socket), and, like PyMySQL, returns a date it cannot parse
(``0000-00-00``) as text.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any

from pybaton.errors import ConfigError

if TYPE_CHECKING:
    from pybaton.connectors.sql.backends import Target

DRIVER_ENV = "PYBATON_MYSQL_DRIVER"
DRIVERS = ("mysqlclient", "pymysql")


def _seconds(value: str) -> float:
    match = re.match(r"^\s*(\d+(?:\.\d+)?)", value)
    return float(match.group(1)) if match else 10.0


@dataclass(frozen=True)
class MySQLDriver:
    """One driver module and how to open a connection with it."""

    name: str
    module: ModuleType

    @property
    def errors(self) -> tuple[type[BaseException], ...]:
        return (self.module.MySQLError,)

    def connect(self, target: Target) -> Any:
        """An autocommit connection to ``target`` (charset and timeout from the DSN's parameters)."""
        options: dict[str, Any] = {
            "host": target.host or "127.0.0.1", "port": int(target.port or 3306), "user": target.user,
            "password": target.password, "charset": target.params.get("charset", "utf8mb4").split(",")[0],
            "autocommit": True,
        }
        timeout = _seconds(target.params.get("timeout", "10"))
        if self.name == "pymysql":
            return self.module.connect(database=target.database or None, connect_timeout=timeout, **options)
        if options["host"] == "localhost":
            options["host"] = "127.0.0.1"
        if target.database:
            options["database"] = target.database
        return self.module.connect(connect_timeout=max(1, math.ceil(timeout)), multi_statements=False, binary_prefix=True,
                                   conv=_mysqlclient_conversions(), **options)


def _keep_text(convert: Callable[[str], Any]) -> Callable[[str], Any]:
    """A date/time converter that, like PyMySQL's, returns the text it cannot parse instead of None."""
    def converted(text: str) -> Any:
        value = convert(text)
        return text if value is None else value
    return converted


def _mysqlclient_conversions() -> dict[Any, Any]:
    from MySQLdb.constants import FIELD_TYPE
    from MySQLdb.converters import conversions

    conv = dict(conversions)
    for field_type in (FIELD_TYPE.DATETIME, FIELD_TYPE.TIMESTAMP, FIELD_TYPE.DATE, FIELD_TYPE.TIME):
        conv[field_type] = _keep_text(conv[field_type])
    return conv


def mysql_driver() -> MySQLDriver:
    """mysqlclient when importable and not overridden by ``PYBATON_MYSQL_DRIVER``, else PyMySQL."""
    import pymysql  # the mysql extra's driver: without it, the missing-extra error, whichever would run

    choice = os.environ.get(DRIVER_ENV, "").strip().lower()
    if choice and choice not in DRIVERS:
        raise ConfigError(f"{DRIVER_ENV}={choice!r}: expected one of {', '.join(DRIVERS)}")
    if choice != "pymysql":
        try:
            import MySQLdb
        except ImportError:
            if choice == "mysqlclient":
                raise ConfigError(f"{DRIVER_ENV}=mysqlclient, but mysqlclient is not installed "
                                  "(pip install mysqlclient; it needs libmariadb-dev and pkg-config)") from None
        else:
            return MySQLDriver("mysqlclient", MySQLdb)
    return MySQLDriver("pymysql", pymysql)
