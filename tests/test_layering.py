"""Data flows one way: a lower layer never imports a higher one (DESIGN.md §2).

The walk reads every ``import`` in ``src/pybaton`` (module level, inside
functions, under ``TYPE_CHECKING``: a lazy import is still a dependency) and
checks each against the table below, which is DESIGN.md's table of packages,
closed transitively, plus the additions named in :data:`ADDED`.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pybaton

SRC = Path(pybaton.__file__).parent

# Shared leaves every layer may use: the error taxonomy, line-numbered YAML, generated protobuf code.
SHARED = {"errors", "extras", "yamldoc", "pb"}

# DESIGN.md §2, "depends on".
DESIGN: dict[str, set[str]] = {
    "model": set(),
    "c1z": {"model"},
    "connector": {"model"},
    "sync": {"connector", "c1z"},
    "provision": {"connector", "c1z"},
    "identity": {"c1z"},
    "reconcile": {"identity", "provision", "sync"},
    "warehouse": {"c1z", "identity"},
    "fleet": {"sync", "warehouse", "reconcile"},
    "console": {"warehouse", "reconcile"},
    "connectors": {"connector"},
    "testing": {"connector", "sync"},
}

# Edges the table does not list, each with its reason.
ADDED: dict[str, set[str]] = {
    # After a write, provisioning re-syncs the changed resource so the .c1z shows it.
    "provision": {"sync"},
    # The standalone connector command drives the sync engine and one-shot provisioning.
    "runtime": {"sync", "provision"},
    # A workspace names built-in connectors (pybaton.connectors.load_builtin), and the planner reads
    # its input state from the warehouse when one is configured (it loads what the syncs wrote).
    "reconcile": {"connectors", "warehouse"},
}

# The one import that points up, made at call time: ``from pybaton.connector import run`` is the
# authoring API's entry point and forwards to the runner, so a connector script needs one import.
UPWARD_FACADE = {("pybaton.connector", "pybaton.runtime.runner")}


def allowed() -> dict[str, set[str]]:
    direct = {name: DESIGN.get(name, set()) | ADDED.get(name, set()) for name in DESIGN.keys() | ADDED.keys()}
    closed: dict[str, set[str]] = {}

    def close(name: str) -> set[str]:
        if name not in closed:
            closed[name] = set()
            for dep in direct.get(name, set()):
                closed[name] |= {dep} | close(dep)
        return closed[name]

    return {name: close(name) for name in direct}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def imports() -> Iterator[tuple[str, str]]:
    """(importing module, imported module) for every absolute pybaton import."""
    for path in sorted(SRC.rglob("*.py")):
        if "pb" in path.relative_to(SRC).parts[:1]:
            continue
        source = module_name(path)
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                targets = [node.module]
                if node.module == "pybaton":
                    targets = [f"pybaton.{alias.name}" for alias in node.names]
            else:
                continue
            yield from ((source, t) for t in targets if t.startswith("pybaton."))


def test_the_walk_sees_the_layers_it_checks() -> None:
    seen = {(layer(src), layer(dst)) for src, dst in imports()}
    assert ("sync", "connector") in seen
    assert ("runtime", "provision") in seen
    assert ("provision", "connector") in seen


def test_no_layer_imports_a_higher_one() -> None:
    rules = allowed()
    wrong = sorted(
        f"{src} imports {dst}"
        for src, dst in imports()
        if layer(src) in rules and layer(dst) != layer(src) and layer(dst) not in SHARED
        and layer(dst) not in rules[layer(src)] and (src, dst) not in UPWARD_FACADE
    )
    assert wrong == []


def test_no_import_circle_between_connector_sync_and_provision() -> None:
    core = {"connector", "sync", "provision"}
    edges = {(layer(src), layer(dst)) for src, dst in imports()
             if layer(src) in core and layer(dst) in core and layer(src) != layer(dst)}
    assert not any((b, a) in edges for a, b in edges)
    assert ("connector", "sync") not in edges and ("connector", "provision") not in edges
    assert ("sync", "provision") not in edges


def test_the_facade_is_the_only_upward_edge_and_it_exists() -> None:
    """If ``run`` stops forwarding, the allowance must go too."""
    edges = set(imports())
    assert edges >= UPWARD_FACADE


def test_importing_the_authoring_api_loads_neither_engine_nor_provisioning() -> None:
    """What a connector script pays at import time: the API, not the engine."""
    code = ("import json, sys, pybaton.connector; "
            "print(json.dumps(sorted({m.split('.')[1] for m in sys.modules if m.startswith('pybaton.')})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    loaded = set(json.loads(out))
    assert "connector" in loaded
    assert loaded.isdisjoint({"sync", "provision", "runtime", "c1z", "cli"})
