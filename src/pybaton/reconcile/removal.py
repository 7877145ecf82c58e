"""What to revoke so that an account no longer holds an entitlement.

A grant made by expansion (the account is in a group that holds the
entitlement) cannot be revoked: the system has no such grant, only the
membership. It is fixed where it comes from: each of its ``sources`` is an
entitlement the account holds (``group:eng:member``); that grant is revoked if
it is direct, or followed further if it is itself derived (nested groups).
A direct grant that the account *also* holds through a group needs both: the
direct grant and the membership.

Some grants cannot be removed at all: the connector marks them immutable, or
the workspace protects their entitlement (PostgreSQL's ``PUBLIC``). Those are
returned as *blocked*, with the reason, for the plan to report.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pybaton.pb.c1.connector.v2 import grant_pb2
from pybaton.provision.plan import derived_from
from pybaton.reconcile.state import Principal, SystemState


@dataclass(frozen=True)
class Blocked:
    """A grant on the way that cannot be revoked; ``protected``: by the workspace's choice."""

    grant_id: str
    reason: str
    protected: bool = False


@dataclass
class Removal:
    """The direct grants to revoke (with the chain that led to each), and what blocks the rest."""

    revoke: list[tuple[grant_pb2.Grant, tuple[str, ...]]] = field(default_factory=list)
    blocked: list[Blocked] = field(default_factory=list)


def _principal(grant: grant_pb2.Grant) -> Principal:
    return grant.principal.id.resource_type, grant.principal.id.resource


def removal(system: SystemState, grant: grant_pb2.Grant) -> Removal:
    """How to take ``grant``'s entitlement away from its principal in ``system``."""
    out = Removal()
    _walk(system, grant, (), out, set())
    return out


def _walk(system: SystemState, grant: grant_pb2.Grant, chain: tuple[str, ...], out: Removal,
          seen: set[str]) -> None:
    seen.add(grant.id)
    own = grant.entitlement.id
    sources = derived_from(grant)
    if sources is None:  # a direct grant: revocable, unless protected
        if system.is_protected(own):
            out.blocked.append(Blocked(grant.id, f"{own} is protected in the workspace", protected=True))
        else:
            out.revoke.append((grant, chain))
        sources = [s for s in grant.sources.sources if s != own]
    elif not sources:
        out.blocked.append(Blocked(grant.id, f"the connector marks {grant.id} immutable"))
    for source in sources:
        via = system.grant(source, _principal(grant))
        if via is None:
            out.blocked.append(Blocked(grant.id, f"{own} comes through {source}, which the sync shows no grant of"))
        elif via.id not in seen:
            _walk(system, via, (*chain, source), out, seen)
