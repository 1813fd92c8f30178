"""The layout's rules, checked over the source with `ast`:
- the import graph of samlite/ has no cycles, counting imports inside functions and under
  TYPE_CHECKING;
- only the entry points import the engine process (`samlite.engine.server`): services get what
  they use in their constructors;
- core (shared machinery) depends on no service, and not on the engine or the CLI.
"""

from __future__ import annotations

import ast
from pathlib import Path

import samlite

ROOT = Path(samlite.__file__).parent


def _modules() -> dict[str, Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        if "starters" in path.parts:
            continue  # project templates copied by `samlite init`, not samlite's code
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def import_graph() -> dict[str, set[str]]:
    mods = _modules()
    edges: dict[str, set[str]] = {m: set() for m in mods}
    for name, path in mods.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(up + ([base] if base else []))
                targets = [base] + [f"{base}.{a.name}" for a in node.names]
            else:
                continue
            for target in targets:
                while target and target not in mods:
                    target = target.rpartition(".")[0]
                # A module importing its own package (`from samlite.services.sqs import attributes`) is no cycle.
                if target and target != name and not name.startswith(target + "."):
                    edges[name].add(target)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_import_graph_has_no_cycles() -> None:
    assert cycles(import_graph()) == []


def test_only_the_entry_points_import_the_engine_process() -> None:
    # `python -m samlite.engine` and `samlite engine start --foreground` run it; services never see it.
    importers = sorted(m for m, targets in import_graph().items() if "samlite.engine.server" in targets)
    assert importers == ["samlite.cli.engine", "samlite.engine.__main__"]


def test_core_does_not_depend_on_services_or_the_engine() -> None:
    bad = sorted(f"{m} -> {t}" for m, targets in import_graph().items() if m.startswith("samlite.core")
                 for t in targets if t.startswith(("samlite.services", "samlite.engine", "samlite.cli")))
    assert bad == []


def test_the_engine_side_does_not_import_the_cli() -> None:
    bad = sorted(f"{m} -> {t}" for m, targets in import_graph().items()
                 if m.startswith(("samlite.core", "samlite.services", "samlite.engine"))
                 for t in targets if t.startswith("samlite.cli"))
    assert bad == []


def test_services_reach_nothing_through_an_engine_attribute() -> None:
    """Catches the old service-locator style (`self.engine.queues`) coming back in a merge."""
    offenders = []
    for name, path in _modules().items():
        if not name.startswith(("samlite.services", "samlite.core")):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Attribute) and node.attr == "engine" and isinstance(node.value, ast.Name)
                    and node.value.id == "self"):
                offenders.append(f"{name}:{node.lineno}")
    assert offenders == []
