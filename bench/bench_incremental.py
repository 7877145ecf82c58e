"""Incremental sync: how long a few changes take to reach a compacted full run.

1. ``ldap``: a real OpenLDAP with 10,000 users and 500 groups (bench_ldap's shape);
   a full sync, then 10 changed entries (attributes, memberships, a delete) and
   ``pybaton sync ldap --incremental``, each timed in a child process.
   Target: incremental ≤ 1 s (the full sync takes several seconds).
2. ``scale``: the synthetic ``scale`` shape (``--scale 1`` = 100k users, 10k groups
   nested 5 deep, 1M direct grants, ~3M grants after expansion); one membership
   removed from a group on the deepest nesting level, then the incremental run
   (incremental re-expansion and compaction included), timed in this process
   (wall and CPU). Target: ≤ 3 s at scale 1.

3. ``watch``: ``pybaton reconcile --watch`` on a two-system workspace (the demo company as
   identity provider, a second demo database as the app, a leavers policy): a person
   disabled in the identity provider, until their last grant in the app is gone.
   Target (issue: LDAP → PostgreSQL workspace): <= 10 s. This measures the demo pair,
   whose event feed the watch polls; LDAP and PostgreSQL have no feed (interval sweeps).

Usage: python bench/bench_incremental.py [ldap|scale|watch ...] [--scale F]
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from _measure import PYBATON, measure_sync
from bench_ldap import BASE, directory

from pybaton.connector import Changes, Page, PageToken
from pybaton.connectors.scale import ScaleConfig, ScaleConnector
from pybaton.connectors.scale.connector import GroupSyncer, ScaleSyncer
from pybaton.pb.c1.connector.v2 import grant_pb2, resource_pb2
from pybaton.sync import SyncOptions, sync
from pybaton.testing.servers import SlapdServer


def calibration() -> float:
    """A fixed pure-Python loop: how fast this machine is right now (quote it with the figures)."""
    started = time.perf_counter()
    total = 0
    for i in range(5_000_000):
        total += i * i % 7
    return time.perf_counter() - started


def ldap_changes(slapd: SlapdServer, rng: random.Random) -> None:
    """10 changed entries: 5 users retitled, 3 groups gain a member, 1 loses one, 1 user deleted."""
    users = rng.sample(range(10_000), 7)
    ldif = [f"dn: uid=u{u:05d},ou=people,{BASE}\nchangetype: modify\nreplace: title\ntitle: Changed\n\n"
            for u in users[:5]]
    ldif += [f"dn: cn=g{g:04d},ou=groups,{BASE}\nchangetype: modify\nadd: member\n"
             f"member: uid=u{users[5]:05d},ou=people,{BASE}\n\n" for g in (1, 2, 3)]
    slapd.ldapmodify("".join(ldif))
    text = slapd.ldapsearch("(objectClass=*)", "member", base=f"cn=g0004,ou=groups,{BASE}", scope="base")
    member = next(line.split(": ", 1)[1] for line in text.splitlines() if line.startswith("member: "))
    slapd.ldapmodify(f"dn: cn=g0004,ou=groups,{BASE}\nchangetype: modify\ndelete: member\nmember: {member}\n\n"
                     f"dn: uid=u{users[6]:05d},ou=people,{BASE}\nchangetype: delete\n")


def bench_ldap(users: int, groups: int) -> None:
    with SlapdServer(loglevel="none") as slapd, tempfile.TemporaryDirectory() as tmp:
        directory(slapd, users, groups, random.Random(6))
        out = Path(tmp) / "ldap.c1z"
        env = {**os.environ, "BATON_PASSWORD": slapd.bind_password}
        flags = ["ldap", "--url", slapd.url, "--bind-dn", slapd.bind_dn, "--base-dn", BASE, "--page-size", "500"]
        full = measure_sync(flags, out, env)
        time.sleep(1.1)  # modifyTimestamp has one-second resolution
        ldap_changes(slapd, random.Random(7))
        inc = measure_sync([*flags, "--incremental"], out, env)
        print(f"ldap ({users:,} users, {groups} groups, 10 changed entries): full sync {full.seconds:.1f} s, "
              f"incremental {inc.seconds:.2f} s (CPU {inc.cpu_seconds:.2f} s), {inc.count('grants'):,} grants "
              f"[target: incremental <= 1 s]")


class ChangingGroups(GroupSyncer):
    """The scale connector's groups, able to list changes: one group loses its first direct member.

    ``bench_scale`` picks the last group, on the deepest nesting level: the removal reaches every group
    above it and the app entitlements those hold (the most a single membership change re-expands).
    """

    changed_group = "g1"
    removed = False

    def current_cursor(self) -> str:
        return "0"

    def changes(self, cursor: str) -> Changes:
        group = self.build(int(self.changed_group[1:]))
        return Changes("1", resources=[group] if cursor == "0" else [])

    def grants(self, resource: resource_pb2.Resource, page: PageToken) -> Page[grant_pb2.Grant]:
        found = super().grants(resource, page)
        if not self.removed or resource.id.resource != self.changed_group or page.token:
            return found
        users = [g for g in found.items if g.principal.id.resource_type == "user"]
        return Page([g for g in found.items if g is not users[0]], found.next_token)


class ChangingScale(ScaleConnector):
    def __init__(self, config: ScaleConfig) -> None:
        super().__init__(config)
        self._changing = [ChangingGroups(s.data, s.latency) if isinstance(s, GroupSyncer) else s
                          for s in super().syncers()]

    def syncers(self) -> Sequence[ScaleSyncer]:
        return self._changing


def bench_scale(scale: float) -> None:
    config = ScaleConfig(users=int(100_000 * scale), groups=int(10_000 * scale), depth=5,
                         grants=int(1_000_000 * scale))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "scale.c1z"
        started = time.perf_counter()
        full = sync(ChangingScale(config), path)
        full_seconds = time.perf_counter() - started
        ChangingGroups.changed_group = f"g{config.groups - 1}"
        ChangingGroups.removed = True
        started, cpu = time.perf_counter(), time.process_time()
        inc = sync(ChangingScale(config), path, SyncOptions(incremental=True))
        seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
        print(f"scale {scale:g} ({full.stats.get('grants', 0):,} grants after expansion, file "
              f"{path.stat().st_size / 1e6:.0f} MB): full sync {full_seconds:.1f} s, one membership removed, "
              f"incremental (re-expansion + compaction) {seconds:.2f} s wall, {cpu_seconds:.2f} s CPU, "
              f"{inc.stats.get('grants', 0):,} grants [target at scale 1 (~3M grants): <= 3 s]")


WORKSPACE = """data_dir: data
policies: [policy.yaml]
identity: {rules: [email, login]}
brake: {max_revocations: 50, max_percent: 50}
systems:
  hr: {connector: demo, identity_provider: true, config: {data_dir: hr-db}}
  app: {connector: demo, config: {data_dir: app-db}}
