"""No function or method of dreamland is longer than MAX_LINES (issue #14).

A function's length is its `def` line to its last line (`end_lineno - lineno + 1`, decorators not
counted), so a nested function counts toward the function around it as well as on its own.
Functions are named module:Class.method or module:outer.inner.
"""

from __future__ import annotations

import ast
from pathlib import Path

import dreamland

PACKAGE_ROOT = Path(dreamland.__file__).parent
MAX_LINES = 80

# Functions allowed to stay longer than MAX_LINES for now, by name, with the reason.
# Functions of model/ that grow over the limit go here rather than being split here, with the note
# "model/ is being changed by another branch; split next". None of model/ is over the limit today.
ALLOWED: dict[str, str] = {}


def function_lengths(path: Path, root: Path = PACKAGE_ROOT) -> dict[str, int]:
    """Every function and method of the file at `path` (nested ones too) and its length in lines,
    named by the module's path under `root`."""
    module = path.relative_to(root).with_suffix("").as_posix()
    found: dict[str, int] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = prefix + child.name
                found[f"{module}:{name}"] = child.end_lineno - child.lineno + 1
                visit(child, name + ".")
            elif isinstance(child, ast.ClassDef):
                visit(child, prefix + child.name + ".")
            else:
                visit(child, prefix)  # functions under if / try / with blocks

    visit(ast.parse(path.read_text(encoding="utf-8"), str(path)), "")
    return found


def all_function_lengths() -> dict[str, int]:
    out: dict[str, int] = {}
    for path in sorted(PACKAGE_ROOT.rglob("*.py")):
        out.update(function_lengths(path))
    return out


def test_no_function_is_longer_than_the_limit():
    lengths = all_function_lengths()
    assert len(lengths) > 100, "found too few functions: is PACKAGE_ROOT the package?"
    long = {name: n for name, n in lengths.items() if n > MAX_LINES and name not in ALLOWED}
    listed = "\n".join(f"  {name}: {n} lines" for name, n in sorted(long.items(), key=lambda kv: -kv[1]))
    assert not long, f"functions over {MAX_LINES} lines (split them into helpers):\n{listed}"


def test_the_allow_list_is_current():
    """An allowed function that no longer exists, or is now short enough, leaves the list."""
    lengths = all_function_lengths()
    stale = sorted(name for name in ALLOWED if lengths.get(name, 0) <= MAX_LINES)
    assert not stale, f"no longer over {MAX_LINES} lines (or gone); remove from ALLOWED: {stale}"


def test_lengths_are_measured_from_def_to_last_line(tmp_path):
    (tmp_path / "m.py").write_text(
        "import functools\n"
        "\n"
        "@functools.cache\n"
        "def f():\n"
        "    def inner():\n"
        "        return 1\n"
        "    return inner()\n"
        "\n"
        "class C:\n"
        "    if True:\n"
        "        async def g(self):\n"
        "            pass\n",
        encoding="utf-8",
    )
    assert function_lengths(tmp_path / "m.py", tmp_path) == {"m:f": 4, "m:f.inner": 2, "m:C.g": 2}
