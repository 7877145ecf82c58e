"""Desired versus actual: the policy's rules evaluated over the latest syncs, as a plan.

The planner first collects what birthright rules *want* (person P holds E in
S), then what the other rules *forbid* (exclusive, leavers, the side a toxic
rule drops) among what is actually held. A want that another rule forbids is a
conflict: reported, and neither side acts, so two rules can never flap a grant
back and forth between runs. Everything else becomes actions: an account and a
grant for what is missing, revocations for what is held and should not be —
at the direct grant, or at the group membership a derived grant comes from.

Nothing is guessed: an ambiguous account, a condition that cannot be evaluated
for someone, or a toxic combination without ``drop`` is reported, never acted on.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pybaton.identity import SOURCE_RULE, Account, Identity
from pybaton.pb.c1.connector.v2 import grant_pb2
from pybaton.reconcile.conditions import Condition
from pybaton.reconcile.plan import REMOVALS, Action, Finding, Kind, Plan, new_plan
from pybaton.reconcile.policy import (
    BirthrightRule,
    EntitlementRef,
    ExclusiveRule,
    LeaverRule,
    OrphanRule,
    Policy,
    ToxicRule,
    rule_id,
)
from pybaton.reconcile.removal import removal
from pybaton.reconcile.simulate import creator, is_planned, simulate
from pybaton.reconcile.state import State, SystemState
from pybaton.reconcile.workspace import Workspace

ORPHANS_FILE = "orphans.json"


@dataclass(frozen=True)
class Want:
    """A birthright: ``identity`` should hold ``entitlement`` in ``system``."""

    system: str
    entitlement: str
    identity: Identity
    rule: BirthrightRule
    evidence: str


class _Blanks(dict[str, Any]):
    """Template values: a missing attribute formats as nothing rather than failing."""

    def __missing__(self, key: str) -> str:
        return ""


def _shown(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


@dataclass(frozen=True)
class Earlier:
    """What a pass knows of the passes before it: the real state (``state`` is what the plan so far leads to),
    the actions planned so far, and the actions barred because rules undo each other through them."""

    actual: State
    planned: Mapping[str, Action] = field(default_factory=dict)
    vetoes: Mapping[str, Finding] = field(default_factory=dict)
    # (rule, condition, identity) → (value, problem): a person's attributes are the same in every pass
    conditions: dict[tuple[str, str, str], tuple[bool | None, str]] = field(default_factory=dict)


def _finding_key(finding: Finding) -> tuple[str, str, str, str]:
    return finding.kind, finding.system, finding.subject, finding.message


def _resource_of(grant: grant_pb2.Grant) -> str:
    """``group:sre`` for a grant of ``group:sre:member``."""
    rid = grant.entitlement.resource.id
    return f"{rid.resource_type}:{rid.resource}" if rid.resource else grant.entitlement.id.rpartition(":")[0]


class Planner:
    """One planning pass. Use :func:`make_plan`."""

    def __init__(self, ws: Workspace, policy: Policy, state: State, now: dt.datetime,
                 orphan_seen: Mapping[str, str], earlier: Earlier | None = None) -> None:
        self.ws, self.policy, self.state, self.now = ws, policy, state, now
        self.earlier = earlier or Earlier(state)
        self.orphan_seen = dict(orphan_seen)
        self.vetoes: dict[str, Finding] = {}  # actions this pass found the rules undo each other through
        self.causes: dict[str, list[str]] = {}  # grant id → the planned removals that make it needed
        self._removals: dict[tuple[str, str], list[Action]] = {}
        for planned in self.earlier.planned.values():  # by target: a revoked grant's id, a deleted account
            if planned.kind in REMOVALS:
                self._removals.setdefault((planned.system, planned.target), []).append(planned)
        self.actions: dict[str, Action] = {}
        self.findings: dict[tuple[str, str, str, str], Finding] = {}
        self.wants: dict[tuple[str, str, str], Want] = {}
        self.creates: dict[tuple[str, str], Action] = {}

    # -- bookkeeping ---------------------------------------------------------------------------

    def find(self, kind: str, system: str, subject: str, message: str, rules: Iterable[str] = ()) -> None:
        key = (kind, system, subject, message)
        if key not in self.findings:
            self.findings[key] = Finding(kind=kind, system=system, subject=subject, message=message,
                                         rules=list(rules))

    def add(self, action: Action) -> None:
        veto = self.earlier.vetoes.get(action.id)
        if veto is not None:  # rules undo each other through this action: neither acts, the conflict is reported
            self.findings.setdefault(_finding_key(veto), veto)
            return
        if self.ws.system(action.system).read_only:
            self.find("read-only", action.system, action.principal or action.target,
                      f"would {action.kind.value} {action.target}, but {action.system} is read-only", action.rules)
            return
        existing = self.actions.get(action.id)
        if existing is None:
            self.actions[action.id] = action
        else:
            existing.merge(action)

    def system(self, name: str, rule: str) -> SystemState | None:
        """The system's state, or None (and a finding) when it has no usable sync."""
        found = self.state.systems.get(name)
        if found is None:
            self.find("missing-sync", name, name, f"no usable sync: {self.state.missing.get(name, 'unknown')}",
                      [rule])
        return found

    def known_entitlement(self, system: SystemState, entitlement: str, rule: str) -> bool:
        if system.entitlement(entitlement) is not None:
            return True
        self.find("unknown-entitlement", system.name, entitlement,
                  f"the latest sync of {system.name} has no entitlement {entitlement}", [rule])
        return False

    def evaluate(self, rule: str, key: str, identity: Identity) -> bool | None:
        """A rule's condition for a person; None (with a finding) when it cannot be evaluated."""
        condition = self.policy.condition(rule, key)
        if condition is None:
            return None
        cached = (rule, key, identity.id)
        found = self.earlier.conditions.get(cached)
        if found is None:
            found = self.earlier.conditions[cached] = condition.evaluate(identity.attributes)
        value, problem = found
        if value is None:
            self.find("condition-error", identity.source.system, identity.name, problem, [rule])
        return value

    def because(self, identity: Identity, condition: Condition | None) -> str:
        """``ada: department == "Engineering" (department="Engineering")``: the evidence of a match."""
        if condition is None:
            return identity.name
        values = ", ".join(f"{v}={_shown(identity.attributes.get(v))}" for v in condition.variables)
        return f"{identity.name}: {condition.source} ({values})" if values else f"{identity.name}: {condition.source}"

    def app_systems(self, names: list[str]) -> list[str]:
        return names or [n for n, s in self.ws.systems.items() if not s.identity_provider]

    def identities(self) -> list[Identity]:
        return [self.state.correlation.identities[k] for k in sorted(self.state.correlation.identities)]

    # -- birthright ----------------------------------------------------------------------------

    def collect_wants(self) -> None:
        for rule in self.policy.birthright:
            rid = rule_id("birthright", rule.name)
            system = self.system(rule.system, rid)
            if system is None or not self.known_entitlement(system, rule.entitlement, rid):
                continue
            for identity in self.identities():
                if identity.enabled and self.evaluate(rid, "when", identity):
                    evidence = self.because(identity, self.policy.condition(rid, "when"))
                    self.wants.setdefault((rule.system, rule.entitlement, identity.id),
                                          Want(rule.system, rule.entitlement, identity, rule, evidence))

    def forbidden(self, system: str, entitlement: str, identity: Identity) -> list[str]:
        """The rules that would take ``entitlement`` in ``system`` away from ``identity``."""
        reasons = [rule_id("exclusive", r.name) for r in self.policy.exclusive
                   if r.system == system and r.entitlement == entitlement and self.allowed(r, identity) is False]
        reasons += [rule_id("leavers", r.name) for r in self.policy.leavers
                    if system in self.app_systems(r.systems) and self.evaluate(rule_id("leavers", r.name), "when",
                                                                                 identity)]
        return reasons

    def grant_wants(self) -> None:
        for key in sorted(self.wants, key=lambda k: (k[0], k[1], k[2])):
            want = self.wants[key]
            rid = rule_id("birthright", want.rule.name)
            against = self.forbidden(want.system, want.entitlement, want.identity)
            if against:
                self.find("conflict", want.system, want.identity.name,
                          f"{rid} gives {want.entitlement} but {', '.join(against)} takes it away; "
                          "nothing is done until the rules agree", [rid, *against])
                continue
            self.grant_want(want, rid)

    def grant_want(self, want: Want, rid: str) -> None:
        system = self.state.systems[want.system]
        links = want.identity.accounts(want.system)
        holders = system.holders(want.entitlement)
        if any((link.account.resource_type, link.account.resource_id) in holders for link in links):
            return
        if links:
            account = links[0].account
            lost, causes = self.lost(want.system, account, want.entitlement)
            action = self.grant_to(system, want.entitlement, account)
            action.identity, action.rules = want.identity.id, [rid]
            action.evidence = [want.evidence, *lost] if lost else \
                [want.evidence, f"{account.ref} (linked by {links[0].rule}) does not hold {want.entitlement}"]
            self.causes[action.id] = causes
            self.add(action)
        elif want.rule.create_account:
            create = self.create_account(want, rid)
            self.add(Action(kind=Kind.GRANT, system=want.system, target=want.entitlement, needs=create.id,
                            identity=want.identity.id, rules=[rid], evidence=[want.evidence]))
        else:
            self.find("no-account", want.system, want.identity.name,
                      f"should hold {want.entitlement} but has no account in {want.system} "
                      "(the rule does not create accounts: create_account: true)", [rid])

    def create_account(self, want: Want, rid: str) -> Action:
        identity = want.identity
        login = identity.source.login or (identity.source.emails[0].partition("@")[0] if identity.source.emails
                                          else identity.name)
        templates = self.ws.system(want.system).account_profile
        profile = {k: t.format_map(_Blanks(identity.attributes)) for k, t in templates.items()}
        action = Action(kind=Kind.CREATE_ACCOUNT, system=want.system, target=login,
                        email=identity.source.emails[0] if identity.source.emails else "",
                        profile={k: v for k, v in profile.items() if v}, identity=identity.id, rules=[rid],
                        evidence=[want.evidence, f"{identity.name} has no account in {want.system}"])
        self.add(action)
        return self.actions.get(action.id, action)

    def lost(self, system_name: str, account: Account, entitlement: str) -> tuple[list[str], list[str]]:
        """Why ``account`` would no longer hold ``entitlement`` although it does today: the planned removals
        that take away what it inherits it through (evidence lines, and those actions' ids)."""
        actual = self.earlier.actual.systems.get(system_name)
        if actual is None or actual is self.state.systems.get(system_name):
            return [], []
        grant = actual.grant(entitlement, (account.resource_type, account.resource_id))
        if grant is None:
            return [], []
        lines: list[str] = []
        causes: list[str] = []
        for direct, _ in removal(actual, grant).revoke:
            for action in self._removals.get((system_name, direct.id), []):
                lines.append(f"{account.ref} loses {entitlement} (inherited through {direct.entitlement.id}) when "
                             f"removed from {_resource_of(direct)} by {', '.join(action.rules)}")
                causes.append(action.id)
        for action in self._removals.get((system_name, account.ref), []):
            lines.append(f"{account.ref} loses {entitlement} when the account is deleted by {', '.join(action.rules)}")
            causes.append(action.id)
        return lines, causes

    @staticmethod
    def grant_to(system: SystemState, entitlement: str, account: Account) -> Action:
        """A grant to ``account``: by its reference, or, for an account the plan creates, after that action."""
        needs = creator(system, account)
        return Action(kind=Kind.GRANT, system=system.name, target=entitlement, principal="" if needs else account.ref,
                      needs=needs)

    def veto_planned(self, system: SystemState, direct: grant_pb2.Grant, account: Account, finding: Finding) -> bool:
        """Bar the planned grant ``direct`` (True), when the plan makes it; the pass is then planned again."""
        if not is_planned(system, direct):
            return False
        self.vetoes.setdefault(self.grant_to(system, direct.entitlement.id, account).id, finding)
        return True

    # -- removals ------------------------------------------------------------------------------

    def remove(self, system: SystemState, grant: grant_pb2.Grant, account: Account, rid: str, why: str, *,
               quiet_protected: bool = False) -> None:
        """Revoke what gives ``account`` the grant's entitlement, unless a birthright wants it kept."""
        identity = self.state.correlation.identity_of(account.key)
        found = removal(system, grant)
        for direct, chain in found.revoke:
            kept = self.wants.get((system.name, direct.entitlement.id, identity.id)) if identity else None
            via = f" through {' → '.join(chain)}" if chain else ""
            if kept is not None:
                wanted_by = rule_id("birthright", kept.rule.name)
                nested = Finding(kind="conflict", system=system.name, subject=account.name, rules=[wanted_by, rid],
                                 message=f"{wanted_by} gives {account.ref} {direct.entitlement.id}, which would give "
                                         f"it {grant.entitlement.id}{via}, but {rid} takes that away; nothing is "
                                         "done until the rules agree")
                if not self.veto_planned(system, direct, account, nested):
                    self.find("conflict", system.name, account.name,
                              f"{rid} would revoke {direct.id} but {wanted_by} gives it; nothing is done until the "
                              "rules agree", [rid, wanted_by])
                continue
            self.add(Action(kind=Kind.REVOKE, system=system.name, target=direct.id, principal=account.ref,
                            identity=identity.id if identity else "", rules=[rid],
                            evidence=[why, f"{account.ref} holds {grant.entitlement.id}{via}"]))
        for blocked in found.blocked:
            if not (quiet_protected and blocked.protected):
                self.find("unfixable", system.name, account.name,
                          f"{rid} wants {grant.entitlement.id} removed, but {blocked.reason}", [rid])

    def allowed(self, rule: ExclusiveRule, identity: Identity) -> bool | None:
        names = {n.casefold() for n in (identity.id, identity.name, identity.source.login, *identity.source.emails)}
        if any(entry.casefold() in names for entry in rule.identities):
            return True
        if rule.allow is None:
            return False
        return self.evaluate(rule_id("exclusive", rule.name), "allow", identity)

    def exclusive(self) -> None:
        for rule in self.policy.exclusive:
            rid = rule_id("exclusive", rule.name)
            system = self.system(rule.system, rid)
            if system is None or not self.known_entitlement(system, rule.entitlement, rid):
                continue
            for principal, grant in sorted(system.holders(rule.entitlement).items()):
                account = system.account(principal)
                if account is not None and account.ref not in rule.accounts:
                    self.exclusive_holder(system, rule, rid, account, grant)

    def exclusive_holder(self, system: SystemState, rule: ExclusiveRule, rid: str, account: Account,
                         grant: grant_pb2.Grant) -> None:
        correlation = self.state.correlation
        if correlation.is_ambiguous(account.key):
            self.find("ambiguous", system.name, account.ref, f"holds {rule.entitlement}, but it is not known "
                      "whose account this is (ambiguous match); not revoked", [rid])
            return
        identity = correlation.identity_of(account.key)
        verdict = self.allowed(rule, identity) if identity is not None else False
        if verdict is False:
            who = self.because(identity, self.policy.condition(rid, "allow")) if identity else \
                f"{account.ref} belongs to no identity"
            self.remove(system, grant, account, rid, f"{who}: not allowed to hold {rule.entitlement}")

    # -- leavers and orphans -------------------------------------------------------------------

    def leavers(self) -> None:
        for rule in self.policy.leavers:
            rid = rule_id("leavers", rule.name)
            systems = set(self.app_systems(rule.systems))
            for identity in self.identities():
                if not self.evaluate(rid, "when", identity):
                    continue
                why = f"{self.because(identity, self.policy.condition(rid, 'when'))}: a leaver"
                for link in identity.links:
                    if link.rule != SOURCE_RULE and link.account.system in systems:
                        self.leaver_account(rule, rid, link.account, why)

    def leaver_account(self, rule: LeaverRule, rid: str, account: Account, why: str) -> None:
        system = self.system(account.system, rid)
        if system is None:
            return
        method = system.spec.disable
        principal = (account.resource_type, account.resource_id)
        for grant in system.held_by(principal):
            if method is None or grant.entitlement.id != method.revoke:
                self.remove(system, grant, account, rid, why, quiet_protected=True)
        if rule.account == "delete":
            identity = self.state.correlation.identity_of(account.key)
            self.add(Action(kind=Kind.DELETE, system=system.name, target=account.ref, rules=[rid], evidence=[why],
                            identity=identity.id if identity else ""))
        elif rule.account == "disable":
            self.disable(system, account, rid, why)

    def disable(self, system: SystemState, account: Account, rid: str, why: str) -> None:
        method = system.spec.disable
        if method is None:
            if account.enabled:
                self.find("unfixable", system.name, account.name, f"{rid} wants the account disabled, but the "
                          f"workspace says no way to disable accounts in {system.name} (systems.{system.name}."
                          "disable)", [rid])
            return
        login = system.grant(method.revoke, (account.resource_type, account.resource_id))
        if login is not None:
            self.add(Action(kind=Kind.DISABLE, system=system.name, target=login.id, principal=account.ref,
                            rules=[rid], evidence=[why, f"{account.ref} holds {method.revoke}"]))

    def orphans(self) -> None:
        seen = {a.key: self.orphan_seen.get(a.key, self.now.isoformat()) for a in self.state.correlation.orphans}
        self.orphan_seen = seen
        for rule in self.policy.orphans:
            rid = rule_id("orphans", rule.name)
            systems = set(self.app_systems(rule.systems))
            for account in self.state.correlation.orphans:
                if account.system in systems:
                    self.orphan(rule, rid, account, dt.datetime.fromisoformat(seen[account.key]))

    def orphan(self, rule: OrphanRule, rid: str, account: Account, since: dt.datetime) -> None:
        held = "holds grants" if account.holds_grants else "holds no grants"
        due = since + rule.grace_period
        if rule.action == "delete" and self.now >= due:
            self.add(Action(kind=Kind.DELETE, system=account.system, target=account.ref, rules=[rid],
                            evidence=[f"{account.ref} ({account.name}) belongs to no identity since "
                                      f"{since:%Y-%m-%d %H:%M} UTC (grace {rule.grace}); it {held}"]))
            return
        tail = f"; deleted from {due:%Y-%m-%d %H:%M} UTC" if rule.action == "delete" else ""
        self.find("orphan", account.system, account.ref, f"{account.name} belongs to no identity; it {held}{tail}",
                  [rid])

    # -- toxic combinations --------------------------------------------------------------------

    def holdings(self, identity: Identity | None, account: Account | None, system: str,
                 entitlement: str) -> tuple[list[tuple[Account, grant_pb2.Grant]], bool]:
        """Who (of the person's accounts) holds it now, and whether this plan would grant it."""
        state = self.state.systems.get(system)
        accounts = [link.account for link in identity.accounts(system)] if identity else \
            [account] if account is not None and account.system == system else []
        held = []
        for acct in accounts:
            grant = state.grant(entitlement, (acct.resource_type, acct.resource_id)) if state else None
            if grant is not None:
                held.append((acct, grant))
        planned = identity is not None and any(
            a.kind is Kind.GRANT and a.system == system and a.target == entitlement and a.identity == identity.id
            for a in self.actions.values())
        return held, planned

    def toxic(self) -> None:
        for rule in self.policy.toxic:
            rid = rule_id("toxic", rule.name)
            for identity, account in self.subjects():
                self.toxic_subject(rule, rid, identity, account)

    def subjects(self) -> Iterator[tuple[Identity | None, Account | None]]:
        """Every person, and every account that belongs to nobody (it may hold both sides alone)."""
        for identity in self.identities():
            yield identity, None
        for account in self.state.correlation.orphans + self.state.correlation.service:
            yield None, account

    def toxic_subject(self, rule: ToxicRule, rid: str, identity: Identity | None, account: Account | None) -> None:
        held_a, planned_a = self.holdings(identity, account, rule.a.system, rule.a.entitlement)
        held_b, planned_b = self.holdings(identity, account, rule.b.system, rule.b.entitlement)
        if not ((held_a or planned_a) and (held_b or planned_b)):
            return
        who = identity.name if identity else (account.ref if account else "")
        pair = f"{rule.a.system}/{rule.a.entitlement} and {rule.b.system}/{rule.b.entitlement}"
        real_a, real_b = self.really_held(held_a, rule.a), self.really_held(held_b, rule.b)
        if not (real_a and real_b):  # only this plan would make the combination: do not grant it
            self.drop_planned_grants(rule, identity)
            message = f"a birthright would give {who} both {pair} ({rid}); not granted"
            self.find("conflict", "", who, message, [rid])
            finding = Finding(kind="conflict", subject=who, message=message, rules=[rid])
            for side, held, real in ((rule.a, held_a, real_a), (rule.b, held_b, real_b)):
                self.veto_plan_made(self.state.systems[side.system], [h for h in held if h not in real], finding)
            return
        self.find("violation", "", who, f"holds both {pair}", [rid])
        if rule.drop is not None:
            side = rule.a if rule.drop == "a" else rule.b
            system = self.state.systems[side.system]
            for acct, grant in held_a if rule.drop == "a" else held_b:
                self.remove(system, grant, acct, rid, f"{who} holds both {pair}; {rid} drops {side.entitlement}")

    def really_held(self, held: list[tuple[Account, grant_pb2.Grant]],
                    side: EntitlementRef) -> list[tuple[Account, grant_pb2.Grant]]:
        """Of what the planned state holds, what the system holds today."""
        actual = self.earlier.actual.systems.get(side.system)
        return [(a, g) for a, g in held
                if actual is not None and actual.grant(side.entitlement, (a.resource_type, a.resource_id))]

    def veto_plan_made(self, system: SystemState, held: list[tuple[Account, grant_pb2.Grant]],
                       finding: Finding) -> None:
        """Bar the planned grants an imagined holding comes from (it exists only because of them)."""
        for account, grant in held:
            for direct, _ in removal(system, grant).revoke:
                self.veto_planned(system, direct, account, finding)

    def drop_planned_grants(self, rule: ToxicRule, identity: Identity | None) -> None:
        if identity is None:
            return
        sides = {(rule.a.system, rule.a.entitlement), (rule.b.system, rule.b.entitlement)}
        for key, action in list(self.actions.items()):
            if action.kind is Kind.GRANT and action.identity == identity.id and (action.system, action.target) in sides:
                del self.actions[key]

    # -- the plan ------------------------------------------------------------------------------

    def report_ambiguous(self) -> None:
        for amb in self.state.correlation.ambiguous:
            self.find("ambiguous", amb.account.system, amb.account.ref,
                      f"{amb.rule} {amb.value!r} matches {len(amb.candidates)} identities "
                      f"({', '.join(amb.candidates)}); not linked to any")

    def run(self) -> Plan:
        self.collect_wants()
        self.grant_wants()
        self.exclusive()
        self.leavers()
        self.orphans()
        self.toxic()
        self.report_ambiguous()
        self.drop_orphaned_grants()
        return new_plan(self.ws.path, self.state.basis, self.actions.values(), self.findings.values())

    def drop_orphaned_grants(self) -> None:
        """A grant waiting for an account that will not be created (read-only, dropped) goes too, and so does an
        account created only for grants that were all barred."""
        for key, action in list(self.actions.items()):
            if action.needs and action.needs not in self.actions:
                del self.actions[key]
        needed = {a.needs for a in self.actions.values() if a.needs}
        for key, action in list(self.actions.items()):
            if action.kind is Kind.CREATE_ACCOUNT and key not in needed:
                del self.actions[key]


