"""Incremental sync: how long a few changes take to reach a compacted full run.

1. ``ldap``: a real OpenLDAP with 10,000 users and 500 groups (bench_ldap's shape);
   a full sync, then 10 changed entries (attributes, memberships, a delete) and
   ``pybaton sync ldap --incremental``, each timed in a child process; once with the
   syncprov overlay (RFC 4533: the sync cookie) and once without (entryCSN and a DN
   scan). A second incremental run in this process is timed phase by phase (change
   listing, re-reading, compaction, expansion, saving; the rest is interpreter start).
   Target: incremental ≤ 1 s (the full sync takes several seconds).
2. ``scale``: the synthetic ``scale`` shape (``--scale 1`` = 100k users, 10k groups
   nested 5 deep, 1M direct grants, ~3M grants after expansion); one membership
   removed from a group on the deepest nesting level, then the incremental run
   (incremental re-expansion and compaction included), timed in this process
   (wall and CPU). Target: ≤ 3 s at scale 1, the default (its full sync first takes
   about 40 s; ``--scale 0.2`` for a quicker look).

3. ``watch``: ``pybaton reconcile --watch`` on the reconcile end-to-end shape — OpenLDAP
   (syncprov) as identity provider, PostgreSQL as the app, a birthright role for
   Engineering and a leavers policy that disables the login: a person disabled in LDAP,
   until PostgreSQL (its catalogs) shows no membership and no login for them. LDAP has no
   event feed, so the watch's sweep (``--interval 2s``) syncs it incrementally, by the
   sync cookie. Target: <= 10 s. Then the same on the demo pair (the demo company as
   identity provider and as app), whose event feed the watch polls every 0.5 s.

Usage: python bench/bench_incremental.py [ldap|scale|watch ...] [--scale F]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import random
import resource
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from _measure import PYBATON, calibration_seconds, measure_sync
from bench_ldap import BASE, directory

from pybaton.connector import Changes, Page, PageToken
from pybaton.connectors.ldap import LdapConfig, LdapConnector
from pybaton.connectors.scale import ScaleConfig, ScaleConnector
from pybaton.connectors.scale.connector import GroupSyncer, ScaleSyncer
from pybaton.pb.c1.connector.v2 import grant_pb2, resource_pb2
from pybaton.sync import SyncOptions, sync
from pybaton.testing.servers import PostgresServer, SlapdServer
from pybaton.testing.servers.slapd_syncprov import SyncprovSlapdServer


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


# What the in-process breakdown times: (module, attribute, label). Missing ones are skipped, so the
# breakdown survives the engine's functions being renamed or split.
PHASES = (
    ("pybaton.sync.incremental", "IncrementalSync._collect", "change listing (connector)"),
    ("pybaton.sync.incremental", "IncrementalSync._write_upserts", "re-reading changed entries (connector)"),
    ("pybaton.sync.incremental", "mark_gone", "compaction"),
    ("pybaton.sync.incremental", "holders_of_gone", "compaction"),
    ("pybaton.sync.incremental", "_write_deletions", "compaction"),
    ("pybaton.sync.incremental", "compact", "compaction"),
    ("pybaton.sync.incremental", "before_compaction", "expansion"),
    ("pybaton.sync.expand", "expand_sync", "expansion"),
    ("pybaton.sync.incremental", "expand_changes", "expansion"),
    ("pybaton.sync.engine", "SyncEngine._check_integrity", "integrity check"),
    ("pybaton.sync.incremental", "IncrementalSync._integrity_by_difference", "integrity check"),
    ("pybaton.c1z.file", "C1ZFile.save", "saving the .c1z (vacuumed copy when runs were dropped)"),
    ("pybaton.c1z.file", "C1ZFile.open", "opening the .c1z"),
    ("pybaton.sync.incremental", "IncrementalSync._finish", "finishing the runs (stats)"),
    ("pybaton.sync.engine", "prune_runs", "dropping old runs"),
    ("pybaton.sync.incremental", "prune_runs", "dropping old runs"),
    # Inside "re-reading changed entries": the LDAP reads alone (members, and their resolution).
    ("pybaton.connectors.ldap.syncers", "MembershipSyncer._principals", "of which LDAP group reads"),
    # The file layer: deciding whether the kept working database equals the file, unpacking it when it
    # does not (inside "opening"), packing the frames (inside "saving"), marking the kept database clean.
    ("pybaton.c1z.workdb", "prepare", "checking the kept working database"),
    ("pybaton.c1z.container", "unpack", "of which unpacking the .c1z"),
    ("pybaton.c1z.container", "pack", "of which packing the .c1z (changed slices)"),
    ("pybaton.c1z.workdb", "keep", "keeping the working database"),
)


@contextlib.contextmanager
def timed_phases(spent: dict[str, tuple[float, float]]) -> Iterator[None]:
    """Wrap the engine's phases (see PHASES) to add their wall and CPU time into ``spent`` while inside."""
    undo: list[tuple[Any, str, Any]] = []
    for module_name, dotted, label in PHASES:
        try:
            owner: Any = importlib.import_module(module_name)
        except ModuleNotFoundError:  # an older or newer engine without it
            continue
        *path, name = dotted.split(".")
        for part in path:
            owner = getattr(owner, part, None)
        original = getattr(owner, name, None) if owner is not None else None
        if original is None:
            continue

        def wrapper(*args: Any, _original: Any = original, _label: str = label, **kwargs: Any) -> Any:
            started, cpu = time.perf_counter(), time.process_time()
            try:
                return _original(*args, **kwargs)
            finally:
                wall0, cpu0 = spent.get(_label, (0.0, 0.0))
                spent[_label] = (wall0 + time.perf_counter() - started, cpu0 + time.process_time() - cpu)

        undo.append((owner, name, vars(owner).get(name, original)))  # the raw descriptor (a classmethod)
        setattr(owner, name, wrapper)
    try:
        yield
    finally:
        for owner, name, original in reversed(undo):
            setattr(owner, name, original)


