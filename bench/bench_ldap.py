"""Full sync of the ``ldap`` connector against a real OpenLDAP: 10,000 users and 500 groups.

Starts a throw-away slapd (pybaton.testing.servers), loads the directory with
ldapadd, then times ``pybaton sync ldap`` in a child process (wall time, peak
RSS), nested-group expansion included.

Shape (defaults): 10,000 inetOrgPerson/posixAccount users in 20 primary
(gidNumber) groups; 500 groups: 400 groupOfNames of 50 members each (one in
eight also holds a nested group), 80 posixGroups of 30 memberUid each, 20
groupOfUniqueNames of 50 members each.
Usage: python bench/bench_ldap.py [--users N --groups N --page-size N]
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from pathlib import Path

from _measure import measure_sync

from pybaton.testing.servers import SlapdServer

BASE = "dc=example,dc=org"


def users_ldif(count: int) -> list[str]:
    return [f"dn: uid=u{i:05d},ou=people,{BASE}\nobjectClass: inetOrgPerson\nobjectClass: posixAccount\n"
            f"uid: u{i:05d}\ncn: User {i}\nsn: {i}\ngivenName: User\nmail: u{i:05d}@example.org\n"
            f"uidNumber: {100000 + i}\ngidNumber: {5000 + i % 20}\nhomeDirectory: /home/u{i:05d}\n\n"
            for i in range(count)]


def load(slapd: SlapdServer, entries: list[str], chunk: int = 1000) -> None:
    """ldapadd in chunks (each call of the test helper has a time limit)."""
    for start in range(0, len(entries), chunk):
        slapd.ldapadd("".join(entries[start:start + chunk]))


def directory(slapd: SlapdServer, users: int, groups: int, rng: random.Random) -> None:
    containers = [f"dn: ou={ou},{BASE}\nobjectClass: organizationalUnit\nou: {ou}\n\n" for ou in ("people", "groups")]
    load(slapd, containers + users_ldif(users) + groups_ldif(groups, users, rng))


def groups_ldif(count: int, users: int, rng: random.Random) -> list[str]:
    blocks = []
    for g in range(count):
        dn = f"cn=g{g:04d},ou=groups,{BASE}"
        kind = g % 25  # 20 of 25 groupOfNames, 4 posixGroup, 1 groupOfUniqueNames
        if kind < 20:
            members = [f"uid=u{u:05d},ou=people,{BASE}" for u in rng.sample(range(users), 50)]
            if g % 8 == 0 and g > 0:
                members.append(f"cn=g{rng.randrange(g):04d},ou=groups,{BASE}")
            body = "objectClass: groupOfNames\n" + "".join(f"member: {m}\n" for m in members)
        elif kind < 24:
            body = f"objectClass: posixGroup\ngidNumber: {5000 + g % 20}\n" + "".join(
                f"memberUid: u{u:05d}\n" for u in rng.sample(range(users), 30))
        else:
            body = "objectClass: groupOfUniqueNames\n" + "".join(
                f"uniqueMember: uid=u{u:05d},ou=people,{BASE}\n" for u in rng.sample(range(users), 50))
        blocks.append(f"dn: {dn}\ncn: g{g:04d}\n{body}\n")
    return blocks


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--users", type=int, default=10_000)
    ap.add_argument("--groups", type=int, default=500)
    ap.add_argument("--page-size", type=int, default=500)
    args = ap.parse_args()
    rng = random.Random(6)
    with SlapdServer(loglevel="none") as slapd, tempfile.TemporaryDirectory() as tmp:
        began = time.perf_counter()
        directory(slapd, args.users, args.groups, rng)
        setup = time.perf_counter() - began
        out = Path(tmp) / "ldap.c1z"
        env = {**os.environ, "BATON_PASSWORD": slapd.bind_password}
        fig = measure_sync(["ldap", "--url", slapd.url, "--bind-dn", slapd.bind_dn, "--base-dn", BASE,
                            "--page-size", str(args.page_size)], out, env)
        print(f"sync ldap ({args.users:,} users, {args.groups} groups, page size {args.page_size}; "
              f"load {setup:.0f} s): {fig.seconds:.1f} s (CPU {fig.cpu_seconds:.1f} s), peak RSS {fig.peak_rss_mb:.0f} MB, "
              f"{fig.count('resources'):,} resources, {fig.count('grants'):,} grants stored "
              f"(expansion included)   [target: seconds]")

if __name__ == "__main__":
    main()
