"""The state a plan leads to: the latest syncs with the plan's writes applied, and expansion re-applied.

The planner plans against this imagined state again and again until nothing
changes (see :func:`pybaton.reconcile.planner.make_plan`). Only what the plan
touches is recomputed: the direct grants it adds or revokes, the accounts it
deletes, and every entitlement downstream of those in the system's expansion
graph (a membership revoked from ``group:sre`` changes who holds what SRE, and
everything nested above it, passes on). Those holders are computed with grant
expansion's own code (:class:`pybaton.sync.expand_graph.Holders`), over the
part of the graph that feeds them, so the imagined grants carry the same
``sources`` a sync after the plan would write — which is what the planner
follows when it explains or removes an inherited grant.

Everything else is answered by the real state underneath; nothing is written.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from pybaton.identity import Account, Link
from pybaton.pb.c1.connector.v2 import entitlement_pb2, grant_pb2
from pybaton.reconcile.plan import Action, Kind
from pybaton.reconcile.state import Principal, State, SystemState
from pybaton.sync.expand import DEFAULT_MAX_DEPTH
from pybaton.sync.expand_graph import EntitlementGraph, Holders, expansion_walk, plan
from pybaton.sync.expand_store import is_derived

Holdings = dict[Principal, grant_pb2.Grant]


PLANNED_RULE = "planned"  # how an account the plan creates is linked to its person, until it exists


@dataclass
class Changes:
    """One system's writes in a plan, as changes to its direct grants."""

    added: set[tuple[str, Principal]] = field(default_factory=set)  # (entitlement, principal) granted
    removed: set[tuple[str, Principal]] = field(default_factory=set)  # revoked (a disable is a revocation too)
    deleted: set[Principal] = field(default_factory=set)  # accounts deleted, with everything they hold
    created: dict[Principal, tuple[str, Account]] = field(default_factory=dict)  # → (create action id, account)


def principal_of(ref: str) -> Principal:
    """``user:ada`` → ``("user", "ada")``."""
    ptype, _, pid = ref.partition(":")
    return ptype, pid


def revoked_entitlement(action: Action) -> str:
    """The entitlement of the grant a revoke or disable removes (grant ids are ``{entitlement}:{principal}``)."""
    suffix = f":{action.principal}"
    return action.target[: -len(suffix)] if action.principal and action.target.endswith(suffix) else ""


def new_account(action: Action, resource_type: str) -> Account:
    """The account a create-account action makes, as the planner imagines it. The system picks the real id;
    this one (``ada (new)``) cannot clash with an existing account's, and is never written anywhere."""
    return Account(system=action.system, resource_type=resource_type, resource_id=f"{action.target} (new)",
                   login=action.target, emails=(action.email,) if action.email else (),
                   display_name=str(action.profile.get("display_name", "")))


def changes_of(actions: Iterable[Action], account_types: Mapping[str, str]) -> dict[str, Changes]:
    """The plan's writes, system by system; ``account_types``: the resource type of each system's accounts
    (what an account it creates will be)."""
    out: dict[str, Changes] = {}
    ordered = sorted(actions, key=Action.sort_key)  # creates first: their grants refer to them
    new: dict[str, Account] = {}
    for action in ordered:
        changes = out.setdefault(action.system, Changes())
        if action.kind is Kind.CREATE_ACCOUNT:
            account = new_account(action, account_types.get(action.system, "user"))
            new[action.id] = account
            changes.created[(account.resource_type, account.resource_id)] = (action.id, account)
        elif action.kind is Kind.GRANT and (action.principal or action.needs in new):
            principal = principal_of(action.principal) if action.principal else \
                (new[action.needs].resource_type, new[action.needs].resource_id)
            changes.added.add((action.target, principal))
        elif action.kind in (Kind.REVOKE, Kind.DISABLE) and revoked_entitlement(action):
            changes.removed.add((revoked_entitlement(action), principal_of(action.principal)))
        elif action.kind is Kind.DELETE:
            changes.deleted.add(principal_of(action.target))
    return out


