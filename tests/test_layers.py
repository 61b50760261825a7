"""Layers point one way: no import cycle in the package, and no library module imports a command.

Read from the source with ``ast``, not from ``sys.modules``, so every import counts: those
at module level, those inside functions (the lazy imports the hot path relies on) and
those under ``if TYPE_CHECKING:``. The top is ``cli.py`` (and ``__main__.py``), which
dispatches to ``commands/``; everything else is a library those two use, and must not
reach back up: a library that needs something a command has moves it down instead
(``repos.relink_all_hooks``, ``guard.guarded``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import gitolite_triggers

PACKAGE = "gitolite_triggers"
ROOT = Path(gitolite_triggers.__file__).parent
TOP = {f"{PACKAGE}.cli", f"{PACKAGE}.__main__"}
COMMANDS = f"{PACKAGE}.commands"


def module_name(path: Path) -> str:
    parts = [PACKAGE, *path.relative_to(ROOT).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _resolve(name: str) -> str | None:
    """The package module ``name`` loads (its longest prefix that is one), or None."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_of(module: str) -> set[str]:
    """Every package module ``module`` imports, wherever the import statement is."""
    path = MODULES[module]
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from the module's package, up level - 1
                here = module.split(".") if is_package else module.split(".")[:-1]
                base = ".".join(here[: len(here) - node.level + 1])
                source = f"{base}.{node.module}" if node.module else base
            else:
                source = node.module or ""
            # ``from pkg import sub`` loads pkg.sub when it is a module, else pkg itself
            targets = [f"{source}.{alias.name}" for alias in node.names] + [source]
        for target in targets:
            if target.split(".")[0] == PACKAGE:
                resolved = _resolve(target)
                if resolved and resolved != module:
                    found.add(resolved)
    return found


GRAPH = {module: imports_of(module) for module in MODULES}


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle as a list of modules (first == last), or [] when there is none."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        path.pop()
        state[node] = 2
        return []

    for start in sorted(graph):
        if start not in state:
            cycle = visit(start)
            if cycle:
                return cycle
    return []


def is_top(module: str) -> bool:
    return module in TOP or module == COMMANDS or module.startswith(COMMANDS + ".")


def test_the_reader_sees_the_package() -> None:
    """The scan finds the modules and the imports it is about (else it proves nothing)."""
    assert {f"{PACKAGE}.cli", f"{PACKAGE}.shell.wrapper", f"{PACKAGE}.hooks.entry"} <= set(GRAPH)
    assert f"{PACKAGE}.guard" in GRAPH[f"{PACKAGE}.cli"]  # module level
    assert f"{PACKAGE}.shell.commands" in GRAPH[f"{PACKAGE}.shell.wrapper"]  # inside a function
    assert f"{PACKAGE}.adminpush" in GRAPH[f"{PACKAGE}.commands.setup_cmd"]


def test_no_import_cycle() -> None:
    cycle = find_cycle(GRAPH)
    assert cycle == [], "import cycle: " + " -> ".join(cycle)


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if not is_top(m)))
def test_a_library_module_imports_no_command(module: str) -> None:
    upward = sorted(m for m in GRAPH[module] if is_top(m))
    assert upward == [], f"{module} imports {upward}: move what it needs down"


def test_the_cycle_finder_finds_a_cycle() -> None:
    """The checker itself, on a graph that has a cycle (and on one that has none)."""
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) == []