@contextlib.contextmanager
def pack_report() -> Iterator[list[str]]:
    """Collect the packer's one-line reports (frames compressed and copied) while inside."""
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            message = record.getMessage()
            if "packed" in message and "frames" in message:
                lines.append(message.split(": ", 1)[-1])

    logger = logging.getLogger("pybaton.c1z")
    handler, level = Collect(logging.DEBUG), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield lines
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def breakdown(slapd: SlapdServer, out: Path) -> tuple[float, float, dict[str, tuple[float, float]], list[str]]:
    """One more incremental run (10 other changed entries), in this process, timed phase by phase."""
    time.sleep(1.1)
    ldap_changes(slapd, random.Random(8))
    connector = LdapConnector(LdapConfig.model_validate({"url": slapd.url, "bind_dn": slapd.bind_dn,
                                                         "password": slapd.bind_password, "base_dn": BASE}))
    spent: dict[str, tuple[float, float]] = {}
    before, started = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    try:
        with timed_phases(spent), pack_report() as packs:
            sync(connector, out, SyncOptions(incremental=True))
    finally:
        connector.close()
    after = resource.getrusage(resource.RUSAGE_SELF)
    return (time.perf_counter() - started, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime,
            spent, packs)


def bench_ldap(users: int, groups: int) -> None:
    """Both ways of listing changes: RFC 4533 (syncprov) and timestamps with a DN scan (plain slapd)."""
    for label, server in (("RFC 4533 sync cookie, syncprov", SyncprovSlapdServer),
                          ("entryCSN + DN scan, no syncprov", SlapdServer)):
        with server(loglevel="none") as slapd, tempfile.TemporaryDirectory() as tmp:
            directory(slapd, users, groups, random.Random(6))
            out = Path(tmp) / "ldap.c1z"
            env = {**os.environ, "BATON_PASSWORD": slapd.bind_password}
            flags = ["ldap", "--url", slapd.url, "--bind-dn", slapd.bind_dn, "--base-dn", BASE, "--page-size", "500"]
            full = measure_sync([*flags, "--incremental"], out, env)  # no full run yet: a full sync, kept
            time.sleep(1.1)  # modifyTimestamp has one-second resolution
            ldap_changes(slapd, random.Random(7))
            inc = measure_sync([*flags, "--incremental"], out, env)
            wall, cpu, spent, packs = breakdown(slapd, out)
        parts = ", ".join(f"{name} {w:.2f} s (CPU {c:.2f} s)" for name, (w, c) in spent.items())
        outer = [w for name, (w, _c) in spent.items() if not name.startswith("of which")]
        print(f"ldap [{label}] ({users:,} users, {groups} groups, 10 changed entries): full sync {full.seconds:.1f} s, "
              f"incremental {inc.seconds:.2f} s wall (CPU {inc.cpu_seconds:.2f} s), {inc.count('grants'):,} grants "
              f"[target: incremental <= 1 s]")
        print(f"  in process (no interpreter start): {wall:.2f} s wall, CPU {cpu:.2f} s — {parts}, "
              f"other {wall - sum(outer):.2f} s")
        print("  " + ("; ".join(packs) or "no frame report (an engine without chunked packing)"))


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
        # Incremental-capable from the start: there is no full run yet, so this is a full sync, and
        # it keeps its working database for the next run (PYBATON_KEEP_WORKDB=0 measures without).
        full = sync(ChangingScale(config), path, SyncOptions(incremental=True))
        full_seconds = time.perf_counter() - started
        ChangingGroups.changed_group = f"g{config.groups - 1}"
        ChangingGroups.removed = True
        spent: dict[str, tuple[float, float]] = {}
        started, cpu = time.perf_counter(), time.process_time()
        with timed_phases(spent), pack_report() as packs:
            inc = sync(ChangingScale(config), path, SyncOptions(incremental=True))
        seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
        print(f"scale {scale:g} ({full.stats.get('grants', 0):,} grants after expansion, file "
              f"{path.stat().st_size / 1e6:.0f} MB): full sync {full_seconds:.1f} s, one membership removed, "
              f"incremental (re-expansion + compaction) {seconds:.2f} s wall, {cpu_seconds:.2f} s CPU, "
              f"{inc.stats.get('grants', 0):,} grants [target at scale 1 (~3M grants): <= 3 s]")
        parts = ", ".join(f"{name} {w:.2f} s (CPU {c:.2f} s)" for name, (w, c) in spent.items())
        outer = sum(w for name, (w, _c) in spent.items() if not name.startswith("of which"))
        print(f"  phases: {parts}, other {seconds - outer:.2f} s")
        print("  " + ("; ".join(packs) or "no frame report (an engine without chunked packing)"))


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


