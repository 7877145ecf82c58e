"""Resolve a request against the latest sync and validate it, before anything is written.

Each operation's planner turns the operator's strings into the objects the
connector needs (the full entitlement and principal, the stored grant), refuses
what must not be attempted — an unknown entitlement, a principal type outside
the entitlement's ``grantable_to``, a derived grant that only its source can
remove — and says in words what the write will do. The dry run prints exactly
that plan; a real run executes its ``write`` and then checks its expectation
against a re-read of the system.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from pybaton.c1z import SyncReader
from pybaton.connector.capabilities import AccountInfo
from pybaton.errors import ProvisioningError, UsageError
from pybaton.model import annotations as ann
from pybaton.model.ids import grant_id, split_resource_ref
from pybaton.pb.c1.connector.v2 import annotation_grant_pb2, grant_pb2, resource_pb2
from pybaton.provision.backend import CREATE_ACCOUNT, DELETE, GRANT, ROTATE, Backend, WriteResult, cannot
from pybaton.provision.credentials import CredentialSpec
from pybaton.provision.requests import Op, Request, profile_of
from pybaton.provision.snapshot import Snapshot


@dataclass(frozen=True)
class Expectation:
    """What a re-read of ``reread`` should show after the write: a grant, or the resource itself."""

    reread: str
    present: bool
    grant_id: str = ""

    def check(self, reader: SyncReader) -> tuple[bool, str]:
        """Whether the re-read agrees, and a line saying what it shows."""
        if self.grant_id:
            found, what = reader.grant(self.grant_id) is not None, f"grant {self.grant_id}"
        else:
            rtype, rid = split_resource_ref(self.reread)
            found, what = reader.resource(rtype, rid) is not None, self.reread
        line = f"re-read {self.reread}: {what} is {'present' if found else 'gone'}"
        return found == self.present, line


@dataclass
class Plan:
    """A validated write: what it does in words, how to do it, and what to expect afterwards."""

    request: Request
    summary: str
    target: str  # the target in the result line: ``group:eng:member to user:ada``, ``user:new.hire``
    write: Callable[[Backend], WriteResult]
    expect: Callable[[WriteResult], Expectation | None]
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PlanContext:
    snapshot: Snapshot
    backend: Backend
    credentials: CredentialSpec


def _require(request: Request, name: str, flag: str) -> str:
    value = request.get(name)
    if not value:
        raise UsageError(f"{request.op.value} needs {flag}")
    return value


def _capable(backend: Backend, capability: str, resource_type: str, what: str) -> None:
    """Refuse early when the connector says it cannot (None: it cannot say; let it try)."""
    if backend.supports(capability, resource_type) is False:
        raise cannot(backend.name, what, resource_type)


def _not_found(what: str, ref: str, snapshot: Snapshot, listing: str) -> ProvisioningError:
    return ProvisioningError(f"unknown {what} {ref!r}: not in the latest sync of {snapshot.path} "
                             f"(pybaton {listing} -f {snapshot.path} lists them)")


def describe_entitlement(snapshot: Snapshot, entitlement_id: str) -> str:
    """``group:eng:member (member of group Engineering)``: the id and what it means."""
    ent = snapshot.entitlement(entitlement_id)
    if ent is None:
        return entitlement_id
    rid = ent.resource.id
    name = ent.resource.display_name or rid.resource
    return f"{entitlement_id} ({ent.display_name or ent.slug} of {rid.resource_type} {name})"


def ref(rid: resource_pb2.ResourceId) -> str:
    """``user:ada``: a resource id as the operator writes it."""
    return f"{rid.resource_type}:{rid.resource}"


# -- grant -------------------------------------------------------------------------------------

def plan_grant(request: Request, ctx: PlanContext) -> Plan:
    snapshot = ctx.snapshot
    ent_id = _require(request, "entitlement", "an entitlement (--entitlement / --grant-entitlement)")
    ptype, pid = split_resource_ref(_require(request, "principal", "a principal (--principal TYPE:ID)"),
                                    what="principal")
    ent = snapshot.entitlement(ent_id)
    if ent is None:
        raise _not_found("entitlement", ent_id, snapshot, "entitlements")
    principal = snapshot.resource(ptype, pid)
    if principal is None:
        raise _not_found("principal", f"{ptype}:{pid}", snapshot, "principals")
    allowed = [rt.id for rt in ent.grantable_to]
    if allowed and ptype not in allowed:
        raise ProvisioningError(f"entitlement {ent_id} can be granted to {', '.join(allowed)} only, "
                                f"not to {ptype} ({ptype}:{pid})")
    _capable(ctx.backend, GRANT, ent.resource.id.resource_type, "grant entitlements of")
    gid = grant_id(ent_id, ptype, pid)
    notes = []
    existing = snapshot.grant(gid)
    if existing is not None:
        sources = derived_from(existing)
        notes.append("the latest sync already shows this grant: the connector should report it as existing"
                     if sources is None else
                     f"the latest sync shows it only through {', '.join(sources) or 'the connector'}; "
                     "this adds a direct grant")
    expectation = Expectation(ref(ent.resource.id), present=True, grant_id=gid)
    return Plan(request, f"grant {describe_entitlement(snapshot, ent_id)} to {snapshot.describe(ptype, pid)}",
                f"{ent_id} to {ptype}:{pid}", lambda b: b.grant(principal, ent), lambda _: expectation, notes)


# -- revoke ------------------------------------------------------------------------------------

def _grant_from_id(snapshot: Snapshot, gid: str) -> grant_pb2.Grant | None:
    """Rebuild a grant the latest sync no longer holds from its id (``entitlement:ptype:pid``).

    Ids may contain colons, so every split point is tried against the known
    entitlements; this is what lets "revoke again" answer "already revoked".
    """
    for i, char in enumerate(gid):
        if char != ":":
            continue
        ent = snapshot.entitlement(gid[:i])
        ptype, sep, pid = gid[i + 1:].partition(":")
        if ent is not None and sep and ptype and pid:
            principal = snapshot.resource(ptype, pid) or resource_pb2.Resource(
                id=resource_pb2.ResourceId(resource_type=ptype, resource=pid))
            return grant_pb2.Grant(id=gid, entitlement=ent, principal=principal)
    return None


def derived_from(grant: grant_pb2.Grant) -> list[str] | None:
    """What a grant that cannot be revoked directly comes from; None when it can be revoked.

    Baton's rule: a grant is derived when it has ``sources`` and its own
    entitlement is not among them (expansion made it; a direct grant that is
    also reached through a group lists itself). A connector may also mark a
    grant ``GrantImmutable`` (e.g. membership of "everyone"), naming a source.
    """
    own = grant.entitlement.id
    sources = list(grant.sources.sources)
    if own in sources:
        return None
    if sources:
        return sources
    immutable = ann.find(grant.annotations, annotation_grant_pb2.GrantImmutable)
    if immutable is None:
        return None
    return [immutable.source_id] if immutable.source_id else []


def _full_grant(snapshot: Snapshot, stored: grant_pb2.Grant) -> grant_pb2.Grant:
    """The stored grant with its full entitlement and principal, as Baton hands it to ``revoke``."""
    full = grant_pb2.Grant()
    full.CopyFrom(stored)
    ent = snapshot.entitlement(stored.entitlement.id)
    if ent is not None:
        full.entitlement.CopyFrom(ent)
    pid = stored.principal.id
    principal = snapshot.resource(pid.resource_type, pid.resource)
    if principal is not None:
        full.principal.CopyFrom(principal)
    return full


def _refuse_derived(snapshot: Snapshot, grant: grant_pb2.Grant, sources: list[str]) -> ProvisioningError:
    if not sources:
        return ProvisioningError(f"cannot revoke {grant.id}: the connector marks it immutable")
    named = ", ".join(describe_entitlement(snapshot, s) for s in sources)
    return ProvisioningError(f"cannot revoke {grant.id} directly: it is derived from {named}; "
                             "revoke the principal's access to that instead")


def plan_revoke(request: Request, ctx: PlanContext) -> Plan:
    snapshot = ctx.snapshot
    gid = _require(request, "grant", "a grant id (--grant / --revoke-grant)")
    notes = []
    stored = snapshot.grant(gid)
    if stored is None:
        stored = _grant_from_id(snapshot, gid)
        if stored is None:
            raise _not_found("grant", gid, snapshot, "grants")
        notes.append("the latest sync does not show this grant: the connector should report it as already revoked")
    else:
        sources = derived_from(stored)
        if sources is not None:
            raise _refuse_derived(snapshot, stored, sources)
        others = [s for s in stored.sources.sources if s != stored.entitlement.id]
        if others:
            notes.append("the principal also holds it through " + ", ".join(others) + "; that access remains")
        stored = _full_grant(snapshot, stored)
    _capable(ctx.backend, GRANT, stored.entitlement.resource.id.resource_type, "revoke grants of")
    pid = stored.principal.id
    summary = (f"revoke {describe_entitlement(snapshot, stored.entitlement.id)} from "
               f"{snapshot.describe(pid.resource_type, pid.resource)} (grant {gid})")
    expectation = Expectation(ref(stored.entitlement.resource.id), present=False, grant_id=gid)
    grant = stored
    return Plan(request, summary, gid, lambda b: b.revoke(grant), lambda _: expectation, notes)


# -- create account ----------------------------------------------------------------------------

def _account_type(request: Request, backend: Backend) -> str:
    given = request.get("resource_type")
    if given:
        return given
    types = backend.account_types()
    if len(types) == 1:
        return types[0]
    if "user" in types or not types:
        return "user"
    raise UsageError(f"connector {backend.name} creates accounts of {', '.join(types)}: "
                     "say which with --resource-type (--create-account-resource-type)")


def _credential_note(ctx: PlanContext) -> str:
    options = ctx.credentials.options()
    if options.kind == "none":
        return "no credential is generated"
    sink = ctx.credentials.sink
    sink.check()
    return f"a random password of {options.length} characters is generated and {sink.describe()}"


def plan_create_account(request: Request, ctx: PlanContext) -> Plan:
    login, email = request.get("login"), request.get("email")
    if not (login or email):
        raise UsageError("create-account needs a login or an email (--login / --email)")
    profile = profile_of(request)
    rtype = _account_type(request, ctx.backend)
    _capable(ctx.backend, CREATE_ACCOUNT, rtype, "create accounts of")
    notes = [_credential_note(ctx)]
    if login and ctx.snapshot.resource(rtype, login) is not None:
        notes.append(f"the latest sync already has {rtype}:{login}: the connector should report it as existing")
    info = AccountInfo(login=login, emails=(email,) if email else (), profile=profile, resource_type=rtype)
    options = ctx.credentials.options()
    who = " ".join(p for p in (login, f"<{email}>" if email else "") if p)
    fields = f" with profile fields {', '.join(sorted(profile))}" if profile else ""

    def expect(result: WriteResult) -> Expectation | None:
        return Expectation(ref(result.resource.id), present=True) if result.resource is not None else None

    return Plan(request, f"create {rtype} account {who}{fields}", f"{rtype}:{login or email}",
                lambda b: b.create_account(info, options), expect, notes)


# -- delete resource / rotate credentials ------------------------------------------------------

def _resource_id(request: Request) -> resource_pb2.ResourceId:
    rtype, rid = split_resource_ref(_require(request, "resource", "a resource (--resource TYPE:ID)"))
    return resource_pb2.ResourceId(resource_type=rtype, resource=rid)


def plan_delete_resource(request: Request, ctx: PlanContext) -> Plan:
    rid = _resource_id(request)
    _capable(ctx.backend, DELETE, rid.resource_type, "delete")
    target = ref(rid)
    notes = []
    if ctx.snapshot.resource(rid.resource_type, rid.resource) is None:
        notes.append("the latest sync does not show it: the connector should report it as already deleted")
    else:
        held = ctx.snapshot.grant_count((rid.resource_type, rid.resource))
        if held:
            notes.append(f"it holds {held} grants in the latest sync; they go with it")
    expectation = Expectation(target, present=False)
    return Plan(request, f"delete {ctx.snapshot.describe(rid.resource_type, rid.resource)}", target,
                lambda b: b.delete_resource(rid), lambda _: expectation, notes)


def plan_rotate_credentials(request: Request, ctx: PlanContext) -> Plan:
    rid = _resource_id(request)
    _capable(ctx.backend, ROTATE, rid.resource_type, "rotate credentials of")
    if ctx.snapshot.resource(rid.resource_type, rid.resource) is None:
        raise _not_found("resource", ref(rid), ctx.snapshot, "resources")
    notes = [_credential_note(ctx)]
    options = ctx.credentials.options()
    expectation = Expectation(ref(rid), present=True)
    return Plan(request, f"rotate the credentials of {ctx.snapshot.describe(rid.resource_type, rid.resource)}",
                ref(rid), lambda b: b.rotate_credentials(rid, options), lambda _: expectation, notes)


PLANNERS: dict[Op, Callable[[Request, PlanContext], Plan]] = {
    Op.GRANT: plan_grant,
    Op.REVOKE: plan_revoke,
    Op.CREATE_ACCOUNT: plan_create_account,
    Op.DELETE_RESOURCE: plan_delete_resource,
    Op.ROTATE_CREDENTIALS: plan_rotate_credentials,
}


def make_plan(request: Request, ctx: PlanContext) -> Plan:
    return PLANNERS[request.op](request, ctx)

