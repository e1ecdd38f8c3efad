"""The layers a reader can trust: no two modules import each other, directly or round a
longer circle, counting imports inside functions and under TYPE_CHECKING too (a circle a
type checker sees is still a circle a reader must untangle)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "desktop" / "tokenwise"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(files: dict[str, str]) -> dict[str, set[str]]:
    """module -> the package modules it imports anywhere in its source."""
    known = set(files)

    def resolve(name: str) -> str | None:
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {name: set() for name in files}
    for name, source in files.items():
        is_package = source.startswith("#package\n")
        here = name.split(".") if is_package else name.split(".")[:-1]
        for node in ast.walk(ast.parse(source)):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = here[: len(here) - (node.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
            for target in targets:
                found = resolve(target)
                # importing a.b.c runs a/__init__ and a/b/__init__ first: edges to them too,
                # except to the packages the importing module is itself inside
                while found:
                    if found != name and not name.startswith(found + "."):
                        graph[name].add(found)
                    found = resolve(found.rpartition(".")[0]) if "." in found else None
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                group.append(top)
                if top == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def package_sources() -> dict[str, str]:
    return {
        module_name(path): ("#package\n" if path.name == "__init__.py" else "")
        + path.read_text(encoding="utf-8")
        for path in sorted(PACKAGE.rglob("*.py"))
    }


def test_no_module_imports_another_that_imports_it_back() -> None:
    sources = package_sources()
    assert len(sources) > 40  # the walk really saw the package
    assert cycles(import_graph(sources)) == []


@pytest.mark.parametrize(("a", "b"), [
    ("from tokenwise.b import x\n", "from tokenwise.a import y\n"),
    ("def f():\n    import tokenwise.b\n", "import tokenwise.a\n"),
    ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from tokenwise import b\n",
     "from tokenwise.a import y\n"),
])
def test_the_walk_finds_every_form_of_circle(a: str, b: str) -> None:
    graph = import_graph({"tokenwise.a": a, "tokenwise.b": b, "tokenwise.c": ""})
    assert cycles(graph) == [["tokenwise.a", "tokenwise.b"]]


def test_a_circle_through_a_package_init_is_found() -> None:
    """Importing a.pkg.style runs a/pkg/__init__ first, which may import back."""
    graph = import_graph({
        "tokenwise.legend": "from tokenwise.pkg.style import Ink\n",
        "tokenwise.pkg": "#package\nfrom tokenwise.pkg.panel import Panel\n",
        "tokenwise.pkg.style": "",
        "tokenwise.pkg.panel": "from tokenwise.legend import Legend\n",
    })
    assert cycles(graph) == [["tokenwise.legend", "tokenwise.pkg", "tokenwise.pkg.panel"]]


def test_a_longer_circle_is_found_too() -> None:
    graph = import_graph({
        "tokenwise.a": "import tokenwise.b\n",
        "tokenwise.b": "import tokenwise.c\n",
        "tokenwise.c": "from tokenwise.a import x\n",
    })
    assert cycles(graph) == [["tokenwise.a", "tokenwise.b", "tokenwise.c"]]