MAX_PASSES = 20  # a plan settles in a pass or two: each pass only answers what the previous one removed
MAX_ROUNDS = 50  # each round bars at least one more action, so this only guards against a mistake


@dataclass
class _Round:
    """The passes of one round: actions planned so far, every finding, and what the round found must be barred."""

    planned: dict[str, Action] = field(default_factory=dict)
    findings: dict[tuple[str, str, str, str], Finding] = field(default_factory=dict)
    causes: dict[str, list[str]] = field(default_factory=dict)
    vetoes: dict[str, Finding] = field(default_factory=dict)
    orphan_seen: dict[str, str] = field(default_factory=dict)


def _round(ws: Workspace, policy: Policy, state: State, now: dt.datetime, orphan_seen: Mapping[str, str],
           vetoes: Mapping[str, Finding], max_passes: int,
           conditions: dict[tuple[str, str, str], tuple[bool | None, str]]) -> _Round:
    """Plan, imagine the result, plan again against it, until a pass adds nothing (or must bar something)."""
    out = _Round()
    view = state
    for number in range(max_passes + 1):  # the last pass only checks that the plan has settled
        planner = Planner(ws, policy, view, now, orphan_seen, Earlier(state, out.planned, vetoes, conditions))
        planner.run()
        if number == 0:
            out.orphan_seen = planner.orphan_seen
        if planner.vetoes:
            out.vetoes = planner.vetoes
            return out
        for key, finding in planner.findings.items():
            out.findings.setdefault(key, finding)
        new = {k: a for k, a in planner.actions.items() if k not in out.planned}
        if not new:
            return out
        out.planned.update(new)
        out.causes.update({k: planner.causes[k] for k in new if planner.causes.get(k)})
        view = simulate(state, list(out.planned.values()))
    out.vetoes = _unsettled(new, out, max_passes)
    return out


