"""No two modules of dreamland import each other, directly or around a longer loop.

Function-local imports count: they hide a circle from Python at import time but not from a reader,
and moving such an import to the top of its file can turn the circle into an ImportError. A package's
`__init__` is an edge target only when a module names the package itself (`from dreamland.play
import Session`); the implicit import of parent packages is left out, since every `__init__` that
re-exports its submodules would otherwise close a loop with each of them.
"""

from __future__ import annotations

import ast
from pathlib import Path

import dreamland

PACKAGE_ROOT = Path(dreamland.__file__).parent


def module_name(path: Path) -> str:
    parts = ("dreamland",) + path.relative_to(PACKAGE_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE_ROOT.rglob("*.py"))}


def _absolute(node: ast.ImportFrom, importer: str, is_package: bool) -> str:
    """The module a `from ... import` names, with relative levels resolved against `importer`."""
    if node.level == 0:
        return node.module or ""
    base = importer.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imported_modules(importer: str, path: Path, known: set[str]) -> set[str]:
    """Every dreamland module `importer` imports anywhere in its file (functions included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in known)
        elif isinstance(node, ast.ImportFrom):
            source = _absolute(node, importer, path.name == "__init__.py")
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                # `from pkg import mod` imports the module `mod`; `from mod import name` imports `mod`
                found.add(submodule if submodule in known else source)
    return (found & known) - {importer}


def import_graph() -> dict[str, set[str]]:
    modules = all_modules()
    known = set(modules)
    return {name: imported_modules(name, path, known) for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One loop of imports as [a, b, ..., a], or None; iterative depth-first search."""
    done: set[str] = set()
    for start in sorted(graph):
        if start in done:
            continue
        path, on_path = [start], {start}
        stack = [iter(sorted(graph[start]))]
        while stack:
            following = next(stack[-1], None)
            if following is None:
                finished = path.pop()
                on_path.discard(finished)
                done.add(finished)
                stack.pop()
                continue
            if following in on_path:
                return path[path.index(following):] + [following]
            if following not in done:
                path.append(following)
                on_path.add(following)
                stack.append(iter(sorted(graph[following])))
    return None


def test_the_graph_sees_function_local_and_package_imports():
    graph = import_graph()
    assert "dreamland.evaluate.errors" in graph["dreamland.evaluate"]  # an __init__ re-export
    assert "dreamland.data.store" in graph["dreamland.cli"]  # imported inside a function


def test_find_cycle_reports_the_loop():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_no_module_imports_itself_around_a_loop():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])
