"""The package's import graph, read from its own source: no cycle, and a core that imports nothing above it."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "lightning_occ"
CORE_MAY_IMPORT = (
    "lightning_occ.core",
    "lightning_occ.metrics",
    "lightning_occ.nn",
    "lightning_occ.utils",
    "lightning_occ.errors",
)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in PACKAGE.rglob("*.py")}


def imports_of(path: Path, known: dict[str, Path]) -> set[str]:
    """Every lightning_occ module ``path`` imports, at any level of the file (functions included)."""
    found = set()
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else [])
                )
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
        elif (
            isinstance(node, ast.Constant) and isinstance(node.value, str) and "." in node.value and node.value in known
        ):
            found.add(node.value)  # a module named for a lazy importlib.import_module counts as imported
    return {name for name in found if name in known}


def import_graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports_of(path, known) - {name} for name, path in known.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
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

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_the_reader_sees_the_imports_it_should():
    graph = import_graph()
    assert "lightning_occ.core.fitted" in graph["lightning_occ.models.knn.lightning_model"]
    assert "lightning_occ.zoo" in graph["lightning_occ.callbacks.pretrained"]  # a package's name resolves to it


def test_no_import_cycle_anywhere_in_the_package():
    assert cycles(import_graph()) == []


def test_the_reader_finds_a_cycle_when_there_is_one():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_core_imports_no_method_callback_zoo_cli_or_data():
    graph = import_graph()
    for name, imported in graph.items():
        if name.startswith("lightning_occ.core"):
            above = sorted(m for m in imported if not m.startswith(CORE_MAY_IMPORT))
            assert above == [], f"{name} imports {above}"


def test_the_package_version_is_the_installed_distributions():
    from importlib.metadata import version

    import lightning_occ

    assert lightning_occ.__version__ == version("lightning-occ") != "0+unknown"
