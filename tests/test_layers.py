"""Layers point one way: no import cycle in the package, and no library module imports a command.

Read from the source with ``ast``, not from ``sys.modules``, so every import counts: those
at module level, those inside functions (the lazy imports the hot path relies on) and
those under ``if TYPE_CHECKING:``. The top is ``cli.py`` (and ``__main__.py``), which
dispatches to ``commands/``; everything else is a library those two use, and must not
reach back up: a library that needs something a command has moves it down instead
(``repos.relink_all_hooks``, ``guard.guarded``).

The map in docs/architecture.md is held to the same source: it names every file of the
package in the table of its layer, nothing else, and no module imports one of a higher layer.
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
GITOLITE_CLI = f"{PACKAGE}.gitolite"  # the `gitolite` script's package: a top like commands/


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
    return module in TOP or any(
        module == p or module.startswith(p + ".") for p in (COMMANDS, GITOLITE_CLI)
    )


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


# The map: docs/architecture.md names every file of the package, in the table of its layer
# ("### Layer N: ..."; the first column of a row names it, in backquotes).
CHECKOUT = Path(__file__).resolve().parents[1]
MAP = CHECKOUT / "docs" / "architecture.md"
LAYER_HEADING = "### Layer "


def map_rows() -> dict[str, int]:
    """Each file the map's tables name (relative to the package) -> its layer number."""
    rows: dict[str, int] = {}
    layer = 0
    for line in MAP.read_text(encoding="utf-8").splitlines():
        if line.startswith(LAYER_HEADING):
            layer = int(line[len(LAYER_HEADING) :].split(":")[0])
        elif layer and line.startswith("| `"):
            rows[line.split("`")[1]] = layer
    return rows


def package_files() -> set[str]:
    """Every file of the package in this checkout (modules, scripts, schema, rc.d)."""
    pkg = CHECKOUT / PACKAGE
    return {
        p.relative_to(pkg).as_posix()
        for p in pkg.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and not p.name.startswith(".")
    }


def test_the_map_names_every_file_of_the_package_and_no_other() -> None:
    rows = map_rows()
    assert (rows["cli.py"], rows["shell/wrapper.py"], rows["errors.py"]) == (4, 3, 1)  # parsed
    missing = sorted(package_files() - set(rows))
    assert missing == [], f"docs/architecture.md: add a row to its layer's table for {missing}"
    stale = sorted(set(rows) - package_files())
    assert stale == [], f"docs/architecture.md names files the package does not have: {stale}"


def test_no_module_imports_one_of_a_higher_layer_of_the_map() -> None:
    layer = {module_name(ROOT / name): n for name, n in map_rows().items() if name.endswith(".py")}
    upward = sorted(
        f"{m} (layer {layer[m]}) imports {i} (layer {layer[i]})"
        for m in GRAPH
        for i in GRAPH[m]
        if m in layer and i in layer and layer[i] > layer[m]
    )
    assert upward == [], "move the code down (or the module up in docs/architecture.md):\n" + (
        "\n".join(upward)
    )
