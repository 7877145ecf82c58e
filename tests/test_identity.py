"""Correlation of accounts to identities: the rules, their order, and what is never guessed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pybaton.c1z import C1ZFile, SyncReader
from pybaton.connectors.demo import DemoConfig, DemoConnector
from pybaton.identity import (
    SOURCE_RULE,
    Account,
    CorrelationSettings,
    SystemAccounts,
    correlate,
    read_accounts,
)
from pybaton.sync import sync


def person(system: str, rid: str, **fields: Any) -> Account:
    return Account(system=system, resource_type="user", resource_id=rid, **fields)


def idp(*accounts: Account, attributes: dict[str, str] | None = None) -> SystemAccounts:
    return SystemAccounts("idp", accounts, identity_provider=True, attributes=attributes or {})


def app(name: str, *accounts: Account) -> SystemAccounts:
    return SystemAccounts(name, accounts)


ADA = person("idp", "ada", login="ada", emails=("Ada.Lovelace@Example.ORG",), employee_ids=("E100",),
             profile={"departmentNumber": "Engineering"})
BOB = person("idp", "bob", login="bob", emails=("bob@example.org",), employee_ids=("E200",), status="disabled")


def settings(**values: Any) -> CorrelationSettings:
    return CorrelationSettings.model_validate(values)


def links(result: Any, system: str) -> dict[str, tuple[str, str]]:
    """account id → (identity id, rule) for one system."""
    return {link.account.resource_id: (identity.id, link.rule)
            for identity in result.identities.values() for link in identity.links
            if link.account.system == system}


# -- email ------------------------------------------------------------------------------------------

def test_email_matches_across_case_and_domain_aliases() -> None:
    crm = app("crm", person("crm", "1", emails=("ADA.LOVELACE@EXAMPLE.COM",)),
              person("crm", "2", emails=("bob@Example.Org",)))
    result = correlate([idp(ADA, BOB), crm], settings(domain_aliases={"example.org": "example.com"}))
    assert links(result, "crm") == {"1": ("idp/user:ada", "email"), "2": ("idp/user:bob", "email")}
    link = next(li for li in result.identities["idp/user:ada"].links if li.account.system == "crm")
    assert link.value == "ada.lovelace@example.com"  # the normalised value that matched, recorded
    assert not result.orphans and not result.ambiguous


def test_without_the_alias_another_domain_is_another_person() -> None:
    crm = app("crm", person("crm", "1", emails=("ada.lovelace@example.com",)))
    result = correlate([idp(ADA), crm], settings(rules=["email"]))
    assert [a.resource_id for a in result.orphans] == ["1"]


def test_case_sensitive_matching_can_be_asked_for() -> None:
    crm = app("crm", person("crm", "1", emails=("ada.lovelace@example.org",)))
    result = correlate([idp(ADA), crm], settings(rules=["email"], case_sensitive=True))
    assert [a.resource_id for a in result.orphans] == ["1"]  # local parts differ in case; the domain never counts


# -- login-only systems -----------------------------------------------------------------------------

def test_login_only_system_is_linked_by_login() -> None:
    db = app("db", person("db", "ada", login="ADA"), person("db", "nobody", login="nobody"))
    result = correlate([idp(ADA), db], settings(rules=["email", "login"]))
    assert links(result, "db") == {"ada": ("idp/user:ada", "login")}
    assert [a.resource_id for a in result.orphans] == ["nobody"]


def test_login_may_match_the_email_local_part_when_asked() -> None:
    db = app("db", person("db", "ada.lovelace", login="ada.lovelace"))
    assert correlate([idp(ADA), db], settings(rules=["login"])).orphans
    result = correlate([idp(ADA), db], settings(rules=["login"], login_matches_email=True))
    assert links(result, "db") == {"ada.lovelace": ("idp/user:ada", "login")}


def test_employee_id_external_id_and_alias_rules() -> None:
    hr = app("hr", person("hr", "x1", employee_ids=("e100",)))
    scim = app("scim", person("scim", "s1", external_id="ada"))
    chat = app("chat", person("chat", "c1", login="lovelace"))
    ada = person("idp", "ada", login="ada", aliases=("lovelace",), employee_ids=("E100",))
    result = correlate([idp(ada), hr, scim, chat], settings(rules=["employee_id", "external_id", "alias"]))
    assert links(result, "hr") == {"x1": ("idp/user:ada", "employee_id")}
    assert links(result, "scim") == {"s1": ("idp/user:ada", "external_id")}
    assert links(result, "chat") == {"c1": ("idp/user:ada", "alias")}


def test_rules_apply_in_priority_order_and_the_first_match_decides() -> None:
    # email says Ada, login says Bob: email comes first, so it is Ada's account, by email.
    both = app("crm", person("crm", "1", login="bob", emails=("ada.lovelace@example.org",)))
    bob = person("idp", "bob", login="bob", emails=("bob@example.org",))
    assert links(correlate([idp(ADA, bob), both], settings(rules=["email", "login"])), "crm") == \
        {"1": ("idp/user:ada", "email")}
    assert links(correlate([idp(ADA, bob), both], settings(rules=["login", "email"])), "crm") == \
        {"1": ("idp/user:bob", "login")}


# -- ambiguity ----------------------------------------------------------------------------------------

def test_ambiguous_match_is_reported_never_resolved() -> None:
    jane = person("idp", "jane", login="jsmith2", aliases=("jsmith",), employee_ids=("E1",))
    john = person("idp", "john", login="jsmith", employee_ids=("E2",))
    # The alias rule finds two people; the employee id would pick Jane, but a lower rule never settles it.
    shared = app("chat", person("chat", "c1", login="jsmith", employee_ids=("E1",)))
    result = correlate([idp(jane, john), shared], settings(rules=["alias", "employee_id"]))
    assert not links(result, "chat")
    assert len(result.ambiguous) == 1
    amb = result.ambiguous[0]
    assert (amb.account.resource_id, amb.rule, amb.value) == ("c1", "alias", "jsmith")
    assert amb.candidates == ("idp/user:jane", "idp/user:john")
    assert result.is_ambiguous("chat/user:c1") and not result.orphans


def test_shared_mailbox_in_the_idp_is_ambiguous_for_apps() -> None:
    a = person("idp", "a", emails=("team@example.org",))
    b = person("idp", "b", emails=("team@example.org",))
    result = correlate([idp(a, b), app("crm", person("crm", "1", emails=("team@example.org",)))], settings())
    assert len(result.identities) == 2  # two entries of one directory stay two people
    assert [x.candidates for x in result.ambiguous] == [("idp/user:a", "idp/user:b")]


# -- service accounts, leavers, several IdPs ----------------------------------------------------------

def test_service_accounts_are_kept_apart_from_people() -> None:
    bot = person("idp", "bot", login="deploy-bot", emails=("bot@example.org",), kind="service")
    db = app("db", person("db", "svc_backup", login="svc_backup"), person("db", "postgres", login="postgres",
                                                                          kind="system"),
             person("db", "bob", login="bob"))
    result = correlate([idp(ADA, BOB, bot), db], settings(service_accounts={"patterns": ["^svc_"]}))
    assert sorted(a.key for a in result.service) == ["db/user:postgres", "db/user:svc_backup", "idp/user:bot"]
    assert "idp/user:bot" not in result.identities  # not a person, even in the IdP
    assert links(result, "db") == {"bob": ("idp/user:bob", "login")}
    assert not result.orphans


def test_leavers_are_the_app_accounts_of_disabled_identities() -> None:
    db = app("db", person("db", "bob", login="bob"), person("db", "ada", login="ada"))
    result = correlate([idp(ADA, BOB), db], settings())
    assert [(i.id, link.account.key) for i, link in result.leavers()] == [("idp/user:bob", "db/user:bob")]
    assert result.identities["idp/user:bob"].links[0].rule == SOURCE_RULE


def test_identity_attributes_come_from_the_idp_profile_and_mapping() -> None:
    result = correlate([idp(ADA, attributes={"department": "departmentNumber"})], settings())
    attrs = result.identities["idp/user:ada"].attributes
    assert attrs["department"] == "Engineering" and attrs["departmentNumber"] == "Engineering"
    assert attrs["login"] == "ada" and attrs["enabled"] is True and attrs["email"] == "Ada.Lovelace@Example.ORG"


def test_a_second_idp_joins_the_first_ones_people() -> None:
    hr = SystemAccounts("hr", [person("hr", "900", emails=("ada.lovelace@example.org",),
                                      profile={"costCenter": "R&D"}),
                               person("hr", "901", emails=("new@example.org",))], identity_provider=True)
    result = correlate([idp(ADA), hr], settings())
    ada = result.identities["idp/user:ada"]
    assert [link.account.key for link in ada.links] == ["idp/user:ada", "hr/user:900"]
    assert ada.attributes["costCenter"] == "R&D"  # filled in by the second IdP
    assert ada.attributes["system"] == "idp"  # the first IdP's word wins
    assert "hr/user:901" in result.identities  # someone only the second IdP knows


# -- from a real sync ---------------------------------------------------------------------------------

def test_accounts_are_read_from_a_sync(tmp_path: Path) -> None:
    connector = DemoConnector(DemoConfig(data_dir=tmp_path / "demo"))
    try:
        result = sync(connector, tmp_path / "demo.c1z")
    finally:
        connector.close()
    with C1ZFile.open(tmp_path / "demo.c1z") as c1z:
        accounts = {a.resource_id: a for a in read_accounts(SyncReader.of(c1z, result.sync_id), "demo",
                                                             with_groups=True)}
    ada = accounts["ada.lovelace"]
    assert ada.emails == ("ada.lovelace@acme.example",) and ada.login == "ada.lovelace"
    assert ada.profile["department"] == "executive" and ada.holds_grants
    assert "everyone" in ada.groups  # group membership, for conditions on IdP groups
    assert accounts["svc-deploy-bot"].kind == "service"
    assert sum(1 for a in accounts.values() if a.status == "disabled") == 1