LDAP_PG_POLICY = """birthright:
  - {name: eng-db, when: 'department == "Engineering"', system: pg, entitlement: "role:bench_eng:member",
     create_account: true}
leavers:
  - {name: leavers-db, systems: [pg], account: disable}
"""


def ldap_pg_workspace(slapd: SlapdServer, people: int) -> str:
    """The reconcile end-to-end shape (tests/test_reconcile_servers.py): LDAP people drive PostgreSQL roles."""
    ldif = [f"dn: ou=people,{BASE}\nobjectClass: organizationalUnit\nou: people\n\n"]
    ldif += [f"dn: uid=p{i:04d},ou=people,{BASE}\nobjectClass: inetOrgPerson\nuid: p{i:04d}\ncn: Person {i}\n"
             f"sn: {i}\nmail: p{i:04d}@example.org\ndepartmentNumber: {'Engineering' if i % 2 == 0 else 'Sales'}\n"
             "employeeType: active\n\n" for i in range(people)]
    slapd.ldapadd("".join(ldif))
    return f"""data_dir: data
policies: [policy.yaml]
identity: {{rules: [email, login]}}
brake: {{max_revocations: 50, max_percent: 100}}
systems:
  ldap:
    connector: ldap
    identity_provider: true
    read_only: true
    incremental: true
    attributes: {{department: departmentNumber}}
    config: {{url: "{slapd.url}", base_dn: "{BASE}", bind_dn: "{slapd.bind_dn}", password_env: BENCH_LDAP_PASSWORD,
              disabled_attribute: employeeType, disabled_values: [disabled]}}
  pg:
    connector: postgres
    config: {{dsn_env: BENCH_PG_DSN, databases: [postgres]}}
    protected: ["role:public:*"]
    disable: {{revoke: "cluster:cluster:login"}}
"""


