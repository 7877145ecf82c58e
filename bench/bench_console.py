"""The web console over a large warehouse: the person page, a who-has first page, a review campaign's creation.

Builds a workspace whose systems' syncs are written straight into ``.c1z``
files (no connector runs) and loaded into its embedded SQLite warehouse:

* ``big`` (the identity provider): USERS users; ``group:g00000:member`` held by all of them (the 100k-holder
  entitlement), the first user in WIDE groups, filler grants up to GRANTS;
* SYSTEMS - 1 more systems of 10k users each: the first user (the same person, by email) in WIDE groups, filler.

Then, server time measured in-process through the ASGI app (routing, SQL, templates; no network):
the person page of that user (WIDE x SYSTEMS entitlements), the first page of who holds
``group:g00000:member``, and the creation of a review campaign over every holder of it (USERS grants).

Usage: python bench/bench_console.py [--users 100000] [--systems 4] [--wide 500] [--grants 300000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).parent))

from bench_warehouse import calibration


def write_system(path: Path, users: int, groups: int, wide: int, filler: int, big_group: bool) -> int:
    """One full sync: users, groups, the first user in ``wide`` groups, ``filler`` spread memberships."""
    from pybaton import model
    from pybaton.c1z import C1ZFile, SyncWriter, syncs

    user_rt = model.resource_type("user", "User", traits=["user"])
    group_rt = model.resource_type("group", "Group", traits=["group"])
    people = [model.resource(user_rt, f"u{i:06d}", f"User {i}",
                             traits=[model.user_trait(emails=[f"user{i}@example.com"], login=f"user{i}")])
              for i in range(users)]
    teams = [model.resource(group_rt, f"g{i:05d}", f"Group {i}", traits=[model.group_trait()]) for i in range(groups)]
    ents = [model.assignment(g, "member", grantable_to=[user_rt]) for g in teams]
    pairs: set[tuple[int, int]] = set()
    if big_group:
        pairs.update((0, u) for u in range(users))
    pairs.update((g, 0) for g in range(1, wide + 1))
    k = 0
    while len(pairs) < filler + (users if big_group else 0) + wide:
        pairs.add((1 + (k * 7919) % (groups - 1), (k * 13) % users))
        k += 1
    c1z = C1ZFile.create(path)
    try:
        run = syncs.start_run(c1z.conn)
        writer = SyncWriter(c1z, run.sync_id)
        writer.put_resource_types([user_rt, group_rt])
        writer.put_resources(people)
        writer.put_resources(teams)
        writer.put_entitlements(ents)
        writer.begin_bulk_grants()
        batch = []
        for g, u in sorted(pairs):
            batch.append(model.grant(ents[g], people[u]))
            if len(batch) >= 50_000:
                writer.put_grants(batch)
                batch = []
        writer.put_grants(batch)
        writer.end_bulk_grants()
        syncs.end_run(c1z.conn, run.sync_id)
        c1z.save()
    finally:
        c1z.close()
    return len(pairs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--users", type=int, default=100_000)
    ap.add_argument("--systems", type=int, default=4)
    ap.add_argument("--wide", type=int, default=500)
    ap.add_argument("--grants", type=int, default=300_000, help="filler grants per system")
    args = ap.parse_args()
    print(f"calibration: pure-Python loop of 10M steps {calibration():.2f} s")

    from starlette.testclient import TestClient

    from pybaton.console import reviews
    from pybaton.console.app import ConsoleConfig, create_app
    from pybaton.console.security import auth_settings
    from pybaton.reconcile import load_workspace
    from pybaton.reconcile.warehousing import load_systems, open_warehouse

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        names = ["big", *(f"s{i:02d}" for i in range(1, args.systems))]
        systems = {n: {"connector": "demo", "identity_provider": n == "big"} for n in names}
        (root / "pybaton.yaml").write_text(yaml.safe_dump({
            "data_dir": "data", "warehouse": {}, "identity": {"rules": ["email"]}, "systems": systems}))
        (root / "data").mkdir()
        started = time.perf_counter()
        total = 0
        for name in names:
            big = name == "big"
            total += write_system(root / "data" / f"{name}.c1z", args.users if big else 10_000,
                                  1_000 if big else 600, args.wide, args.grants, big)
        print(f"wrote {len(names)} systems, {total:,} grants: {time.perf_counter() - started:.0f} s")
        ws = load_workspace(root / "pybaton.yaml")
        with open_warehouse(ws) as wh:
            started = time.perf_counter()
            load_systems(ws, wh)
            print(f"loaded and correlated into SQLite: {time.perf_counter() - started:.0f} s")
            app = create_app(ConsoleConfig(ws, wh, auth_settings("127.0.0.1", login=False, has_users=False), "x"))
            client = TestClient(app)
            client.get("/")

            def timed(url: str, runs: int = 7) -> tuple[float, int]:
                times = []
                size = 0
                for _ in range(runs):
                    t0 = time.perf_counter()
                    response = client.get(url)
                    times.append(time.perf_counter() - t0)
                    assert response.status_code == 200, response.text[:500]
                    size = len(response.content)
                return statistics.median(times), size

            seconds, size = timed("/person?who=user0@example.com")
            _, entries = wh.person_access("user0@example.com")
            print(f"person page, {len(entries):,} entitlements in {len(names)} systems: median "
                  f"{seconds * 1000:.0f} ms ({size // 1024} KiB)   [target <= 300 ms for 2,000]")
            seconds, _ = timed("/entitlement?id=group:g00000:member&system=big")
            print(f"who-has first page, {args.users:,} holders: median {seconds * 1000:.0f} ms   "
                  "[target <= 300 ms for 100k]")
            seconds, _ = timed("/entitlement?id=group:g00000:member&system=big&sort=principal&dir=desc&offset=50000")
            print(f"who-has page at offset 50,000, sorted descending: median {seconds * 1000:.0f} ms   [no target]")
            started = time.perf_counter()
            campaign = reviews.create_campaign(ws, wh, "bench", reviews.Scope(
                systems=["big"], entitlements=["group:g00000:member"], default_reviewer="auditor"), "2030-01-01",
                by="bench")
            created = time.perf_counter() - started
            _, items = reviews.items(wh, campaign.campaign_id, limit=1)
            print(f"review campaign over {items:,} grants created: {created:.1f} s   [target <= 30 s for 100k]")
            seconds, _ = timed(f"/reviews/{campaign.campaign_id}")
            print(f"review page (first 50 of {items:,} items, progress): median {seconds * 1000:.0f} ms   "
                  "[no target]")


if __name__ == "__main__":
    main()
