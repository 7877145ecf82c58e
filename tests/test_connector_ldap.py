"""The LDAP connector against a real OpenLDAP ``slapd`` (started by the ``slapd_server`` fixture).

The directory is loaded with ``fixtures/ldap.setup.ldif``, the data Go's
baton-ldap synced into ``fixtures/ldap.c1z``; our ids are Go's (the same
canonical DNs), so the comparison is exact. Provisioning tests work in their
own subtree (``ou=prov``) with a group of each flavour, write twice
(idempotency) and check the entries on the server after each write.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ldap3
import pytest
from realsys import Synced, assert_clean_failure, go_listing, run_command, sync_and_read

from pybaton import model
from pybaton.connector import AccountInfo, CreateAccountStatus, CredentialOptions
from pybaton.connectors.ldap import LdapConfig, LdapConnector
from pybaton.connectors.ldap import dn as dnlib
from pybaton.errors import AuthenticationError, ConfigError, FatalError, ProvisioningError, UnreachableError
from pybaton.pb.c1.connector.v2 import annotation_trait_pb2
from pybaton.testing import ConformanceOptions, assert_conformant
from pybaton.testing.servers import SlapdServer, free_port

pytestmark = [pytest.mark.servers, pytest.mark.xdist_group("slapd")]

BASE = "dc=example,dc=org"
PROV = f"ou=prov,{BASE}"
SETUP = Path(__file__).parent / "fixtures" / "ldap.setup.ldif"
FIXTURE_SEARCH = {"user_search_dn": f"ou=users,{BASE}", "group_search_dn": f"ou=groups,{BASE}",
                  "role_search_dn": f"ou=roles,{BASE}"}


def _without_base_entry(ldif: str) -> str:
    """The fixture's entries minus ``dc=example,dc=org``, which the server fixture already created."""
    blocks = [b for b in ldif.split("\n\n") if b.strip()]
    keep = [b for b in blocks if f"\ndn: {BASE}\n" not in f"\n{b}\n" or "objectClass: organizationalUnit" in b]
    return "\n\n".join(keep) + "\n"


@pytest.fixture(scope="module")
def slapd(slapd_server: SlapdServer) -> SlapdServer:
    if "ou=users" not in slapd_server.ldapsearch("(ou=users)", "ou", scope="one"):
        slapd_server.ldapadd(_without_base_entry(SETUP.read_text()))
        slapd_server.ldapadd(f"dn: {PROV}\nobjectClass: organizationalUnit\nou: prov\n")
    return slapd_server


def connector(slapd: SlapdServer, **config: Any) -> LdapConnector:
    settings = {"url": slapd.url, "bind_dn": slapd.bind_dn, "password": slapd.bind_password, "base_dn": BASE,
                **config}
    return LdapConnector(LdapConfig(**settings))


def values(slapd: SlapdServer, dn: str, attr: str) -> list[str]:
    """An attribute's values on the server (read with ldapsearch as the root DN)."""
    text = slapd.ldapsearch("(objectClass=*)", attr, base=dn, scope="base")
    return [line.split(": ", 1)[1] for line in text.splitlines() if line.lower().startswith(attr.lower() + ": ")]


def exists(slapd: SlapdServer, dn: str) -> bool:
    try:
        return bool(slapd.ldapsearch("(objectClass=*)", "1.1", base=dn, scope="base").strip())
    except Exception:
        return False


# -- what Go found, we find ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def synced(slapd: SlapdServer, tmp_path_factory: pytest.TempPathFactory) -> Synced:
    return sync_and_read(connector(slapd, **FIXTURE_SEARCH), tmp_path_factory.mktemp("ldap") / "l.c1z")


@pytest.fixture(scope="module")
def direct(slapd: SlapdServer, tmp_path_factory: pytest.TempPathFactory) -> Synced:
    return sync_and_read(connector(slapd, **FIXTURE_SEARCH), tmp_path_factory.mktemp("ldap") / "d.c1z",
                         expand=False)


def test_same_resources_entitlements_and_grants_as_go(synced: Synced) -> None:
    go_resources = {(r["resource"]["id"]["resourceType"], r["resource"]["id"]["resource"])
                    for r in go_listing("ldap", "resources")}
    go_entitlements = {e["entitlement"]["id"] for e in go_listing("ldap", "entitlements")}
    go_grants = {g["grant"]["id"] for g in go_listing("ldap", "grants")}
    assert set(synced.resources) == go_resources
    assert set(synced.entitlements) == go_entitlements
    assert set(synced.grants) == go_grants  # 21, with the 2 that expansion of the nested group adds


