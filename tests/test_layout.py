"""The shape of the source tree: no import cycles, small folders, the emulator's layers apart.

The import graph is read from the source with `ast`, so it holds every import: at module level,
under `if TYPE_CHECKING:` and inside functions. `from package import name` counts as an import
of `package.name` when that is a module, else of `package`. Running a parent package's
`__init__` on the way to a submodule is not counted: Python allows it, and counting it would
forbid any package from re-exporting what its modules define.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("spec", "runner", "emulator")
MAX_MODULES_PER_FOLDER = 12


def _module_name(path: Path) -> str:
    """The name a source file installs under: spec/models.py is wanform.spec.models."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(["wanform", *(parts[:-1] if parts[-1] == "__init__" else parts)])


def _sources() -> dict[str, Path]:
    """Every module of the three packages, by dotted name."""
    return {
        _module_name(path): path
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
    }


def _known(name: str, modules: Mapping[str, Path]) -> str | None:
    """`name` or its longest prefix that is one of `modules`; None outside them."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        prefix = ".".join(parts[:end])
        if prefix in modules:
            return prefix
    return None


def _base(node: ast.ImportFrom, module: str, path: Path) -> str:
    """The absolute module a `from ... import` reads from, relative levels resolved."""
    if not node.level:
        return node.module or ""
    package = module.split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    package = package[: len(package) - node.level + 1]
    return ".".join([*package, *([node.module] if node.module else [])])


def _imported(node: ast.AST, module: str, path: Path) -> Iterator[str]:
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom):
        base = _base(node, module, path)
        yield from (f"{base}.{alias.name}" for alias in node.names)


def import_graph() -> dict[str, set[str]]:
    """Module -> the modules of the three packages it imports anywhere in its source."""
    modules = _sources()
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        targets = (
            _known(name, modules)
            for node in ast.walk(tree)
            for name in _imported(node, module, path)
        )
        graph[module] = {t for t in targets if t is not None and t != module}
    return graph


def _components(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components with more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = len(index)
        low[node] = index[node]
        stack.append(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _cycle(graph: Mapping[str, set[str]], component: list[str]) -> list[str]:
    """One concrete cycle through the component's first module, found breadth first."""
    members = set(component)
    start = component[0]
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for target in sorted(graph[node] & members):
            if target == start:
                return [*paths[node], start]
            if target not in paths:
                paths[target] = [*paths[node], target]
                queue.append(target)
    raise AssertionError(f"no cycle through {start}")  # a component always has one


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """An import cycle, `[a, b, a]`, for each strongly connected component."""
    return [_cycle(graph, c) for c in _components(graph)]


def _inside(module: str, package: str) -> bool:
    return module == package or module.startswith(f"{package}.")


def test_the_cycle_finder_names_a_cycle():
    """A three-module loop is reported as its path; a graph without one reports nothing."""
    loop = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert (cycles(loop), cycles({"a": {"b"}, "b": set()})) == ([["a", "b", "c", "a"]], [])


def test_the_graph_sees_imports_in_functions_and_under_type_checking():
    """Imports inside functions and under TYPE_CHECKING are edges of the graph."""
    graph = import_graph()
    assert (
        "wanform.emulator" in graph["wanform.runner.engine.launch"],
        "wanform.emulator.config" in graph["wanform.emulator.state.instance"],
    ) == (True, True)


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_cycles(package):
    """No module of the package takes part in an import cycle; a failure lists each cycle."""
    found = [
        " -> ".join(cycle)
        for cycle in cycles(import_graph())
        if any(_inside(module, f"wanform.{package}") for module in cycle)
    ]
    assert found == [], "import cycles:\n" + "\n".join(found)


def test_no_folder_holds_more_than_a_dozen_modules():
    """Every package folder holds at most 12 modules, its __init__ included."""
    crowded = {
        str(folder.relative_to(ROOT)): count
        for package in PACKAGES
        for folder in [ROOT / package, *(ROOT / package).rglob("*/")]
        if folder.is_dir() and (count := len(list(folder.glob("*.py")))) > MAX_MODULES_PER_FOLDER
    }
    assert crowded == {}


# what sits above the emulator's HTTP layer, and above its state
ABOVE_STATE = (
    "wanform.emulator.http",
    "wanform.emulator.app",
    "wanform.emulator.pytest_plugin",
    "aiohttp",
)
ABOVE_IMAGES = (*ABOVE_STATE, "wanform.emulator.state")


@pytest.mark.parametrize(
    ("layer", "above"),
    [("wanform.emulator.state", ABOVE_STATE), ("wanform.emulator.images", ABOVE_IMAGES)],
)
def test_emulator_layers_import_only_downwards(layer, above):
    """The emulator's state imports neither its HTTP layer, its app nor aiohttp; its images
    (what a task draws, from what) none of those nor its state, which holds and paints them."""
    reaching_up = sorted(
        f"{module} imports {name}"
        for module, path in _sources().items()
        if module.startswith(layer)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        for name in _imported(node, module, path)
        if name.startswith(above)
    )
    assert reaching_up == []
