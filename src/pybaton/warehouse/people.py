"""The correlation (identities and the accounts linked to them) and the last plan's findings, as rows.

Both describe the present, so each write replaces what was there, in one
transaction: a reader sees the previous correlation or the new one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping

from sqlalchemy import Connection, delete, insert

from pybaton.identity import Account, Correlation
from pybaton.warehouse import schema as s
from pybaton.warehouse.bulk import Row

LINKED, SOURCE, ORPHAN, AMBIGUOUS, SERVICE = "linked", "source", "orphan", "ambiguous", "service"


def _account_row(account: Account, sync_ids: Mapping[str, str], identity: str | None, match: str, rule: str,
                 value: str) -> dict[str, object]:
    return {"system": account.system, "resource_type_id": account.resource_type, "resource_id": account.resource_id,
            "sync_id": sync_ids.get(account.system, ""), "identity_id": identity, "match": match, "rule": rule,
            "value": value, "display_name": account.display_name, "login": account.login,
            "email": account.emails[0] if account.emails else "", "status": account.status, "kind": account.kind}


def _account_rows(correlation: Correlation, sync_ids: Mapping[str, str]) -> Iterator[dict[str, object]]:
    for identity in correlation.identities.values():
        for link in identity.links:
            match = SOURCE if link.account.key == identity.id else LINKED
            yield _account_row(link.account, sync_ids, identity.id, match, link.rule, link.value)
    for account in correlation.orphans:
        yield _account_row(account, sync_ids, None, ORPHAN, "", "")
    for amb in correlation.ambiguous:
        yield _account_row(amb.account, sync_ids, None, AMBIGUOUS, amb.rule, ", ".join(amb.candidates))
    for account in correlation.service:
        yield _account_row(account, sync_ids, None, SERVICE, "", "")


def replace_correlation(conn: Connection, correlation: Correlation, sync_ids: Mapping[str, str]) -> None:
    """Store ``correlation`` (made from the syncs ``sync_ids``) in place of the previous one."""
    conn.execute(delete(s.accounts))
    conn.execute(delete(s.identities))
    people = [{"identity_id": i.id, "source_system": i.source.system, "name": i.name,
               "display_name": i.source.display_name, "email": i.source.emails[0] if i.source.emails else "",
               "login": i.source.login, "status": i.source.status, "enabled": i.enabled}
              for i in correlation.identities.values()]
    if people:
        conn.execute(insert(s.identities), people)
    accounts = {(r["system"], r["resource_type_id"], r["resource_id"]): r for r in _account_rows(correlation, sync_ids)}
    if accounts:
        conn.execute(insert(s.accounts), list(accounts.values()))


def replace_findings(conn: Connection, findings: Iterable[Row], planned_at: dt.datetime) -> None:
    """Store the findings of the plan made at ``planned_at``: (kind, system, subject, message, rules)."""
    conn.execute(delete(s.findings))
    rows = [{"planned_at": planned_at, "kind": kind, "system": system, "subject": subject, "message": message,
             "rules": rules} for kind, system, subject, message, rules in findings]
    if rows:
        conn.execute(insert(s.findings), rows)