def _unsettled(last: Mapping[str, Action], out: _Round, max_passes: int) -> dict[str, Finding]:
    """Still changing after ``max_passes``: bar the last pass's actions and the removals that called for them."""
    barred = dict(last)
    for key in last:
        barred.update({c: out.planned[c] for c in out.causes.get(key, []) if c in out.planned})
    rules = sorted({r for a in barred.values() for r in a.rules})
    return {key: Finding(kind="conflict", system=action.system, subject=action.principal or action.target,
                         rules=rules, message=f"the plan does not settle after {max_passes} planning passes: "
                                              f"{', '.join(rules)} keep undoing each other ({key}); nothing is done "
                                              "until the rules agree")
            for key, action in barred.items()}


def _ordered(planned: Mapping[str, Action], causes: Mapping[str, list[str]]) -> list[Action]:
    """The actions, each removal marked to wait for the grants that keep what it would otherwise take away."""
    actions = dict(planned)
    for grant, removals in causes.items():
        for key in removals:
            if key in actions and grant not in actions[key].after:
                waiting = actions[key].model_copy(deep=True) if actions[key] is planned[key] else actions[key]
                waiting.after.append(grant)
                waiting.evidence.append(f"after {grant} (it keeps what this takes away)")
                actions[key] = waiting
    return list(actions.values())


