"""The package imports only downward and has no import cycle.

Layers, bottom to top (a module may import its own layer and the ones below):

0. ``models`` (``paperfeed.models.*``: the records every layer shares), ``settings``,
   ``errors``, ``progress``, ``latex``, ``fileio``, ``http`` (small helpers with no
   paperfeed imports above them)
1. ``storage``
2. ``sources``, ``ingest``
3. ``search``, ``rank``, ``community``, ``explore`` (trends, author/category pages, the map)
4. ``jobs``, ``digest``
5. ``library`` (the façade)
6. ``cli``, ``web``, ``__main__`` and the package's own ``__init__`` (its public names)

Every import counts: module level, inside functions and under ``TYPE_CHECKING``
(a cycle hidden in a function is still a cycle). Importing ``a.b.c`` also runs the
``__init__`` of ``a.b``: that counts too unless the importer lives inside ``a.b``.
A new top-level module or package must be given a layer here.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "paperfeed"

LAYERS: dict[str, int] = {
    "models": 0, "settings": 0, "errors": 0, "progress": 0, "latex": 0, "fileio": 0, "http": 0,
    "storage": 1,
    "sources": 2, "ingest": 2,
    "search": 3, "rank": 3, "community": 3, "explore": 3,
    "jobs": 4, "digest": 4,
    "library": 5,
    "cli": 6, "web": 6, "__main__": 6,
}  # fmt: skip
TOP = max(LAYERS.values())


def module_files(root: Path, package: str) -> dict[str, Path]:
    """Dotted module name -> file, for every ``.py`` under ``root/package``."""
    found = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _ancestors(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def import_graph(modules: Mapping[str, Path]) -> dict[str, set[str]]:
    """Module -> the modules of ``modules`` it imports (see the module doc for what counts)."""
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        own_packages = {*_ancestors(name), package}
        targets: list[str] = []
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets += [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                submodules = [f"{source}.{a.name}" for a in node.names]
                targets += [sub for sub in submodules if sub in modules] or [source]
                targets.append(source)  # its __init__ runs either way
        for target in targets:
            for candidate in [*_ancestors(target), target]:
                if candidate in modules and candidate != name and candidate not in own_packages:
                    graph[name].add(candidate)
    return graph


def cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
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
                    work.append((child, iter(sorted(graph[child]))))
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


def layer(name: str, package: str = PACKAGE, layers: Mapping[str, int] = LAYERS) -> int:
    parts = name.split(".")
    if parts == [package]:
        return TOP
    if parts[1] not in layers:
        raise AssertionError(f"{package}.{parts[1]} has no layer: add it to tests/test_layers.py")
    return layers[parts[1]]


def upward_imports(
    graph: Mapping[str, Iterable[str]],
    package: str = PACKAGE,
    layers: Mapping[str, int] = LAYERS,
) -> list[str]:
    return sorted(
        f"{name} (layer {layer(name, package, layers)}) imports {target}"
        f" (layer {layer(target, package, layers)})"
        for name, targets in graph.items()
        for target in targets
        if layer(target, package, layers) > layer(name, package, layers)
    )


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph(module_files(SRC, PACKAGE))


def test_no_import_cycles(graph: dict[str, set[str]]) -> None:
    assert cycles(graph) == []


def test_layers_import_only_downward(graph: dict[str, set[str]]) -> None:
    assert upward_imports(graph) == []


def test_the_checks_find_cycles_hidden_in_functions_and_upward_imports(tmp_path: Path) -> None:
    """The checks above can fail: a toy package with both defects."""
    toy = tmp_path / "toy"
    (toy / "low").mkdir(parents=True)
    (toy / "__init__.py").write_text("")
    (toy / "low" / "__init__.py").write_text("from toy.low import a\n")
    (toy / "low" / "a.py").write_text("def f():\n    from toy.low import b\n")
    (toy / "low" / "b.py").write_text("from . import a\n")
    (toy / "high.py").write_text("import toy.low.b\n")
    (toy / "low" / "c.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from toy import high\n"
    )
    toy_graph = import_graph(module_files(tmp_path, "toy"))
    assert cycles(toy_graph) == [["toy.low.a", "toy.low.b"]]
    assert toy_graph["toy.high"] == {"toy.low", "toy.low.b"}  # low/__init__ runs too
    assert upward_imports(toy_graph, "toy", {"low": 0, "high": 1}) == [
        "toy.low.c (layer 0) imports toy.high (layer 1)"
    ]
