"""Benchmark grant expansion alone, on the two shapes the design names.

- ``nested``: 100k users, 10k groups nested 5 levels deep (2,000 per level,
  each group inside one group of the level above), 1M direct memberships
  (10 random groups per user). Target: <= 30 s, <= 800 MB peak RSS.
- ``fanout``: Baton's fan-out case, 10k members of one group that is a member
  of 1,000 roles: 10M derived grants. Target (issue 19): <= 40 s, <= 800 MB.

The input is written straight into a working database with the store writer
(hand-encoded rows, no connector), then a fresh process opens that database
and runs only the expansion, reporting wall time and its own peak RSS
(``resource.getrusage``), so building the input does not count. CPU seconds
(user + system, all threads) are printed beside the wall time: on a busy
machine compare those, at a similar calibration.

    python bench/bench_expand.py nested        # or fanout, or all
    python bench/bench_expand.py nested --scale 0.1
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from _measure import calibration_seconds

from pybaton.c1z import C1ZFile, SyncWriter, syncs
from pybaton.c1z.writer import GrantRow
from pybaton.model import builders as b
from pybaton.sync import expand_wire as wire
from pybaton.sync.expand import expand_sync

CHUNK = 50_000
# At full scale (--scale 1); DESIGN.md §4 and issue 19.
TARGETS = {"nested": "<= 30 s, <= 800 MB", "fanout": "<= 40 s, <= 800 MB"}


def _user(i: int) -> str:
    return f"u{i:07d}"


def _group(i: int) -> str:
    return f"g{i:06d}"


def _member_rows(sync_id: str, pairs: Iterator[tuple[str, str]], ent_blobs: dict[str, bytes]) -> Iterator[GrantRow]:
    """Plain membership grants (group, user), encoded by hand like the expander does."""
    now = syncs.now_text()
    for group, user in pairs:
        ent = f"group:{group}:member"
        gid = f"{ent}:user:{user}"
        data = ent_blobs[group] + wire.principal_field("user", user) + wire.id_field(gid)
        yield ("group", group, ent, "user", user, gid, None, 0, data, sync_id, now)


def _write_chunked(writer: SyncWriter, rows: Iterator[GrantRow]) -> None:
    batch: list[GrantRow] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= CHUNK:
            writer.put_grant_rows(batch)
            batch = []
    writer.put_grant_rows(batch)


def _setup(c1z: C1ZFile, users: int, groups: list[str], extra_types: tuple[str, ...] = ()) -> tuple[SyncWriter, dict[str, bytes]]:
    """A sync run with user and group resources and one ``member`` entitlement per group."""
    run = syncs.start_run(c1z.conn)
    writer = SyncWriter(c1z, run.sync_id)
    writer.put_resource_types([b.resource_type("user", "User", traits=["user"]),
                               b.resource_type("group", "Group", traits=["group"]),
                               *(b.resource_type(t, t.title()) for t in extra_types)])
    for start in range(0, users, CHUNK):
        writer.put_resources(b.resource("user", _user(i), f"User {i}") for i in range(start, min(users, start + CHUNK)))
    writer.put_resources(b.resource("group", g, g) for g in groups)
    ents = [b.assignment(b.resource("group", g, g), "member") for g in groups]
    writer.put_entitlements(ents)
    blobs = {g: wire.entitlement_field(b.entitlement_ref(b.resource_id("group", g), "member").SerializeToString())
             for g in groups}
    return writer, blobs


def build_nested(c1z: C1ZFile, scale: float) -> str:
    users, levels, per_level, per_user = int(100_000 * scale), 5, int(2_000 * scale), 10
    rng = random.Random(42)
    groups = [_group(i) for i in range(levels * per_level)]
    writer, blobs = _setup(c1z, users, groups)
    nest = []
    for level in range(1, levels):
        for i in range(per_level):
            child = groups[level * per_level + i]
            parent = groups[(level - 1) * per_level + rng.randrange(per_level)]
            ent = b.entitlement_ref(b.resource_id("group", parent), "member")
            nest.append(b.grant(ent, b.resource_id("group", child), expandable=[f"group:{child}:member"]))
    writer.put_grants(nest)

    def pairs() -> Iterator[tuple[str, str]]:
        for u in range(users):
            for g in rng.sample(groups, per_user):
                yield g, _user(u)

    _write_chunked(writer, _member_rows(writer.sync_id, pairs(), blobs))
    return writer.sync_id


def build_fanout(c1z: C1ZFile, scale: float) -> str:
    members, dests = int(10_000 * scale), 1_000
    writer, blobs = _setup(c1z, members, ["everyone"], ("role",))
    roles = [b.resource("role", f"r{i:04d}", f"Role {i}") for i in range(dests)]
    writer.put_resources(roles)
    writer.put_entitlements(b.assignment(r, "assigned") for r in roles)
    _write_chunked(writer, _member_rows(writer.sync_id, (("everyone", _user(u)) for u in range(members)), blobs))
    writer.put_grants(b.grant(b.entitlement_ref(r, "assigned"), b.resource_id("group", "everyone"),
                              expandable=["group:everyone:member"]) for r in roles)
    return writer.sync_id


def _cpu() -> float:
    """User + system CPU of this process so far (all its threads: SQLite's sorter may use several)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def expand_only(workdir: Path, sync_id: str) -> dict[str, float]:
    """Run in a fresh process: open the prepared database, expand, report."""
    with C1ZFile.open(workdir / "unused.c1z", writable=True, workdir=workdir) as c1z:
        base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started, cpu = time.perf_counter(), _cpu()
        stats = expand_sync(c1z, SyncWriter(c1z, sync_id), {}, checkpoint=lambda: None)
        seconds, cpu = time.perf_counter() - started, _cpu() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2), "peak_rss_mb": round(peak / 1024, 1),
            "rss_before_mb": round(base_rss / 1024, 1),
            "derived": stats.derived, "destinations": stats.destinations, "edges": stats.edges,
            "repaged": int(stats.repaged)}