def _pg_access(pg: PostgresServer, login: str) -> tuple[int, str]:
    """Role memberships of ``login`` and whether it can log in (``t``/``f``), from the server's catalogs."""
    members = pg.psql(f"SELECT count(*) FROM pg_auth_members m JOIN pg_roles u ON u.oid = m.member "
                      f"WHERE u.rolname = '{login}';")
    return int(members.strip()), pg.psql(f"SELECT rolcanlogin FROM pg_roles WHERE rolname = '{login}';").strip()


def bench_watch_ldap(people: int = 200, interval: str = "2s") -> None:
    """``reconcile --watch`` on LDAP (syncprov) -> PostgreSQL: a person disabled in LDAP, until PostgreSQL
    shows no role membership and no login for them. LDAP has no event feed: the watch's sweep every
    ``interval`` syncs it incrementally (the sync cookie)."""
    with SyncprovSlapdServer(loglevel="none") as slapd, PostgresServer() as pg, \
            tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "pybaton.yaml").write_text(ldap_pg_workspace(slapd, people))
        (root / "policy.yaml").write_text(LDAP_PG_POLICY)
        pg.psql("CREATE ROLE bench_eng NOLOGIN;")
        env = {**os.environ, "BENCH_LDAP_PASSWORD": slapd.bind_password, "BENCH_PG_DSN": pg.dsn()}
        ws = ["-w", str(root / "pybaton.yaml")]
        subprocess.run([*PYBATON, "reconcile", "--once", "-p", *ws], check=True, capture_output=True, env=env)
        login = "p0000"
        before = _pg_access(pg, login)
        rusage = resource.getrusage(resource.RUSAGE_CHILDREN)
        watch = subprocess.Popen([*PYBATON, "reconcile", "--watch", "-p", "--poll", "0.5", "--interval", interval,
                                  *ws], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
        try:
            assert watch.stdout is not None
            watch.stdout.readline()  # "watching ..."
            slapd.ldapmodify(f"dn: uid={login},ou=people,{BASE}\nchangetype: modify\nreplace: employeeType\n"
                             "employeeType: disabled\n")
            changed = time.perf_counter()
            while _pg_access(pg, login) != (0, "f") and time.perf_counter() - changed < 120:
                time.sleep(0.1)
            seconds = time.perf_counter() - changed
        finally:
            watch.terminate()
            watch.wait(60)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = after.ru_utime + after.ru_stime - rusage.ru_utime - rusage.ru_stime
        print(f"reconcile --watch (LDAP syncprov -> PostgreSQL, {people} people, --interval {interval}): person "
              f"disabled in LDAP -> PostgreSQL membership and login gone in {seconds:.1f} s (before: {before}, "
              f"after: {_pg_access(pg, login)}; watch process CPU {cpu:.1f} s over its life) [target: <= 10 s]")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("parts", nargs="*", default=["ldap", "scale", "watch"])
    parser.add_argument("--scale", type=float, default=1.0, help="scale shape factor (1 = ~3M expanded grants)")
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--groups", type=int, default=500)
    args = parser.parse_args()
    print(f"calibration: fixed pure-Python loop {calibration_seconds():.2f} s")
    if "ldap" in args.parts:
        bench_ldap(args.users, args.groups)
    if "scale" in args.parts:
        bench_scale(args.scale)
    if "watch" in args.parts:
        bench_watch_ldap()
        bench_watch()


if __name__ == "__main__":
    main()
