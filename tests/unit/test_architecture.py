"""The core stays pure: service/domain imports only the standard library and itself."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

DOMAIN = Path(__file__).resolve().parents[2] / "service" / "domain"


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text("utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", sorted(DOMAIN.glob("*.py")), ids=lambda p: p.name)
def test_domain_module_imports_only_the_standard_library(path: Path) -> None:
    foreign = {
        name
        for name in _imported_modules(path)
        if not name.startswith("service.domain")
        and name.split(".")[0] not in sys.stdlib_module_names
        and name != "__future__"
    }
    assert foreign == set(), f"{path.name} imports {sorted(foreign)}"


def test_the_check_sees_a_framework_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import fastapi\nfrom sqlmodel import Session\n")
    assert {"fastapi", "sqlmodel"} <= _imported_modules(bad)
