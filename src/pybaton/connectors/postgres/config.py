"""Settings of the PostgreSQL connector (flags, ``BATON_*`` env vars, ``.baton.yaml``)."""

from __future__ import annotations

from typing import Literal

from psycopg.conninfo import conninfo_to_dict, make_conninfo
from pydantic import Field, SecretStr

from pybaton.connector.config import ConnectorConfig
from pybaton.errors import ConfigError


class PostgresConfig(ConnectorConfig):
    dsn: SecretStr = Field(
        description="libpq connection string or URI of the cluster, e.g. postgresql://baton@db:5432/postgres "
                    "(its database is the one the cluster-wide catalogs are read from)")
    password: SecretStr | None = Field(
        default=None, description="password, when not in --dsn (libpq's PGPASSWORD and ~/.pgpass work too)")
    databases: list[str] = Field(
        default_factory=list,
        description="databases to sync (default: every database that accepts connections, templates excluded)")
    schemas: list[str] = Field(
        default_factory=list, description="schemas to sync in each database (default: all but pg_* and "
                                          "information_schema)")
    include_extension_objects: bool = Field(
        default=False, description="also sync the tables and functions that extensions created")
    expand_public: bool = Field(
        default=True,
        description="record every role as a member of PUBLIC, so expansion shows PUBLIC's privileges on each role")
    reassign_owned_to: str | None = Field(
        default=None, description="when deleting a role that owns objects, REASSIGN OWNED to this role first "
                                  "(without it, deleting such a role is refused)")
    sslmode: Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] | None = Field(
        default=None, description="libpq sslmode (overrides the DSN's)")
    sslrootcert: str | None = Field(default=None, description="CA certificate file to verify the server with")
    connect_timeout: int = Field(default=10, ge=1, le=600, description="seconds to wait for a connection")

    def conninfo(self) -> str:
        """The DSN with the separate settings merged in (a bad DSN is a one-line config error)."""
        extra: dict[str, str] = {}
        if self.password is not None:
            extra["password"] = self.password.get_secret_value()
        if self.sslmode is not None:
            extra["sslmode"] = self.sslmode
        if self.sslrootcert is not None:
            extra["sslrootcert"] = self.sslrootcert
        try:
            dsn = self.dsn.get_secret_value()
            conninfo_to_dict(dsn)
            return make_conninfo(dsn, **extra)
        except Exception:  # psycopg.ProgrammingError; its text may quote the DSN, so say less
            raise ConfigError("not a valid libpq connection string or URI", field="dsn") from None
