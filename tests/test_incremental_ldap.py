"""``sync --incremental`` on real OpenLDAP, with the syncprov overlay and without it.

With syncprov the connector lists changes by RFC 4533 content synchronisation
(the cursor is the sync cookie): once with a session log long enough to name
deletions (``syncIdSet`` with ``refreshDeletes``), once with a log of one write,
so that most refreshes are a present phase instead. Without it, by ``entryCSN``
with a DN-only scan. Random sequences of directory changes (adds, deletes,
renames, moves between OUs, uid and attribute changes, membership changes in
nested groups and in a posixGroup); after each step the compacted full run lists
exactly what a fresh full sync lists.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from incremental_support import COMPACTED_RUNS, run_types, sync_once
from incremental_support import assert_same_as_full as same_as_full

from pybaton.c1z import C1ZFile, syncs
from pybaton.connectors.ldap import LdapConfig, LdapConnector
from pybaton.connectors.ldap.client import Search
from pybaton.connectors.ldap.directory import build_index, member_principals
from pybaton.connectors.ldap.lazy import LazyIndex
from pybaton.sync.incremental import saved_cursors
from pybaton.testing.servers import SlapdServer
from pybaton.testing.servers.slapd_syncprov import SyncprovSlapdServer

pytestmark = [pytest.mark.servers, pytest.mark.xdist_group("slapd-incremental")]

_subtrees = itertools.count()


class ShortLogSlapdServer(SyncprovSlapdServer):
    """syncprov with a session log of one write: a refresh after more writes lists what is present."""

    def _prepare(self) -> None:
        super()._prepare()
        self.config_path.write_text(self.config_path.read_text().replace("syncprov-sessionlog 1000\n",
                                                                         "syncprov-sessionlog 1\n"))


SERVERS = {"plain": SlapdServer, "syncprov": SyncprovSlapdServer, "syncprov-short-log": ShortLogSlapdServer}


@pytest.fixture(scope="module", params=sorted(SERVERS))
def slapd(request: pytest.FixtureRequest) -> Iterator[SlapdServer]:
    with SERVERS[request.param]() as server:
        yield server


def cursor_kinds(path: Path) -> set[str]:
    """How the saved change cursors list changes: ``rfc4533`` (sync cookie) or ``mtk`` (timestamps)."""
    with C1ZFile.open(path) as c1z:
        return {c.split(":", 1)[0] for c in saved_cursors(syncs.latest_finished(c1z.conn, "full")).values()}


class Directory:
    """One fresh subtree (``ou=people`` and ``ou=teams`` and ``ou=others``) of the test server."""

    def __init__(self, slapd: SlapdServer, name: str = "") -> None:
        self.slapd = slapd
        self.base = f"ou={name or f't{next(_subtrees)}'},{slapd.base_dn}"
        self.users: list[str] = []
        self.groups: list[str] = []
        self.serial = itertools.count()
        slapd.ldapadd("".join(f"dn: {dn}\nobjectClass: organizationalUnit\nou: {dn.split(',')[0][3:]}\n\n"
                              for dn in (self.base, self.ou("people"), self.ou("teams"), self.ou("others"))))
        for _ in range(4):
            self.add_user()
        for _ in range(3):
            self.add_group()
        self.add_member(0, 0)
        self.add_member(1, 1)
        self.nest(0, 1)
        self.posix = f"cn=posix,{self.ou('teams')}"
        slapd.ldapadd(f"dn: {self.posix}\nobjectClass: posixGroup\ncn: posix\ngidNumber: 7000\nmemberUid: u1\n"
                      "memberUid: u2\nmemberUid: w0\n")

    def ou(self, name: str) -> str:
        return f"ou={name},{self.base}"

    def connector(self) -> LdapConnector:
        return LdapConnector(LdapConfig(url=self.slapd.url, bind_dn=self.slapd.bind_dn,  # type: ignore[call-arg]
                                        password=self.slapd.bind_password, base_dn=self.base))

    def add_user(self, n: int = 0) -> None:
        uid = f"u{next(self.serial)}"
        dn = f"uid={uid},{self.ou('people')}"
        self.slapd.ldapadd(f"dn: {dn}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: User {uid}\nsn: {uid}\n"
                           f"mail: {uid}@example.org\n")
        self.users.append(dn)

    def add_group(self, n: int = 0) -> None:
        cn = f"g{next(self.serial)}"
        dn = f"cn={cn},{self.ou('teams')}"
        self.slapd.ldapadd(f"dn: {dn}\nobjectClass: groupOfNames\ncn: {cn}\nmember: cn=nobody\n")
        self.groups.append(dn)

    def _modify(self, dn: str, change: str) -> None:
        self.slapd.ldapmodify(f"dn: {dn}\nchangetype: modify\n{change}\n")

    def add_member(self, g: int, u: int) -> None:
        if self.groups and self.users:
            group, user = self.groups[g % len(self.groups)], self.users[u % len(self.users)]
            if user not in self.members(group):
                self._modify(group, f"add: member\nmember: {user}\n")

    def nest(self, g: int, h: int) -> None:
        if len(self.groups) > 1:
            outer, inner = self.groups[g % len(self.groups)], self.groups[h % len(self.groups)]
            if outer != inner and inner not in self.members(outer):
                self._modify(outer, f"add: member\nmember: {inner}\n")

    def members(self, group: str) -> list[str]:
        text = self.slapd.ldapsearch("(objectClass=*)", "member", base=group, scope="base")
        return [line.split(": ", 1)[1] for line in text.splitlines() if line.startswith("member: ")]

    def remove_member(self, g: int, m: int) -> None:
        if self.groups:
            group = self.groups[g % len(self.groups)]
            real = [x for x in self.members(group) if x != "cn=nobody"]
            if real:
                self._modify(group, f"delete: member\nmember: {real[m % len(real)]}\n")

    def delete(self, kind: str, n: int) -> None:
        pool = self.users if kind == "user" else self.groups
        if pool:
            dn = pool.pop(n % len(pool))
            self.slapd.ldapmodify(f"dn: {dn}\nchangetype: delete\n")

    def rename(self, n: int, move: bool) -> None:
        if self.users:
            i = n % len(self.users)
            uid = f"u{next(self.serial)}"
            target = self.ou("others") if move else self.ou("people")
            self.slapd.ldapmodify(f"dn: {self.users[i]}\nchangetype: modrdn\nnewrdn: uid={uid}\ndeleteoldrdn: 0\n"
                                  f"newsuperior: {target}\n")
            self.users[i] = f"uid={uid},{target}"

    def rename_group(self, n: int) -> None:
        """A group renamed (modrdn): groups listing it name a DN that no longer exists."""
        if self.groups:
            i = n % len(self.groups)
            cn = f"g{next(self.serial)}"
            self.slapd.ldapmodify(f"dn: {self.groups[i]}\nchangetype: modrdn\nnewrdn: cn={cn}\ndeleteoldrdn: 1\n")
            self.groups[i] = f"cn={cn},{self.ou('teams')}"

    def change_uid(self, n: int) -> None:
        """The uid ``w0`` (a memberUid of the posixGroup) added to a user, or taken from whoever has it."""
        text = self.slapd.ldapsearch("(uid=w0)", "1.1", base=self.base, scope="sub")
        holder = next((line[4:] for line in text.splitlines() if line.startswith("dn: ")), None)
        if holder is not None:
            self._modify(holder, "delete: uid\nuid: w0\n")
        elif self.users:
            self._modify(self.users[n % len(self.users)], "add: uid\nuid: w0\n")

    def retitle(self, n: int) -> None:
        if self.users:
            self._modify(self.users[n % len(self.users)], f"replace: title\ntitle: Title {n}\n")


STEPS = {
    "add user": lambda d, a, b: d.add_user(),
    "add group": lambda d, a, b: d.add_group(),
    "add member": lambda d, a, b: d.add_member(a, b),
    "nest group": lambda d, a, b: d.nest(a, b),
    "remove member": lambda d, a, b: d.remove_member(a, b),
    "delete user": lambda d, a, b: d.delete("user", a),
    "delete group": lambda d, a, b: d.delete("group", a),
    "rename user": lambda d, a, b: d.rename(a, move=False),
    "move user": lambda d, a, b: d.rename(a, move=True),
    "rename group": lambda d, a, b: d.rename_group(a),
    "change uid": lambda d, a, b: d.change_uid(a),
    "change attribute": lambda d, a, b: d.retitle(a),
}


def synced(directory: Directory, path: Path, incremental: bool) -> None:
    sync_once(directory.connector, path, incremental=incremental)


def assert_same_as_full(directory: Directory, path: Path, scratch: Path) -> None:
    same_as_full(directory.connector, path, scratch)


def upserted_resources(path: Path) -> set[str]:
    """Resources the last incremental run asked the directory for (only what changed)."""
    with C1ZFile.open(path) as c1z:
        run = [r for r in c1z.sync_runs() if r.sync_type == "partial_upserts"][-1]
        return {row[0] for row in c1z.conn.execute("select external_id from v1_resources where sync_id = ?",
                                                   (run.sync_id,))}


def test_each_kind_of_change(slapd: SlapdServer, tmp_path: Path) -> None:
    directory = Directory(slapd)
    path = tmp_path / "ldap.c1z"
    synced(directory, path, incremental=False)
    assert cursor_kinds(path) == {"rfc4533" if isinstance(slapd, SyncprovSlapdServer) else "mtk"}
    for name, step in STEPS.items():
        if name == "change attribute":
            time.sleep(1.1)  # past the second of the previous change (modifyTimestamp has 1 s resolution)
        step(directory, 1, 2)
        synced(directory, path, incremental=True)
        assert run_types(path)[-3:] == COMPACTED_RUNS, name
        assert cursor_kinds(path) == {"rfc4533" if isinstance(slapd, SyncprovSlapdServer) else "mtk"}
        if name == "change attribute":
            # Only the changed user: the cursor knows its DN, uid and gidNumber did not change, so no group
            # naming it is re-read (their grants embed nothing else of it). By timestamps, the entry stamped
            # at the cursor's own instant (the previous step's) is read again too.
            user = f"user:{directory.users[1].lower()}"
            asked = upserted_resources(path)
            assert user in asked and len(asked - {user}) <= (0 if isinstance(slapd, SyncprovSlapdServer) else 1)
        assert_same_as_full(directory, path, tmp_path)


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(sorted(STEPS)), st.integers(0, 50), st.integers(0, 50)),
                min_size=2, max_size=6))
def test_random_changes(slapd: SlapdServer, tmp_path: Path, steps: list[tuple[str, int, int]]) -> None:
    directory = Directory(slapd)
    path = tmp_path / f"{directory.base.split(',')[0][3:]}.c1z"
    synced(directory, path, incremental=False)
    for i in range(0, len(steps), 2):
        for name, a, b in steps[i:i + 2]:
            STEPS[name](directory, a, b)
        synced(directory, path, incremental=True)
        assert_same_as_full(directory, path, tmp_path)


def test_a_cookie_the_directory_refuses_means_a_full_sync_said_in_one_line(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A directory restored from an older backup (here: a second server loaded earlier) refuses a newer
    cookie; the run falls back to a full sync, says so once, and the next run is incremental again."""
    path = tmp_path / "ldap.c1z"
    with SyncprovSlapdServer() as restored:
        older = Directory(restored, "same")
        with SyncprovSlapdServer() as primary:
            synced(Directory(primary, "same"), path, incremental=False)  # its cookie is newer than `restored`
        with caplog.at_level("WARNING", logger="pybaton.sync"):
            synced(older, path, incremental=True)
        said = [r.getMessage() for r in caplog.records if "doing a full sync" in r.getMessage()]
        assert len(said) == 1 and "cursor expired" in said[0] and "\n" not in said[0], said
        assert [t for t, _ in run_types(path)][-1] == "full" and "partial_upserts" not in dict(run_types(path))
        assert_same_as_full(older, path, tmp_path)
        older.add_member(2, 3)
        synced(older, path, incremental=True)
        assert run_types(path)[-3:] == COMPACTED_RUNS
        assert_same_as_full(older, path, tmp_path)


