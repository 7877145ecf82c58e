"""Shared pieces of the incremental-sync tests: listing a file's current full run, comparing two files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pybaton.c1z import C1ZFile
from pybaton.connector import Connector
from pybaton.sync import SyncOptions, sync

LISTED_TABLES = ("v1_resource_types", "v1_resources", "v1_entitlements", "v1_grants")

Listing = dict[str, list[tuple[str, bytes]]]


def listing(path: Path) -> Listing:
    """Every object of the latest finished full run (what every read command lists), by id."""
    with C1ZFile.open(path) as c1z:
        run = c1z.resolve_sync()
        return {table: sorted((str(row[0]), bytes(row[1])) for row in c1z.conn.execute(
            f"select external_id, data from {table} where sync_id = ?", (run.sync_id,)))
            for table in LISTED_TABLES}


def differences(got: Listing, want: Listing) -> list[str]:
    """What differs, readably (empty when the listings are identical)."""
    out = []
    for table in LISTED_TABLES:
        mine, theirs = dict(got[table]), dict(want[table])
        extra = sorted(set(mine) - set(theirs))
        missing = sorted(set(theirs) - set(mine))
        changed = sorted(k for k in set(mine) & set(theirs) if mine[k] != theirs[k])
        if extra or missing or changed:
            out.append(f"{table}: extra {extra[:5]}, missing {missing[:5]}, changed {changed[:5]}")
    return out


def run_types(path: Path) -> list[tuple[str, bool]]:
    with C1ZFile.open(path) as c1z:
        return [(r.sync_type, r.finished) for r in c1z.sync_runs()]


def sync_once(make: Callable[[], Connector[Any]], path: Path, *, incremental: bool) -> None:
    """One sync of a fresh connector (closed afterwards), full or incremental."""
    connector = make()
    try:
        sync(connector, path, SyncOptions(incremental=incremental))
    finally:
        connector.close()


def assert_same_as_full(make: Callable[[], Connector[Any]], path: Path, scratch: Path) -> None:
    """The file's current full run lists exactly what a fresh full sync of the same state lists."""
    full = scratch / "fresh-full.c1z"
    full.unlink(missing_ok=True)
    sync_once(make, full, incremental=False)
    assert differences(listing(path), listing(full)) == []
