"""The keys package stays a leaf: only cryptography and the standard library."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import keys

PACKAGE = Path(keys.__file__).parent
ALLOWED = set(sys.stdlib_module_names) | {"cryptography", "keys", "__future__"}


def imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_keys_imports_only_cryptography_and_the_standard_library() -> None:
    sources = sorted(PACKAGE.glob("*.py"))
    assert len(sources) > 5
    for path in sources:
        assert imported_roots(path) <= ALLOWED, path.name


def test_public_api_is_reexported() -> None:
    for name in keys.__all__:
        assert hasattr(keys, name), name
    assert not [name for name in keys.__all__ if name.startswith("_")]