def bench(shape: str, scale: float) -> dict[str, float]:
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-expand-{shape}-"))
    try:
        with C1ZFile.open(workdir / "unused.c1z", writable=True, create=True, workdir=workdir) as c1z:
            started = time.perf_counter()
            sync_id = (build_nested if shape == "nested" else build_fanout)(c1z, scale)
            grants = c1z.conn.execute("select count(*) from v1_grants").fetchone()[0]
            print(f"{shape}: built {grants:,} input grants in {time.perf_counter() - started:.1f}s", flush=True)
        out = subprocess.run([sys.executable, __file__, "--expand-only", str(workdir), sync_id],
                             check=True, capture_output=True, text=True)
        result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{shape}: expansion {result['seconds']} s (cpu {result['cpu_seconds']} s), peak RSS "
              f"{result['peak_rss_mb']} MB, {int(result['derived']):,} derived grants over "
              f"{int(result['destinations']):,} entitlements{', moved to 64 KiB pages' if result['repaged'] else ''}"
              f"   [target {TARGETS[shape]}]", flush=True)
        return result
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("shape", nargs="?", default="all", choices=["nested", "fanout", "all"])
    parser.add_argument("--scale", type=float, default=1.0, help="shrink the shapes (e.g. 0.1) for a quick run")
    parser.add_argument("--expand-only", nargs=2, metavar=("WORKDIR", "SYNC_ID"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.expand_only:
        print(json.dumps(expand_only(Path(args.expand_only[0]), args.expand_only[1])))
        return
    print(f"calibration: {calibration_seconds():.2f} s (idle ~0.2-0.3 s)", flush=True)
    for shape in (["nested", "fanout"] if args.shape == "all" else [args.shape]):
        bench(shape, args.scale)


if __name__ == "__main__":
    main()
