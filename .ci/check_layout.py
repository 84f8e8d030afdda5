"""The production packages' layout, checked by `make lint`: no import cycle, and no module
over 300 lines unless its docstring says why (a line starting "Over 300 lines:").

An edge is an import of a module of ours, at any level (TYPE_CHECKING included: a cycle
there is still two modules that cannot be understood apart). `from pkg import sub` counts
as importing `pkg.sub` alone: importing a submodule runs its package's __init__ first, which
every package does by design.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGES = ("ironworks", "api", "scheduler", "runner")
MAX_LINES = 300


def modules(root: Path) -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (root / package).rglob("*.py"):
            parts = path.relative_to(root).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(path: Path, known: dict[str, Path]) -> set[str]:
    edges = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            edges |= {a.name for a in node.names if a.name in known}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            subs = {f"{node.module}.{a.name}" for a in node.names} & known.keys()
            if len(subs) < len(node.names) and node.module in known:
                edges.add(node.module)  # names from the module itself
            edges |= subs
    return edges


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
            while (w := stack.pop()) != v:
                component.append(w)
            if component:
                found.append(sorted([v, *component]))

    sys.setrecursionlimit(10_000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def too_long(known: dict[str, Path]) -> list[str]:
    found = []
    for name, path in sorted(known.items()):
        text = path.read_text()
        lines = text.count("\n")
        doc = ast.get_docstring(ast.parse(text)) or ""
        if lines > MAX_LINES and "Over 300 lines:" not in doc:
            found.append(f"{name}: {lines} lines, and its docstring does not say why")
    return found


def main() -> int:
    known = modules(Path(__file__).resolve().parent.parent)
    graph = {name: imports(path, known) - {name} for name, path in known.items()}
    problems = [f"import cycle: {' <-> '.join(c)}" for c in cycles(graph)] + too_long(known)
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
