"""Sync of 50,000 users and 2,000 groups from a local SCIM 2.0 server (scim2-server), workers 1 vs 8.

Seeds the server over HTTP in the fastest way it supports (``/Bulk``, up to
its ``maxOperations`` per request, several requests in flight), then runs the
``scim`` connector in a child process once per ``--workers`` value and prints,
for each: wall time, HTTP requests made, peak RSS and what was stored. The
seeding time is printed separately.

Usage: python bench/bench_scim.py [--users N --groups N --members N --workers 1,8 --page-size N]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from pybaton.connector.http import HttpClient, RetryConfig
from pybaton.connector.http_auth import BearerAuth
from pybaton.connectors.scim.client import GROUP_SCHEMA, USER_SCHEMA, ScimClient
from pybaton.testing.servers import ScimServer


def _bulk_ids(client: ScimClient, operations: Sequence[dict[str, Any]]) -> list[str]:
    """Send one Bulk request; the ids of what it created (from each operation's ``location``)."""
    results = client.bulk(operations)
    failed = [r for r in results if not str(r.get("status", "")).startswith("2")]
    if failed:
        raise SystemExit(f"bulk seeding failed: {failed[0]}")
    return [str(r["location"]).rstrip("/").rsplit("/", 1)[1] for r in results]


def _chunks(ops: list[dict[str, Any]], size: int, max_bytes: int) -> list[list[dict[str, Any]]]:
    """Bulk requests within the server's ``maxOperations`` and ``maxPayloadSize`` (with a margin)."""
    out: list[list[dict[str, Any]]] = [[]]
    used = 0
    for op in ops:
        cost = len(json.dumps(op)) + 2
        if out[-1] and (len(out[-1]) >= size or used + cost > max_bytes * 0.9):
            out.append([])
            used = 0
        out[-1].append(op)
        used += cost
    return out


def _in_bulks(client: ScimClient, ops: list[dict[str, Any]], size: int, parallel: int) -> list[str]:
    chunks = _chunks(ops, size, client.capabilities.bulk_max_payload or 1_000_000)
    with ThreadPoolExecutor(parallel) as pool:
        return [rid for ids in pool.map(lambda c: _bulk_ids(client, c), chunks) for rid in ids]


def seed(client: ScimClient, users: int, groups: int, members: int, parallel: int) -> tuple[int, int]:
    """Users, then groups with random user members, then one nested group in every fifth group."""
    caps = client.capabilities
    size = caps.bulk_max_operations or 100
    rnd = random.Random(1)
    user_ops = [{"method": "POST", "path": "/Users", "bulkId": f"u{i}",
                 "data": {"schemas": [USER_SCHEMA], "userName": f"user{i:06d}", "active": i % 50 != 0,
                          "emails": [{"value": f"user{i:06d}@example.org", "primary": True}]}}
                for i in range(users)]
    user_ids = _in_bulks(client, user_ops, size, parallel)
    group_ops = [{"method": "POST", "path": "/Groups", "bulkId": f"g{i}",
                  "data": {"schemas": [GROUP_SCHEMA], "displayName": f"group{i:05d}",
                           "members": [{"value": uid, "type": "User"} for uid in rnd.sample(user_ids, members)]}}
                 for i in range(groups)]
    group_ids = _in_bulks(client, group_ops, size, parallel)
    nest_ops = [{"method": "PATCH", "path": f"/Groups/{group_ids[i]}",
                 "data": {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                          "Operations": [{"op": "add", "path": "members",
                                          "value": [{"value": group_ids[i - 1], "type": "Group"}]}]}}
                for i in range(1, groups) if i % 5]
    for chunk in _chunks(nest_ops, size, caps.bulk_max_payload or 1_000_000):
        client.bulk(chunk)
    return len(user_ids), len(group_ids)


def run_sync(url: str, token: str, out: Path, workers: int, page_size: int, members_in_list: bool) -> dict[str, Any]:
    """In a child process: sync, then report figures as one JSON line (RSS of that process alone)."""
    from pybaton.connectors.scim import ScimConfig, ScimConnector
    from pybaton.sync import SyncOptions, sync

    connector = ScimConnector(ScimConfig(url=url, token=token,  # type: ignore[arg-type]
                                         members_in_list=members_in_list))
    started = time.perf_counter()
    try:
        result = sync(connector, out, SyncOptions(workers=workers, page_size=page_size))
    finally:
        connector.close()
    return {"seconds": time.perf_counter() - started, "requests": connector.http.stats.requests,
            "retries": connector.http.stats.retries, "stats": result.stats,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def child(argv: list[str]) -> None:
    url, token, out, workers, page_size, members = argv
    print(json.dumps(run_sync(url, token, Path(out), int(workers), int(page_size), members == "1")))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--users", type=int, default=50_000)
    ap.add_argument("--groups", type=int, default=2_000)
    ap.add_argument("--members", type=int, default=25, help="user members per group")
    ap.add_argument("--workers", default="1,8")
    ap.add_argument("--page-size", type=int, default=1000)
    ap.add_argument("--seed-parallel", type=int, default=4, help="Bulk requests in flight while seeding")
    args = ap.parse_args()
    import subprocess

    with ScimServer() as server, tempfile.TemporaryDirectory() as tmp:
        http = HttpClient(server.base_url, auth=BearerAuth(server.token), timeout=600,
                          retry=RetryConfig(max_retries=2), name="seed")
        started = time.perf_counter()
        n_users, n_groups = seed(ScimClient(http), args.users, args.groups, args.members, args.seed_parallel)
        print(f"seeded {n_users:,} users and {n_groups:,} groups ({args.members} members each, 4 in 5 nested) "
              f"over /Bulk in {time.perf_counter() - started:.1f} s ({http.stats.requests} requests)")
        started = time.perf_counter()
        listed = sum(1 for _ in ScimClient(http).iterate("User", args.page_size))
        print(f"server floor: listing {listed:,} users alone in pages of {args.page_size} takes "
              f"{time.perf_counter() - started:.1f} s (scim2-server filters and sorts its whole store per page)")
        http.close()
        runs = [(int(w), m) for m in (True, False) for w in args.workers.split(",")]
        for workers, members in runs:
            out = Path(tmp) / f"scim-{workers}-{members}.c1z"
            proc = subprocess.run([sys.executable, __file__, "--child", server.base_url, server.token, str(out),
                                   str(workers), str(args.page_size), "1" if members else "0"],
                                  capture_output=True, text=True)
            if proc.returncode != 0:
                raise SystemExit(f"sync failed:\n{proc.stderr[-3000:]}")
            fig = json.loads(proc.stdout.strip().splitlines()[-1])
            stats = fig["stats"]
            how = "members from the group listing" if members else "--no-members-in-list: GET per group"
            print(f"sync scim ({how}, workers {workers}, page size {args.page_size}): {fig['seconds']:.1f} s, "
                  f"{fig['requests']:,} HTTP requests ({fig['retries']} retries), peak RSS "
                  f"{fig['peak_rss_mb']:.0f} MB; {stats.get('resources', 0):,} resources, "
                  f"{stats.get('grants', 0):,} grants (expansion included)")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2:])
    else:
        main()