"""


def _app_grants(root: Path, login: str) -> int:
    with sqlite3.connect(root / "app-db" / "acme.sqlite") as conn:
        return int(conn.execute("select count(*) from access where principal_type = 'user' and principal_id = ?",
                                (login,)).fetchone()[0])


def bench_watch() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "pybaton.yaml").write_text(WORKSPACE)
        (root / "policy.yaml").write_text("leavers:\n  - name: leavers\n")
        ws = ["-w", str(root / "pybaton.yaml")]
        subprocess.run([*PYBATON, "workspace", "sync", *ws], check=True, capture_output=True)
        subprocess.run([*PYBATON, "reconcile", "--once", "-p", *ws], check=True, capture_output=True)
        login = "ada.lovelace"
        watch = subprocess.Popen([*PYBATON, "reconcile", "--watch", "-p", "--poll", "0.5", "--interval", "1h", *ws],
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            assert watch.stdout is not None
            watch.stdout.readline()  # "watching ..."
            with sqlite3.connect(root / "hr-db" / "acme.sqlite") as conn:
                conn.execute("update users set status = 'disabled' where id = ?", (login,))
            changed = time.perf_counter()
            while _app_grants(root, login) and time.perf_counter() - changed < 120:
                time.sleep(0.05)
            seconds = time.perf_counter() - changed
        finally:
            watch.terminate()
            watch.wait(60)
        left = _app_grants(root, login)
        print(f"reconcile --watch (demo IdP -> demo app, poll 0.5 s): person disabled -> last app grant revoked in "
              f"{seconds:.1f} s ({left} grants left) [target: <= 10 s]")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("parts", nargs="*", default=["ldap", "scale", "watch"])
    parser.add_argument("--scale", type=float, default=0.2, help="scale shape factor (1 = ~3M expanded grants)")
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--groups", type=int, default=500)
    args = parser.parse_args()
    print(f"calibration: fixed pure-Python loop {calibration():.2f} s")
    if "ldap" in args.parts:
        bench_ldap(args.users, args.groups)
    if "scale" in args.parts:
        bench_scale(args.scale)
    if "watch" in args.parts:
        bench_watch()


if __name__ == "__main__":
    main()
