"""No import cycles among tzrec's modules (issue 16).

Walks every module's source (no imports executed): an edge goes from a module
to each tzrec module it imports at module level, type-checking-only imports
included, and to that module's parent packages (importing ``a.b.c`` runs
``a/__init__`` and ``a/b/__init__``). Imports inside functions are left out:
they are the deliberate way to defer a heavy import.
"""

from __future__ import annotations

import ast
from pathlib import Path

TZREC = Path(__file__).resolve().parents[2] / "tzrec"


def _module_names() -> dict[str, Path]:
    names = {}
    for path in TZREC.rglob("*.py"):
        parts = list(path.relative_to(TZREC.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def _imported(body: list[ast.stmt], module: str, is_package: bool) -> set[str]:
    """Dotted names imported by module-level statements (``if``/``try`` too)."""
    out: set[str] = set()
    for node in body:
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module if is_package else module.rpartition(".")[0]
                for _ in range(node.level - 1):
                    package = package.rpartition(".")[0]
                base = f"{package}.{base}" if base else package
            out.add(base)
            out.update(f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.If):
            out |= _imported(node.body + node.orelse, module, is_package)
        elif isinstance(node, ast.Try):
            handlers = [s for h in node.handlers for s in h.body]
            rest = node.body + handlers + node.orelse + node.finalbody
            out |= _imported(rest, module, is_package)
    return out


def import_graph() -> dict[str, set[str]]:
    """tzrec module -> the tzrec modules importing it runs first."""
    modules = _module_names()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        deps = set()
        for imported in _imported(tree.body, name, path.name == "__init__.py"):
            parts = imported.split(".")
            for n in range(1, len(parts) + 1):
                target = ".".join(parts[:n])
                if target in modules and not (name + ".").startswith(target + "."):
                    deps.add(target)
        graph[name] = deps
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]


def test_config_package_is_walked() -> None:
    graph = import_graph()
    assert "tzrec.config.problems" in graph["tzrec.config.validation_model"]
    assert "tzrec.config" in graph["tzrec.monitor.monitor"]  # via its parent


def test_tzrec_has_no_import_cycle() -> None:
    assert cycles(import_graph()) == []
