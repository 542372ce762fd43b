"""The layers hold (docs/architecture.md): tests, not promises.

- ``service/domain`` imports only the standard library and itself;
- ``service/usecases`` speaks to ports: no database, web framework or JWT library, and none of
  the shell's packages that wrap them;
- no two modules of ``service`` import each other, however indirectly (no import cycles).
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

SERVICE = Path(__file__).resolve().parents[2] / "service"
DOMAIN = SERVICE / "domain"
USECASES = SERVICE / "usecases"

# Third-party packages and shell packages the use cases must not know.
USECASE_FORBIDDEN = (
    "sqlmodel",
    "sqlalchemy",
    "alembic",
    "fastapi",
    "starlette",
    "jose",
    "httpx",
    "service.db",
    "service.api",
    "service.adapters",
    "service.security",
    "service.audit.log",
    "service.bootstrap",
    "service.cli",
)


def _imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports, at the top or inside a function, as absolute names."""
    tree = ast.parse(path.read_text("utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                # The package a relative import counts from: the module's own, then parents.
                anchor = _module_name(path).split(".")
                if path.name != "__init__.py":
                    anchor = anchor[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            names.add(base)
            # ``from service.x import y`` may import the module service.x.y.
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def _module_name(path: Path) -> str:
    relative = path.relative_to(SERVICE.parent).with_suffix("")
    parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
    return ".".join(parts)


def _service_modules() -> dict[str, Path]:
    return {_module_name(path): path for path in SERVICE.rglob("*.py")}


def _import_graph() -> dict[str, set[str]]:
    modules = _service_modules()
    return {
        name: {imported for imported in _imported_modules(path) if imported in modules} - {name}
        for name, path in modules.items()
    }


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph.get(node, ())):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component: list[str] = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _python_files(folder: Path) -> Iterator[Path]:
    return iter(sorted(folder.rglob("*.py")))


@pytest.mark.parametrize("path", list(_python_files(DOMAIN)), ids=lambda p: p.name)
def test_domain_module_imports_only_the_standard_library(path: Path) -> None:
    foreign = {
        name
        for name in _imported_modules(path)
        if not name.startswith("service.domain")
        and name.split(".")[0] not in sys.stdlib_module_names
        and name != "__future__"
    }
    assert foreign == set(), f"{path.name} imports {sorted(foreign)}"


@pytest.mark.parametrize("path", list(_python_files(USECASES)), ids=lambda p: p.name)
def test_usecase_module_imports_no_database_web_or_jwt_code(path: Path) -> None:
    forbidden = {
        name
        for name in _imported_modules(path)
        if any(name == f or name.startswith(f + ".") for f in USECASE_FORBIDDEN)
    }
    assert forbidden == set(), f"{path.name} imports {sorted(forbidden)}"


def test_no_modules_of_the_service_import_each_other_in_a_circle() -> None:
    assert _cycles(_import_graph()) == []


def test_the_checks_see_a_framework_import_and_a_circle(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import fastapi\nfrom sqlmodel import Session\n")
    assert {"fastapi", "sqlmodel"} <= _imported_modules(bad)
    circle = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(circle) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_the_graph_sees_imports_inside_functions_and_relative_ones() -> None:
    graph = _import_graph()
    # cli.py imports most commands' dependencies inside the command functions.
    assert "service.demo" in graph["service.cli"]
    assert "service.domain.model" in graph["service.domain.decision"]
