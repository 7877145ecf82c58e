"""A person's access paths drawn as a graph: person → account → group → nested group → entitlement.

Drawn on the server as inline SVG (no script, nothing to load): columns by depth,
one box per account and per entitlement, an arrow for each "grants" step. A
grant made by expansion records the entitlements it comes from (``via``), so
walking those back from an inherited entitlement gives the path that grants it.
Every label is escaped here; a group named ``<script>`` is just text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape

from pybaton.warehouse import AccessEntry

MAX_NODES = 80
COL_WIDTH, BOX_WIDTH, BOX_HEIGHT, ROW_HEIGHT, PAD = 250, 215, 30, 40, 16
LABEL_CHARS = 30
COLORS = {"person": ("#1f4e79", "#ffffff"), "account": ("#dbe9f7", "#10324f"),
          "group": ("#fff1cc", "#5c4300"), "entitlement": ("#e3f4e1", "#1d4d1a")}


@dataclass
class Node:
    key: str
    label: str
    title: str
    kind: str
    depth: int = 0
    row: int = 0


@dataclass
class Graph:
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: set[tuple[str, str]] = field(default_factory=set)
    hidden: int = 0


def _ent_key(system: str, entitlement_id: str) -> str:
    return f"ent:{system}/{entitlement_id}"


def build(person: str, entries: Sequence[AccessEntry], focus: str | None = None) -> Graph:
    """The paths of ``entries``: all of them when few, else the inherited ones (or only ``focus``'s)."""
    by_ent = {(e.system, e.entitlement_id): e for e in entries}
    if focus:
        chosen = [e for e in entries if e.entitlement_id == focus]
    elif len(entries) <= 25:
        chosen = list(entries)
    else:
        chosen = [e for e in entries if e.access == "inherited"]
    graph = Graph()
    graph.nodes["person"] = Node("person", person, person, "person")
    for entry in chosen:
        if len(graph.nodes) >= MAX_NODES:
            graph.hidden += 1
            continue
        _add_path(graph, by_ent, entry, set())
    _layout(graph)
    return graph


def _add_path(graph: Graph, by_ent: dict[tuple[str, str], AccessEntry], entry: AccessEntry,
              seen: set[str]) -> str:
    key = _ent_key(entry.system, entry.entitlement_id)
    if key in seen:
        return key
    seen.add(key)
    if key not in graph.nodes:
        is_member = entry.resource_type_id in ("group", "role", "team") and entry.entitlement_id.endswith(":member")
        slug = entry.entitlement_id.rpartition(":")[2]
        label = f"{entry.resource_name} · {slug}" if entry.resource_name else entry.entitlement_id
        graph.nodes[key] = Node(key, f"{entry.system}: {label}", f"{entry.system} {entry.entitlement_id}",
                                "group" if is_member else "entitlement")
    sources = [v for v in entry.via.split(", ") if v] if entry.access == "inherited" else []
    parents = [_add_path(graph, by_ent, by_ent[(entry.system, v)], seen) for v in sources
               if (entry.system, v) in by_ent]
    if not parents:  # direct, or the source is not held as such: hang it off the account
        account = f"acct:{entry.system}/{entry.principal_type}:{entry.principal_id}"
        if account not in graph.nodes:
            name = entry.principal_name or entry.principal_id
            graph.nodes[account] = Node(account, f"{entry.system}: {name}",
                                        f"{entry.system} {entry.principal_type}:{entry.principal_id}", "account")
            graph.edges.add(("person", account))
        parents = [account]
    graph.edges.update((p, key) for p in parents)
    return key


def _layout(graph: Graph) -> None:
    incoming: dict[str, list[str]] = {}
    for src, dst in graph.edges:
        incoming.setdefault(dst, []).append(src)
    depth: dict[str, int] = {"person": 0}

    def depth_of(key: str, trail: frozenset[str] = frozenset()) -> int:
        if key not in depth:
            parents = [p for p in incoming.get(key, []) if p not in trail]
            depth[key] = 1 + max((depth_of(p, trail | {key}) for p in parents), default=0)
        return depth[key]

    for node in graph.nodes.values():
        node.depth = depth_of(node.key)
    columns: dict[int, list[Node]] = {}
    for node in graph.nodes.values():
        columns.setdefault(node.depth, []).append(node)
    def under(node: Node) -> tuple[float, str, str]:
        rows = [graph.nodes[p].row for p in incoming.get(node.key, []) if graph.nodes[p].depth < node.depth]
        return (min(rows) if rows else 0.0), node.kind, node.label

    for d in sorted(columns):  # each column ordered under its parents, so arrows rarely cross
        for row, node in enumerate(sorted(columns[d], key=under)):
            node.row = row


def _short(text: str) -> str:
    return text if len(text) <= LABEL_CHARS else text[:LABEL_CHARS - 1] + "…"


def svg(graph: Graph) -> str:
    """The graph as an ``<svg>`` element, every label escaped."""
    if not graph.nodes:
        return ""
    cols = max(n.depth for n in graph.nodes.values()) + 1
    tallest = max(sum(1 for n in graph.nodes.values() if n.depth == d) for d in range(cols))
    width, height = cols * COL_WIDTH + PAD, tallest * ROW_HEIGHT + 2 * PAD
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="graph" role="img" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" aria-label="access paths">',
             '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
             'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#6b7785"/></marker></defs>']

    def xy(node: Node) -> tuple[int, int]:
        return PAD + node.depth * COL_WIDTH, PAD + node.row * ROW_HEIGHT

    for src, dst in sorted(graph.edges):
        (x1, y1), (x2, y2) = xy(graph.nodes[src]), xy(graph.nodes[dst])
        x1, y1, y2 = x1 + BOX_WIDTH, y1 + BOX_HEIGHT // 2, y2 + BOX_HEIGHT // 2
        mid = (x1 + x2) // 2
        parts.append(f'<path d="M{x1},{y1} C{mid},{y1} {mid},{y2} {x2},{y2}" fill="none" stroke="#6b7785" '
                     'stroke-width="1.4" marker-end="url(#arrow)"/>')
    for node in graph.nodes.values():
        x, y = xy(node)
        fill, ink = COLORS[node.kind]
        parts.append(f'<g class="node {node.kind}"><title>{escape(node.title)}</title>'
                     f'<rect x="{x}" y="{y}" width="{BOX_WIDTH}" height="{BOX_HEIGHT}" rx="6" fill="{fill}" '
                     f'stroke="#8a97a6"/><text x="{x + 10}" y="{y + 20}" fill="{ink}" font-size="13" '
                     f'font-family="system-ui, sans-serif">{escape(_short(node.label))}</text></g>')
    parts.append("</svg>")
    return "".join(parts)