def test_lazy_member_resolution_answers_as_the_whole_index(slapd: SlapdServer) -> None:
    """What an incremental run resolves with a few searches equals what a full sync's index resolves."""
    directory = Directory(slapd)
    for name, a, b in [("rename user", 0, 0), ("change uid", 1, 0), ("nest group", 2, 0), ("move user", 3, 0)]:
        STEPS[name](directory, a, b)
    connector = directory.connector()
    try:
        ctx = connector.ctx
        attributes = ("member", "uniqueMember", "memberUid")
        groups = list(ctx.client.all(Search(directory.base, "(|(objectClass=groupOfNames)(objectClass=posixGroup))",
                                            "sub", ("objectClass", "gidNumber", *attributes))))
        assert len(groups) >= 4
        whole = build_index(ctx.client, ctx.config)
        lazy = LazyIndex(ctx.client, ctx.config)
        for group in groups:
            assert member_principals(group, lazy, attributes) == member_principals(group, whole, attributes), group.dn
    finally:
        connector.close()


def test_a_timestamp_cursor_of_an_older_run_still_lists_changes(slapd: SlapdServer) -> None:
    """``mts:<stamp>`` (no key table) from before: every entry since the epoch is listed, and the new cursor
    is the server's kind — a sync cookie where syncprov offers one, else a stamp with its key table."""
    directory = Directory(slapd)
    connector = directory.connector()
    try:
        connector.validate()
        users = next(s for s in connector.syncers() if s.resource_type.id == "user")
        found = users.changes("mts:0")
        assert sorted(r.id.resource for r in found.resources) == sorted(u.lower() for u in directory.users)
        assert found.present is not None and sorted(found.present) == sorted(u.lower() for u in directory.users)
        assert found.cursor.startswith("rfc4533:" if isinstance(slapd, SyncprovSlapdServer) else "mtk:")
    finally:
        connector.close()
