"""The package's import graph, read from the source with `ast` (module-level and in-function imports alike, so an
import moved into a function to dodge a cycle still counts): no cycle, and the documented direction holds."""

from __future__ import annotations

import ast
from pathlib import Path

from helpers import REPO

PACKAGE = "alignbench"
# What the study report may not import (it reads records: docs/extending.md, Layout).
NOT_FOR_REPORT = ("alignbench.evaluation", "alignbench.training", "alignbench.modeling", "alignbench.pipeline")


def modules() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its own name, for its __init__.py)."""
    found = {}
    for path in sorted((REPO / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(REPO).with_suffix("").parts)
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def import_graph() -> dict[str, set[str]]:
    """module -> the package's modules it imports anywhere in its body. `from a.b import c` is an import of the module
    a.b.c when that is a module, else of a.b; a name that is no module resolves to the nearest enclosing one."""
    known = modules()

    def resolve(name: str) -> str | None:
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for module, path in known.items():
        imported: set[str | None] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                imported |= {resolve(alias.name) for alias in node.names if alias.name.split(".")[0] == PACKAGE}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: from the module's package, one level up per extra dot
                    anchor = module if path.name == "__init__.py" else module.rpartition(".")[0]
                    for _ in range(node.level - 1):
                        anchor = anchor.rpartition(".")[0]
                    base = f"{anchor}.{base}".rstrip(".")
                if base.split(".")[0] == PACKAGE:
                    imported |= {
                        f"{base}.{a.name}" if f"{base}.{a.name}" in known else resolve(base) for a in node.names
                    }
        graph[module] = {name for name in imported if name is not None and name != module}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (a -> ... -> a) through each strongly connected part of the graph that has one (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    parts: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            part = set()
            while True:
                member = stack.pop()
                part.add(member)
                if member == node:
                    break
            if len(part) > 1:
                parts.append(part)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_cycle_in(graph, part) for part in parts]


def _cycle_in(graph: dict[str, set[str]], part: set[str]) -> list[str]:
    """A shortest path from the part's first module back to itself, inside the part."""
    start = min(part)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for nxt in sorted(graph[node] & part):
                if nxt == start:
                    return paths[node] + [start]
                if nxt not in paths:
                    paths[nxt] = paths[node] + [nxt]
                    following.append(nxt)
        frontier = following
    raise AssertionError(f"no cycle through {start}")


def test_the_graph_is_read_as_python_imports_it():
    graph = import_graph()
    assert "alignbench.runs.files" in graph["alignbench.runs.adapter"]  # `from alignbench.runs import files`
    assert "alignbench.runs.dirs" in graph["alignbench.runs.record"]  # `from alignbench.runs.dirs import ...`
    assert "alignbench.training.methods" in graph["alignbench.training.train"]  # an in-function import
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]


def test_the_package_has_no_import_cycle():
    found = cycles(import_graph())
    assert not found, "import cycles:\n" + "\n".join(" -> ".join(cycle) for cycle in found)


def test_the_report_imports_neither_evaluation_training_modeling_nor_the_pipeline():
    graph = import_graph()
    wrong = sorted(
        f"{module} imports {target}"
        for module, imported in graph.items()
        if module.startswith("alignbench.report")
        for target in imported
        if any(target == banned or target.startswith(banned + ".") for banned in NOT_FOR_REPORT)
    )
    assert not wrong, "the report imports what it must not:\n" + "\n".join(wrong)