def test_same_names_logins_and_emails_as_go(synced: Synced) -> None:
    for row in go_listing("ldap", "resources"):
        go = row["resource"]
        ours = synced.resources[(go["id"]["resourceType"], go["id"]["resource"])]
        assert ours.display_name == go["displayName"]
        go_user = next((a for a in go.get("annotations", []) if a["@type"].endswith("UserTrait")), None)
        if go_user is None:
            continue
        trait = model.annotations.find(ours.annotations, annotation_trait_pb2.UserTrait)
        assert trait is not None and trait.login == go_user["login"]
        assert trait.emails[0].address == go_user["emails"][0]["address"]
        assert trait.status.status == annotation_trait_pb2.UserTrait.Status.STATUS_ENABLED


def test_group_flavours_and_nesting(synced: Synced, direct: Synced) -> None:
    eng, platform = f"cn=engineering,ou=groups,{BASE}", f"cn=platform,ou=groups,{BASE}"
    assert direct.expandable(f"group:{eng}:member:group:{platform}") == [f"group:{platform}:member"]
    assert ("user", f"uid=dave,ou=users,{BASE}") in synced.holders(f"group:{eng}:member")  # via platform
    developers = synced.holders(f"group:cn=developers,ou=groups,{BASE}:member")  # memberUid
    assert ("user", f"uid=ivan,ou=users,{BASE}") in developers
    staff = synced.holders(f"group:cn=staff,ou=groups,{BASE}:member")  # primary gidNumber only
    assert {pid.split(",")[0] for _, pid in staff} == {"uid=alice", "uid=bob", "uid=carol", "uid=dave", "uid=erin"}
    assert ("user", "cn=smith\\, judy,ou=users,dc=example,dc=org") in synced.holders(
        f"group:cn=admins,ou=groups,{BASE}:member")


def test_organizational_units_as_parents(slapd: SlapdServer, tmp_path: Path) -> None:
    got = sync_and_read(connector(slapd, org_units=True, **FIXTURE_SEARCH), tmp_path / "ou.c1z")
    assert {f"ou=users,{BASE}", f"ou=groups,{BASE}", f"ou=roles,{BASE}"} <= got.ids("org_unit")
    alice = got.resources[("user", f"uid=alice,ou=users,{BASE}")]
    assert alice.parent_resource_id.resource_type == "org_unit"
    assert alice.parent_resource_id.resource == f"ou=users,{BASE}"
    assert len(got.ids("user")) == 10 and len(got.grants) == 21


def test_disabled_accounts(slapd: SlapdServer, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:6]
    ou = f"ou=status-{tag},{PROV}"
    slapd.ldapadd(f"dn: {ou}\nobjectClass: organizationalUnit\nou: status-{tag}\n\n"
                  f"dn: uid=expired,{ou}\nobjectClass: inetOrgPerson\nobjectClass: shadowAccount\nuid: expired\n"
                  f"cn: expired\nsn: x\nshadowExpire: 1\n\n"
                  f"dn: uid=flagged,{ou}\nobjectClass: inetOrgPerson\nuid: flagged\ncn: flagged\nsn: x\n"
                  f"employeeType: Disabled\n\n"
                  f"dn: uid=fine,{ou}\nobjectClass: inetOrgPerson\nobjectClass: shadowAccount\nuid: fine\n"
                  f"cn: fine\nsn: x\nshadowExpire: 99999\nemployeeType: staff\n")
    got = sync_and_read(connector(slapd, user_search_dn=ou, disabled_attribute="employeeType",
                                  disabled_values=["disabled"]), tmp_path / "s.c1z")

    def status(uid: str) -> int:
        trait = model.annotations.find(got.resources[("user", f"uid={uid},{ou}")].annotations,
                                       annotation_trait_pb2.UserTrait)
        assert trait is not None
        return int(trait.status.status)

    disabled, enabled = (annotation_trait_pb2.UserTrait.Status.STATUS_DISABLED,
                         annotation_trait_pb2.UserTrait.Status.STATUS_ENABLED)
    assert (status("expired"), status("flagged"), status("fine")) == (disabled, disabled, enabled)