def _closure(start: Iterable[int], edges: Sequence[Sequence[int]]) -> set[int]:
    seen = set(start)
    todo = list(seen)
    while todo:
        for nxt in edges[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def _grant(entitlement_id: str, principal: Principal, sources: Sequence[tuple[str, bool]],
           like: grant_pb2.Grant | None = None) -> grant_pb2.Grant:
    """A grant as a sync after the plan would show it, with ``sources``: ``like`` (the grant today) itself when
    its sources do not change, else a copy with the new ones, else (nothing today) a new grant."""
    if like is not None and {k: v.is_direct for k, v in like.sources.sources.items()} == dict(sources):
        return like  # unchanged (most of them): no copy
    grant = grant_pb2.Grant()
    if like is not None:
        grant.CopyFrom(like)
        grant.sources.Clear()
    else:
        grant.id = f"{entitlement_id}:{principal[0]}:{principal[1]}"
        grant.entitlement.id = entitlement_id
        grant.principal.id.resource_type, grant.principal.id.resource = principal
    for key, direct in sources:
        grant.sources.sources[key].is_direct = direct
    return grant


class SimulatedSystem(SystemState):
    """A system as it will be once ``changes`` are applied; lookups not touched by them go to ``base``."""

    def __init__(self, base: SystemState, changes: Changes, max_depth: int = DEFAULT_MAX_DEPTH) -> None:
        # SystemState's own lookups are all overridden: only its identity and settings are shared.
        self.base, self.changes, self.max_depth = base, changes, max_depth
        self.name, self.spec, self.reader, self.sync_id = base.name, base.spec, base.reader, base.sync_id
        self.accounts = [*base.accounts, *(account for _, account in changes.created.values())]
        self._added: dict[str, list[Principal]] = {}
        for ent, principal in sorted(changes.added):
            self._added.setdefault(ent, []).append(principal)
        self._recomputed = self._recompute()

    # -- lookups -------------------------------------------------------------------------------

    def account(self, principal: Principal) -> Account | None:
        created = self.changes.created.get(principal)
        return created[1] if created is not None else self.base.account(principal)

    def creator(self, account: Account) -> str:
        """The id of the create-account action that makes ``account``; empty for an existing account."""
        created = self.changes.created.get((account.resource_type, account.resource_id))
        return created[0] if created is not None and created[1] == account else ""

    def holders(self, entitlement_id: str) -> Holdings:
        found = self._recomputed.get(entitlement_id)
        return self.base.holders(entitlement_id) if found is None else found

    def held_by(self, principal: Principal) -> list[grant_pb2.Grant]:
        if principal in self.changes.deleted:
            return []
        kept = [g for g in self.base.held_by(principal) if g.entitlement.id not in self._recomputed]
        return kept + [h[principal] for h in self._recomputed.values() if principal in h]

    def entitlement(self, entitlement_id: str) -> entitlement_pb2.Entitlement | None:
        return self.base.entitlement(entitlement_id)

    def expansion_graph(self) -> EntitlementGraph:
        return self.base.expansion_graph()

    def is_planned(self, grant: grant_pb2.Grant) -> bool:
        """Whether ``grant`` is one the plan makes (it does not exist in the system yet)."""
        return (grant.entitlement.id, (grant.principal.id.resource_type, grant.principal.id.resource)) \
            in self.changes.added

    # -- the recomputation ---------------------------------------------------------------------

    def _direct(self, entitlement_id: str) -> Holdings:
        """Direct holders after the changes (derived grants are recomputed, never carried over)."""
        gone = self.changes.deleted
        out = {p: g for p, g in self.base.holders(entitlement_id).items()
               if not is_derived(g, entitlement_id) and p not in gone
               and (entitlement_id, p) not in self.changes.removed}
        for principal in self._added.get(entitlement_id, ()):
            out.setdefault(principal, _grant(entitlement_id, principal, ()))
        return out

    def _changed(self) -> set[str]:
        changed = {ent for ent, _ in self.changes.added | self.changes.removed}
        for principal in self.changes.deleted:
            changed.update(g.entitlement.id for g in self.base.held_by(principal))
        return changed

    def _recompute(self) -> dict[str, Holdings]:
        changed = self._changed()
        if not changed:
            return {}
        graph = self.expansion_graph()
        seeds = [graph.index[e] for e in changed if e in graph.index]
        out: dict[str, Holdings] = {e: self._direct(e) for e in changed if e not in graph.index}
        if seeds:
            out.update(self._reexpand(graph, _closure(seeds, graph.outgoing())))
        return out

    def _reexpand(self, graph: EntitlementGraph, downstream: set[int]) -> dict[str, Holdings]:
        """Holders of every entitlement downstream of a change, from the part of the graph that feeds them."""
        feeding = _closure(downstream, graph.incoming())
        sub = EntitlementGraph()
        for ent in sorted(graph.ids[n] for n in feeding):
            sub.intern(ent)
        for (src, dst), spec in graph.edges.items():
            if src in feeding and dst in feeding:
                sub.add_edge(graph.ids[src], graph.ids[dst], spec)
        direct = [self._direct(ent) for ent in sub.ids]
        principals = sorted({p for d in direct for p in d})
        number = {p: n for n, p in enumerate(principals)}
        holders = Holders(sub, [frozenset(number[p] for p in d) for d in direct], [p[0] for p in principals])
        for _ in expansion_walk(plan(sub, self.max_depth), holders, keep=True):
            pass
        wanted = {graph.ids[n] for n in downstream}
        out: dict[str, Holdings] = {}
        for n, ent in enumerate(sub.ids):
            if ent not in wanted:
                continue
            contributions = holders.contributions(n)
            held: Holdings = {}
            before = self.base.holders(ent)
            for p in sorted(holders.held(n)):
                sources = holders.sources(p, contributions)
                own = direct[n].get(principals[p])
                if own is None:
                    held[principals[p]] = _grant(ent, principals[p], sources, before.get(principals[p]))
                else:  # a direct grant also reached through a group lists itself first, as expansion writes it
                    held[principals[p]] = _grant(ent, principals[p], ((ent, True), *sources) if sources else (), own)
            out[ent] = held
        return out


def _account_type(system: SystemState) -> str:
    types = Counter(a.resource_type for a in system.accounts if a.kind == "human")
    return types.most_common(1)[0][0] if types else "user"


def simulate(state: State, actions: Sequence[Action], max_depth: int = DEFAULT_MAX_DEPTH) -> State:
    """``state`` as it will be after ``actions``: the systems they write to imagined, the rest as synced, and
    the accounts they create linked to their people."""
    systems: dict[str, SystemState] = dict(state.systems)
    creates = {a.id: a for a in actions if a.kind is Kind.CREATE_ACCOUNT}
    links = []
    changes = changes_of(actions, {name: _account_type(s) for name, s in state.systems.items()})
    for name, change in changes.items():
        if name in systems:
            systems[name] = SimulatedSystem(state.systems[name], change, max_depth)
        links += [Link(account, creates[cid].identity, PLANNED_RULE, account.login)
                  for cid, account in change.created.values() if creates[cid].identity]
    return State(systems, state.correlation.with_links(links) if links else state.correlation, dict(state.missing))


def is_planned(system: SystemState, grant: grant_pb2.Grant) -> bool:
    """Whether ``grant`` exists only in the plan (a real system's grants all exist)."""
    return isinstance(system, SimulatedSystem) and system.is_planned(grant)


def creator(system: SystemState, account: Account) -> str:
    """The create-account action that makes ``account``, when it exists only in the plan."""
    return system.creator(account) if isinstance(system, SimulatedSystem) else ""


__all__ = ["PLANNED_RULE", "Changes", "SimulatedSystem", "changes_of", "creator", "is_planned", "new_account",
           "simulate"]