def make_plan(ws: Workspace, policy: Policy, state: State, *, now: dt.datetime | None = None,
              orphan_seen: Mapping[str, str] | None = None,
              max_passes: int = MAX_PASSES) -> tuple[Plan, dict[str, str]]:
    """The plan, and the updated record of when each orphan account was first seen.

    Planned to a fixed point: the state the plan leads to (its writes applied,
    expansion re-applied) is planned again until nothing changes, so a second
    plan right after applying this one is empty — a revocation that would take
    away what a birthright guarantees (inherited through the group it removes)
    is met by a direct grant in the same plan, ahead of it. When rules undo each
    other through nesting (one grants a membership that gives what another
    takes away), the actions involved are barred, the conflict is reported, and
    the round is planned again without them: neither side acts.
    """
    when = now or dt.datetime.now(dt.UTC)
    vetoes: dict[str, Finding] = {}
    conditions: dict[tuple[str, str, str], tuple[bool | None, str]] = {}
    for _ in range(MAX_ROUNDS):
        result = _round(ws, policy, state, when, orphan_seen or {}, vetoes, max_passes, conditions)
        if not result.vetoes:
            plan = new_plan(ws.path, state.basis, _ordered(result.planned, result.causes), result.findings.values())
            return plan, result.orphan_seen
        fresh = {k: f for k, f in result.vetoes.items() if k not in vetoes}
        if not fresh:
            break
        vetoes.update(fresh)
    stuck = Finding(kind="conflict", message=f"the plan does not settle after {MAX_ROUNDS} rounds of barring "
                                             "conflicting actions; nothing is done", rules=sorted(
                                                 {r for f in vetoes.values() for r in f.rules}))
    return new_plan(ws.path, state.basis, [], [*result.findings.values(), stuck]), result.orphan_seen


def orphans_path(ws: Workspace) -> Path:
    return ws.data_dir / ORPHANS_FILE


def load_orphan_seen(ws: Workspace) -> dict[str, str]:
    path = orphans_path(ws)
    try:
        data = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def save_orphan_seen(ws: Workspace, seen: Mapping[str, str]) -> None:
    path = orphans_path(ws)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(dict(sorted(seen.items())), indent=1) + "\n")
    tmp.replace(path)


__all__ = ["Planner", "Want", "load_orphan_seen", "make_plan", "save_orphan_seen"]