@pytest.fixture(scope="module")
def bulk(slapd: SlapdServer) -> str:
    """600 users (more than OpenLDAP's default size limit of 500) and a non-root reader."""
    ou = f"ou=bulk,{PROV}"
    if not exists(slapd, ou):
        users = "".join(f"dn: uid=b{i:04d},{ou}\nobjectClass: inetOrgPerson\nuid: b{i:04d}\ncn: b{i}\nsn: b\n\n"
                        for i in range(600))
        slapd.ldapadd(f"dn: {ou}\nobjectClass: organizationalUnit\nou: bulk\n\n"
                      f"dn: cn=reader,{PROV}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\n"
                      f"cn: reader\nuserPassword: reader-pw\n\n{users}")
    return ou


def test_paged_results_beyond_the_size_limit(slapd: SlapdServer, bulk: str, tmp_path: Path) -> None:
    got = sync_and_read(connector(slapd, user_search_dn=bulk, group_search_dn=bulk, role_search_dn=bulk),
                        tmp_path / "b.c1z", page_size=250)
    assert len(got.ids("user")) == 600
    # A non-root DN is capped at 500 entries even with paging: a short listing must fail, not pass as complete.
    reader = connector(slapd, bind_dn=f"cn=reader,{PROV}", password="reader-pw", user_search_dn=bulk,
                       group_search_dn=bulk, role_search_dn=bulk)
    with pytest.raises(FatalError, match="size limit"):
        sync_and_read(reader, tmp_path / "r.c1z", page_size=250)


def test_conformance(slapd: SlapdServer, tmp_path: Path) -> None:
    assert_conformant(lambda: connector(slapd, **FIXTURE_SEARCH), tmp_path=tmp_path / "flat",
                      options=ConformanceOptions(page_size=3, interruptions=2, kills=1))
    assert_conformant(lambda: connector(slapd, org_units=True, **FIXTURE_SEARCH), tmp_path=tmp_path / "ou",
                      options=ConformanceOptions(page_size=3, interruptions=2, kills=1))


def test_canonical_dns() -> None:
    assert dnlib.canonical("CN=Smith\\2C Judy , OU=Users,DC=example,DC=org") == \
        "cn=smith\\, judy,ou=users,dc=example,dc=org"
    assert dnlib.canonical("uid=a+cn=B,dc=x") == "cn=b+uid=a,dc=x"
    assert dnlib.parent("uid=a,ou=x,dc=y") == "ou=x,dc=y"
    with pytest.raises(dnlib.DNError):
        dnlib.canonical("not a dn")


# -- provisioning, end to end ----------------------------------------------------------------------

@pytest.fixture
def prov(slapd: SlapdServer) -> Iterator[dict[str, str]]:
    """A fresh subtree: two posix users, a seed member and one container of each flavour."""
    tag = uuid.uuid4().hex[:6]
    ou = f"ou=p{tag},{PROV}"
    names = {"ou": ou, "u1": f"uid=u1{tag},{ou}", "u2": f"uid=u2{tag},{ou}", "seed": f"uid=seed{tag},{ou}",
             "gon": f"cn=gon,{ou}", "gun": f"cn=gun,{ou}", "posix": f"cn=posix,{ou}", "role": f"cn=role,{ou}",
             "tag": tag}
    people = "".join(
        f"dn: {names[k]}\nobjectClass: inetOrgPerson\nobjectClass: posixAccount\nuid: {k}{tag}\ncn: {k}\nsn: {k}\n"
        f"uidNumber: {n}\ngidNumber: {7000 if k == 'u2' else 100}\nhomeDirectory: /home/{k}\n\n"
        for k, n in (("u1", 20001), ("u2", 20002), ("seed", 20003)))
    slapd.ldapadd(
        f"dn: {ou}\nobjectClass: organizationalUnit\nou: p{tag}\n\n{people}"
        f"dn: {names['gon']}\nobjectClass: groupOfNames\ncn: gon\nmember: {names['seed']}\n\n"
        f"dn: {names['gun']}\nobjectClass: groupOfUniqueNames\ncn: gun\nuniqueMember: {names['seed']}\n\n"
        f"dn: {names['posix']}\nobjectClass: posixGroup\ncn: posix\ngidNumber: 7000\n\n"
        f"dn: {names['role']}\nobjectClass: organizationalRole\ncn: role\n")
    yield names


def _user(dn: str) -> Any:
    return model.resource(model.resource_type("user", "User"), dnlib.canonical(dn), dn)


def _group(dn: str) -> Any:
    return model.resource(model.resource_type("group", "Group"), dnlib.canonical(dn), dn)


def _member(rtype: str, dn: str) -> Any:
    return model.entitlement_ref(model.resource_id(rtype, dnlib.canonical(dn)), "member")


