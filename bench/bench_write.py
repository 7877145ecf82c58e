"""Write 1,000,000 grants (10k users, 1k groups) into a packed .c1z; print wall time and peak RSS.

Each figure is measured in a fresh child process so peak RSS is this work's alone.
Usage: python bench/bench_write.py [--grants N] [--users N] [--groups N]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _measure import calibration_seconds


def _build_and_write(path: str, users: int, groups: int, grants: int, out: mp.Queue) -> None:  # type: ignore[type-arg]
    from pybaton import model
    from pybaton.c1z import C1ZFile, SyncWriter, syncs

    started = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_SELF)
    cpu_before = before.ru_utime + before.ru_stime
    user_rt = model.resource_type("user", "User", traits=["user"])
    group_rt = model.resource_type("group", "Group", traits=["group"])
    user_res = [model.resource(user_rt, f"u{i:06d}", f"User {i}",
                               traits=[model.user_trait(emails=[f"user{i}@example.com"], login=f"user{i}")])
                for i in range(users)]
    group_res = [model.resource(group_rt, f"g{i:05d}", f"Group {i}", traits=[model.group_trait()])
                 for i in range(groups)]
    ents = [model.assignment(g, "member", grantable_to=[user_rt], description=f"Member of {g.display_name}")
            for g in group_res]
    per_group = grants // groups
    c1z = C1ZFile.create(Path(path))
    run = syncs.start_run(c1z.conn)
    w = SyncWriter(c1z, run.sync_id)
    w.put_resource_types([user_rt, group_rt])
    w.put_resources(user_res)
    w.put_resources(group_res)
    w.put_entitlements(ents)

    def all_grants():  # type: ignore[no-untyped-def]
        for gi, ent in enumerate(ents):
            for k in range(per_group):
                yield model.grant(ent, user_res[(gi * 7919 + k * 13) % users])

    w.begin_bulk_grants()
    batch = []
    for g in all_grants():
        batch.append(g)
        if len(batch) >= 50_000:
            w.put_grants(batch)
            batch = []
    if batch:
        w.put_grants(batch)
    w.end_bulk_grants()
    written = time.perf_counter()
    syncs.end_run(c1z.conn, run.sync_id)
    c1z.save()
    c1z.close()
    done = time.perf_counter()
    own, helpers = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    out.put({"rows_seconds": written - started, "pack_seconds": done - written, "total_seconds": done - started,
             "cpu_seconds": own.ru_utime + own.ru_stime - cpu_before,
             "helper_cpu_seconds": helpers.ru_utime + helpers.ru_stime,
             "peak_rss_mb": own.ru_maxrss / 1024, "helper_rss_mb": helpers.ru_maxrss / 1024,
             "file_mb": Path(path).stat().st_size / 1e6})


def _list_one(path: str, cache_dir: str) -> tuple[float, float, int]:
    """One cold start of the CLI listing one entitlement's grants (JSON): wall, CPU (user + system), count."""
    env = {**os.environ, "PYBATON_CACHE_DIR": cache_dir}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "pybaton.cli.main", "-f", path, "-o", "json", "grants",
                           "-e", "group:g00500:member"], capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    count = len(json.loads(proc.stdout)["grants"]) if proc.returncode == 0 else -1
    return elapsed, cpu, count


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--grants", type=int, default=1_000_000)
    ap.add_argument("--users", type=int, default=10_000)
    ap.add_argument("--groups", type=int, default=1_000)
    ap.add_argument("--skip-list", action="store_true")
    args = ap.parse_args()
    print(f"calibration: {calibration_seconds():.2f} s (idle machine ~0.20-0.30 s)", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "bench.c1z")
        q: mp.Queue = mp.get_context("spawn").Queue()  # type: ignore[type-arg]
        proc = mp.get_context("spawn").Process(target=_build_and_write,
                                               args=(path, args.users, args.groups, args.grants, q))
        proc.start()
        result = q.get()
        proc.join()
        helper = ""
        if result["helper_cpu_seconds"] > 0:
            helper = (f" + grant loader {result['helper_cpu_seconds']:.1f} s CPU / "
                      f"{result['helper_rss_mb']:.0f} MB on the other core")
        print(f"write {args.grants:,} grants ({args.users:,} users, {args.groups:,} groups): "
              f"{result['total_seconds']:.1f} s (rows {result['rows_seconds']:.1f} s + pack "
              f"{result['pack_seconds']:.1f} s), CPU {result['cpu_seconds']:.1f} s, peak RSS "
              f"{result['peak_rss_mb']:.0f} MB{helper}, file {result['file_mb']:.1f} MB   "
              "[target <= 7.6 s, <= 400 MB; Go SDK same shape: Pebble 7.6 s / 590 MB, SQLite 52.6 s / 56 MB]")
        if not args.skip_list:
            cache = str(Path(tmp) / "cache")
            # As bench_read does before each first open: the write above left ~500 MB of working copy
            # and file to write back, which the first read (itself writing 500 MB) would otherwise wait on.
            os.sync()
            first, first_cpu, count = _list_one(path, cache)
            again, again_cpu, _ = min(_list_one(path, cache) for _ in range(3))
            print(f"pybaton grants -e <one entitlement>, new CLI process: {again:.2f} s (CPU {again_cpu:.2f} s) "
                  f"({count} grants; the first read of the file, which unpacks it into the read cache, "
                  f"took {first:.2f} s, CPU {first_cpu:.2f} s)   [target <= 0.2 s after, <= 1.0 s first]")


if __name__ == "__main__":
    main()
