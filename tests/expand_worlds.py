"""Small access worlds for the expansion, access and export tests: groups nested in groups.

A *world* is groups (each with a ``member`` entitlement), principals (users,
service accounts, and the groups themselves), direct memberships and nesting
edges. :func:`write_world` stores it as one sync run the way a connector would
(an edge ``S -> D`` is a grant of D to group S carrying ``GrantExpandable``);
:func:`closure` computes what expansion must produce, independently of the
code under test (a naive fixpoint over all edges, re-scanned until stable).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pybaton.c1z import C1ZFile, SyncWriter, syncs
from pybaton.model import builders as b

Principal = tuple[str, str]
EdgeFlags = tuple[bool, frozenset[str] | None]


def ent(group: str) -> str:
    return f"group:{group}:member"


@dataclass
class World:
    groups: list[str]
    principals: list[Principal]
    memberships: set[tuple[str, Principal]] = field(default_factory=set)
    edges: dict[tuple[str, str], EdgeFlags] = field(default_factory=dict)

    def direct(self) -> set[tuple[str, Principal]]:
        """Every grant the connector emits: memberships plus the nesting grants themselves."""
        return {(ent(g), p) for g, p in self.memberships} | {(ent(d), ("group", s)) for s, d in self.edges}


def write_world(path: Path, world: World) -> tuple[C1ZFile, SyncWriter]:
    """A new file holding ``world`` as one unfinished sync (ready for expansion)."""
    c1z = C1ZFile.create(path)
    run = syncs.start_run(c1z.conn)
    writer = SyncWriter(c1z, run.sync_id)
    types = sorted({t for t, _ in world.principals} | {"group"})
    writer.put_resource_types([b.resource_type(t, t.title(), traits=["group" if t == "group" else "user"])
                               for t in types])
    writer.put_resources([b.resource(t, i, f"{t} {i}", traits=[b.user_trait(emails=[f"{i}@example.com"], login=i)]
                                     if t == "user" else []) for t, i in world.principals if t != "group"])
    groups = {g: b.resource("group", g, f"Group {g}", traits=[b.group_trait()]) for g in world.groups}
    writer.put_resources(groups.values())
    writer.put_entitlements([b.assignment(groups[g], "member", display_name=f"{g} member") for g in world.groups])
    plain = [b.grant(b.entitlement_ref(groups[g], "member"), b.resource_id(*p)) for g, p in sorted(world.memberships)]
    nesting = [b.grant(b.entitlement_ref(groups[d], "member"), groups[s], expandable=[ent(s)], shallow=shallow,
                       expand_resource_types=sorted(types_ or ())) for (s, d), (shallow, types_) in
               sorted(world.edges.items())]
    writer.put_grants(plain + nesting)
    return c1z, writer


@dataclass(frozen=True)
class Expected:
    held: set[tuple[str, Principal]]
    sources: dict[tuple[str, Principal], dict[str, bool]]


def closure(world: World) -> Expected:
    """Brute force: apply every edge to every holding until nothing changes; then read off the sources."""
    direct = world.direct()
    held = set(direct)
    edges = {(ent(s), ent(d)): flags for (s, d), flags in world.edges.items() if s != d}

    def flows(src: str, p: Principal, flags: EdgeFlags) -> bool:
        shallow, types = flags
        base = direct if shallow else held
        return (src, p) in base and (types is None or p[0] in types)

    changed = True
    while changed:
        changed = False
        for (src, dst), flags in edges.items():
            for e, p in list(held):
                if e == src and flows(src, p, flags) and (dst, p) not in held:
                    held.add((dst, p))
                    changed = True
    sources: dict[tuple[str, Principal], dict[str, bool]] = {}
    for dst, p in held:
        found = {src: (src, p) in direct for (src, d), flags in edges.items() if d == dst and flows(src, p, flags)}
        if (dst, p) in direct:
            sources[(dst, p)] = {dst: True, **found} if found else {}
        else:
            sources[(dst, p)] = found
    return Expected(held, sources)


def expanded_file(path: Path, world: World) -> Path:
    """``world`` stored, expanded and finished as a ``.c1z`` at ``path`` (what readers see after a sync)."""
    from pybaton.sync.expand import expand_sync

    c1z, writer = write_world(path, world)
    with c1z:
        expand_sync(c1z, writer, {}, checkpoint=lambda: None)
        syncs.end_run(c1z.conn, writer.sync_id)
        c1z.save()
    return path