def _grant_twice(syncer: Any, principal: Any, ent: Any) -> None:
    first, second = syncer.grant(principal, ent), syncer.grant(principal, ent)
    assert not first.already_exists and second.already_exists


def _revoke_twice(syncer: Any, principal: Any, ent: Any) -> None:
    grant = model.grant(ent, principal.id)
    first, second = syncer.revoke(grant), syncer.revoke(grant)
    assert not first.already_revoked and second.already_revoked


@pytest.mark.parametrize(("container", "attr", "rtype"), [
    ("gon", "member", "group"), ("gun", "uniqueMember", "group"), ("posix", "memberUid", "group"),
    ("role", "roleOccupant", "role")])
def test_membership_in_each_flavour(slapd: SlapdServer, prov: dict[str, str], container: str, attr: str,
                                    rtype: str) -> None:
    c = connector(slapd)
    syncer, who, ent = c.syncer_for(rtype), _user(prov["u1"]), _member(rtype, prov[container])
    expected = f"u1{prov['tag']}" if attr == "memberUid" else prov["u1"]
    _grant_twice(syncer, who, ent)
    assert expected in values(slapd, prov[container], attr)
    _revoke_twice(syncer, who, ent)
    assert expected not in values(slapd, prov[container], attr)
    c.close()


def test_nested_groups_primary_groups_and_last_members(slapd: SlapdServer, prov: dict[str, str]) -> None:
    c = connector(slapd)
    groups = c.syncer_for("group")
    nested = groups.grant(_group(prov["gun"]), _member("group", prov["gon"]))
    assert prov["gun"] in values(slapd, prov["gon"], "member")
    assert nested.grants[0].id.endswith(f":group:{dnlib.canonical(prov['gun'])}")
    with pytest.raises(ProvisioningError, match="posixGroup"):
        groups.grant(_group(prov["gon"]), _member("group", prov["posix"]))
    with pytest.raises(ProvisioningError, match="primary group"):
        groups.revoke(model.grant(_member("group", prov["posix"]), _user(prov["u2"]).id))
    groups.revoke(model.grant(_member("group", prov["gon"]), _group(prov["gun"]).id))
    with pytest.raises(ProvisioningError, match="last member"):
        groups.revoke(model.grant(_member("group", prov["gon"]), _user(prov["seed"]).id))
    assert values(slapd, prov["gon"], "member") == [prov["seed"]]
    c.close()


def _binds(slapd: SlapdServer, dn: str, password: str) -> bool:
    conn = ldap3.Connection(ldap3.Server(slapd.host, port=slapd.port, get_info=ldap3.NONE), dn, password)
    try:
        return bool(conn.bind())
    finally:
        conn.unbind()


@pytest.mark.parametrize("scheme", ["server", "ssha"])
def test_accounts_create_rotate_delete(slapd: SlapdServer, prov: dict[str, str], scheme: str) -> None:
    c = connector(slapd, account_dn=prov["ou"], password_hash=scheme)
    users = c.syncer_for("user")
    login = f"new{prov['tag']}"
    info = AccountInfo(login=login, emails=["new@example.org"],
                       profile={"given_name": "New", "last_name": "Person", "uid_number": 30001, "gid_number": 100})
    created = users.create_account(info, CredentialOptions())
    assert created.status == CreateAccountStatus.SUCCESS and created.resource is not None
    new_dn = f"uid={login},{prov['ou']}"
    assert created.resource.id.resource == dnlib.canonical(new_dn)
    password = created.credentials[0].value
    assert _binds(slapd, new_dn, password)
    assert _stored_password(slapd, new_dn).startswith("{SSHA}")  # hashed by the server or by us
    assert "posixAccount" in values(slapd, new_dn, "objectClass")
    again = users.create_account(info, CredentialOptions())
    assert again.status == CreateAccountStatus.ALREADY_EXISTS and not again.credentials

    rotated = users.rotate_credentials(created.resource.id, CredentialOptions())[0].value
    assert _binds(slapd, new_dn, rotated) and not _binds(slapd, new_dn, password)

    c.syncer_for("group").grant(created.resource, _member("group", prov["gon"]))
    c.syncer_for("group").grant(created.resource, _member("group", prov["posix"]))
    assert not users.delete_resource(created.resource.id).already_deleted
    assert users.delete_resource(created.resource.id).already_deleted
    assert not exists(slapd, new_dn)
    assert new_dn not in values(slapd, prov["gon"], "member")  # taken out of its groups first
    assert login not in values(slapd, prov["posix"], "memberUid")
    c.close()


