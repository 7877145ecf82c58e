"""Shared pytest configuration of the suite.

Fixtures live in plugin modules next to this file, one module per topic, listed
in ``pytest_plugins`` below (add yours there rather than defining fixtures here).
"""

pytest_plugins = [
    "fixtures_servers",  # postgres_server, mariadb_server, slapd_server, scim_server
    "provision_helpers",  # cli (pybaton in-process), world (a synced demo)
    "fixtures_warehouse",  # warehouse_url (SQLite and PostgreSQL), write_sync
]
