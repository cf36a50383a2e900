"""The import structure: the CLI and the node never import each other, and no module
imports itself back through others (a circle makes import order matter and hides
which layer owns what). Read from the source, so a lazy import inside a function
counts as much as one at the top; imports only for type checking do not run and are
left out."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Directory -> the name it is imported by (pyproject.toml's package-dir).
PACKAGES = {"xsp": "xsp", "trust": "xsp_trust", "cli_contexts": "xsp_cli_contexts",
            "bench": "bench"}


def _modules() -> dict[str, Path]:
    found = {}
    for directory, name in PACKAGES.items():
        for path in sorted((ROOT / directory).rglob("*.py")):
            parts = [name, *path.relative_to(ROOT / directory).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(name: str, path: Path) -> set[str]:
    """The project modules ``name`` imports when it runs."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name in MODULES)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package[:len(package) - node.level + 1]
                base = ".".join([*parts, *([node.module] if node.module else [])])
            for alias in node.names:
                target = f"{base}.{alias.name}"
                if target in MODULES:
                    found.add(target)
                elif base in MODULES:
                    found.add(base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    found.discard(name)
    return found


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
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
                    circles.append(sorted(component))
    return circles


def test_the_walk_finds_the_project_and_its_imports() -> None:
    # Guards the test itself: a walk that found nothing would pass every rule below.
    assert {"xsp.cli.engine", "xsp.node.service", "xsp_trust", "xsp_cli_contexts.schema"} <= set(MODULES)
    assert "xsp.node.host" in GRAPH["xsp.node.service"]
    assert "xsp.cli.actions" in GRAPH["xsp.cli.engine"]


def test_a_circle_is_found() -> None:
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_circles() -> None:
    assert _circles(GRAPH) == []


@pytest.mark.parametrize(("lower", "upper"), [("xsp.cli", "xsp.node"), ("xsp.node", "xsp.cli")])
def test_the_cli_and_the_node_never_import_each_other(lower: str, upper: str) -> None:
    crossing = {name: sorted(t for t in targets if t == upper or t.startswith(upper + "."))
                for name, targets in GRAPH.items()
                if name == lower or name.startswith(lower + ".")}
    assert {name: targets for name, targets in crossing.items() if targets} == {}


def test_the_command_trees_import_nothing_of_the_project() -> None:
    # trust/ (xsp_trust) has its own test (test_trust_independence).
    outside = {name: sorted(t for t in targets if t.split(".")[0] != "xsp_cli_contexts")
               for name, targets in GRAPH.items() if name.split(".")[0] == "xsp_cli_contexts"}
    assert {name: targets for name, targets in outside.items() if targets} == {}


def test_the_renamed_packages_are_imported_only_by_their_installed_names() -> None:
    """A checkout's root is on sys.path under pytest, so `import trust` would work here and
    load a second copy of the package; installed, it would fail."""
    directory_names = {d for d, name in PACKAGES.items() if d != name}
    found = []
    tests = sorted((ROOT / "tests").glob("*.py")) + sorted((ROOT / "examples").glob("*.py"))
    for name, path in [*MODULES.items(), *((p.name, p) for p in tests)]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                targets = [node.module or ""]
            else:
                continue
            found += [f"{name}: {t}" for t in targets if t.split(".")[0] in directory_names]
    assert found == []