def _stored_password(slapd: SlapdServer, dn: str) -> str:
    """userPassword as stored (ldapsearch prints it base64-encoded with ``::``)."""
    text = slapd.ldapsearch("(objectClass=*)", "userPassword", base=dn, scope="base")
    line = next(line for line in text.splitlines() if line.startswith("userPassword"))
    return base64.b64decode(line.split(":: ", 1)[1]).decode() if "::" in line else line.split(": ", 1)[1]


def test_cli_dry_run_then_grant(slapd: SlapdServer, prov: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "cli.c1z"
    base = ["--url", slapd.url, "--bind-dn", slapd.bind_dn, "--base-dn", prov["ou"], "-f", str(out),
            "--log-level", "error"]
    env_password = {"BATON_PASSWORD": slapd.bind_password}
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env_password.items():
            mp.setenv(key, value)
        code, err = run_command(LdapConnector, base)
        assert code == 0, err
        grant = ["-p", "--grant-entitlement", f"group:{dnlib.canonical(prov['gun'])}:member",
                 "--grant-principal", f"user:{dnlib.canonical(prov['u1'])}", "--audit-log", str(tmp_path / "a")]
        code, err = run_command(LdapConnector, [*base, *grant, "--dry-run"])
        assert code == 0, err
        assert prov["u1"] not in values(slapd, prov["gun"], "uniqueMember")
        code, err = run_command(LdapConnector, [*base, *grant])
        assert code == 0, err
    assert prov["u1"] in values(slapd, prov["gun"], "uniqueMember")
    assert slapd.bind_password not in err


# -- connections: TLS, failures --------------------------------------------------------------------

@pytest.fixture(scope="module")
def tls_slapd() -> Iterator[SlapdServer]:
    """A second slapd with a self-signed certificate (StartTLS on ldap://, and ldaps://)."""
    with SlapdServer(tls=True) as server:
        yield server


def test_ldaps_and_starttls(tls_slapd: SlapdServer, tmp_path: Path) -> None:
    common = {"bind_dn": tls_slapd.bind_dn, "password": tls_slapd.bind_password, "base_dn": BASE,
              "ca_cert": str(tls_slapd.ca_cert)}
    for name, settings in (("ldaps", {"url": tls_slapd.ldaps_url}),
                           ("starttls", {"url": tls_slapd.url, "starttls": True})):
        LdapConnector(LdapConfig(**common, **settings)).validate()
        got = sync_and_read(LdapConnector(LdapConfig(**common, **settings)), tmp_path / f"{name}.c1z")
        assert got.stats["resources"] == 0  # only the base entry exists there
    with pytest.raises(UnreachableError, match="TLS error: certificate verify failed"):
        LdapConnector(LdapConfig(**{**common, "ca_cert": None}, url=tls_slapd.ldaps_url)).validate()
    LdapConnector(LdapConfig(**{**common, "ca_cert": None}, url=tls_slapd.ldaps_url,
                             insecure_skip_verify=True)).validate()


def test_connection_failures_are_one_line(slapd: SlapdServer, tls_slapd: SlapdServer, tmp_path: Path) -> None:
    common = ["--bind-dn", slapd.bind_dn, "--base-dn", BASE]
    line = assert_clean_failure(LdapConnector, ["--url", slapd.url, *common, "--password", "wrong-pw-xyzzy"],
                                tmp_path / "a.c1z", f"{slapd.host}:{slapd.port}", "wrong-pw-xyzzy")
    assert "invalid credentials" in line
    line = assert_clean_failure(LdapConnector, ["--url", f"ldap://127.0.0.1:{free_port()}", *common,
                                                "--password", slapd.bind_password], tmp_path / "b.c1z",
                                "127.0.0.1:", slapd.bind_password)
    assert "unreachable" in line
    line = assert_clean_failure(LdapConnector, ["--url", tls_slapd.ldaps_url, *common, "--password",
                                                tls_slapd.bind_password], tmp_path / "c.c1z",
                                f"127.0.0.1:{tls_slapd.tls_port}", tls_slapd.bind_password)
    assert "TLS error" in line


def test_connection_failures_raise_typed_errors(slapd: SlapdServer) -> None:
    with pytest.raises(AuthenticationError):
        connector(slapd, password="nope").validate()
    with pytest.raises(UnreachableError):
        connector(slapd, url=f"ldap://127.0.0.1:{free_port()}", timeout=2).validate()
    with pytest.raises(ConfigError, match="base_dn"):
        connector(slapd, base_dn="dc=nowhere,dc=org").validate()
