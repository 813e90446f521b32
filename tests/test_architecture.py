"""The dependency rule of ARCHITECTURE.md, read from the source: schemas, keys ← adapters ← hub.

Every ``import`` and ``from … import`` of every module counts, including those inside functions
and under ``TYPE_CHECKING``: a partner installs ``adapters`` without the hub, so a lazy import of
the hub is as broken as an eager one.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Package → top-level modules it must never import (ARCHITECTURE.md, "Dependency direction").
FORBIDDEN: dict[str, frozenset[str]] = {
    "schemas": frozenset({"keys", "adapters", "exchange", "flask", "sqlalchemy", "requests"}),
    "keys": frozenset(
        {"schemas", "adapters", "exchange", "flask", "sqlalchemy", "requests", "marshmallow"}
    ),
    "adapters": frozenset({"exchange", "flask", "sqlalchemy", "alembic"}),
}
# ``keys`` is a leaf of leaves: cryptography and the standard library, nothing else.
KEYS_ALLOWED = frozenset(sys.stdlib_module_names) | {"__future__", "cryptography", "keys"}


@dataclass(frozen=True)
class ImportSite:
    """One import statement: the file, its line and the absolute module it names."""

    path: Path
    line: int
    module: str

    @property
    def root(self) -> str:
        """The top-level package imported (``sqlalchemy`` for ``sqlalchemy.orm``)."""
        return self.module.split(".")[0]

    def __str__(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line} imports {self.module}"


def package_sources(package: str) -> list[Path]:
    """Every .py file of a top-level package, sub-packages included."""
    return sorted((ROOT / package).rglob("*.py"))


def _absolute(path: Path, node: ast.ImportFrom) -> str:
    """The absolute module of a ``from`` import (relative imports resolved from ``path``)."""
    if node.level == 0:
        return node.module or ""
    # The containing package of both ``pkg/mod.py`` and ``pkg/__init__.py`` is ``pkg``.
    package = list(path.relative_to(ROOT).parts[:-1])
    base = package[: len(package) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def import_sites(path: Path) -> list[ImportSite]:
    """Every module named by an import in ``path`` (``importlib.import_module("x")`` too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    sites: list[ImportSite] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            sites.extend(ImportSite(path, node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            sites.append(ImportSite(path, node.lineno, _absolute(path, node)))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id)
            in {"import_module", "__import__"}
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            sites.append(ImportSite(path, node.lineno, node.args[0].value))
    return sites


def violations(package: str, forbidden: frozenset[str]) -> list[str]:
    """Each import in ``package`` of a forbidden top-level module, as ``file:line imports x``."""
    return [
        str(site)
        for path in package_sources(package)
        for site in import_sites(path)
        if site.root in forbidden
    ]


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_nothing_above_it(package: str) -> None:
    """Schemas and keys are leaves; adapters never reaches for the hub or its stack."""
    assert len(package_sources(package)) >= 3, f"{package}: sources not found"
    found = violations(package, FORBIDDEN[package])
    assert not found, f"{package} breaks the dependency rule:\n" + "\n".join(found)


def test_keys_imports_only_cryptography_and_the_standard_library() -> None:
    """keys: every import is the standard library, cryptography or keys itself."""
    foreign = [
        str(site)
        for path in package_sources("keys")
        for site in import_sites(path)
        if site.root not in KEYS_ALLOWED
    ]
    assert not foreign, "keys imports outside cryptography + stdlib:\n" + "\n".join(foreign)


def test_the_import_scanner_sees_real_imports() -> None:
    """The scanner is not blind: it finds imports we know are there, lazy and relative ones too."""
    cli = import_sites(ROOT / "exchange" / "cli" / "evidence.py")
    assert {"flask", "keys", "exchange"} <= {site.root for site in cli}
    # ``import psycopg`` sits inside ``Pipeline.begin`` (psycopg is an optional extra).
    writer = import_sites(ROOT / "exchange" / "store" / "writer.py")
    assert "psycopg" in {site.module for site in writer}
    assert violations("exchange", frozenset({"flask"})), "exchange must be seen importing flask"
    assert any(site.root == "keys" for site in import_sites(ROOT / "adapters" / "client.py"))


def test_importing_the_partner_edge_loads_no_hub_stack() -> None:
    """A partner's process that imports the SDK never loads Flask, SQLAlchemy or the hub."""
    probe = (
        "import json, sys\n"
        "import adapters, adapters.client\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    loaded = set(json.loads(done.stdout))
    assert {"adapters", "keys", "requests"} <= loaded, "the probe did not import the SDK"
    hub_stack = loaded & {"flask", "sqlalchemy", "alembic", "exchange", "werkzeug"}
    assert not hub_stack, f"importing adapters loaded {sorted(hub_stack)}"


def test_the_hub_runs_without_the_postgres_extra() -> None:
    """Psycopg is the ``postgres`` extra: a SQLite-only install must still import the hub."""
    code = (
        "import sys; sys.modules['psycopg'] = None\n"
        "import exchange.app, exchange.cli, exchange.store.writer\n"
        "from exchange.store.writer import Store\n"
        "from exchange.store.db import make_engine, make_sessionmaker\n"
        "engine = make_engine('sqlite://')\n"
        "with Store(engine, make_sessionmaker(engine)).transaction() as tx:\n"
        "    print(type(tx).__name__)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "SessionTransaction"


# --- inside the hub: no import circle, and the layers of ARCHITECTURE.md ---------------------

HUB = ROOT / "exchange"
# What each package of the hub may import of the hub (besides itself and the leaves errors
# and config); the same rule as the banned-api lists in exchange/*/ruff.toml.
LAYERS: dict[str, frozenset[str]] = {
    "store": frozenset(),
    "trust": frozenset({"store"}),
    "transparency": frozenset({"store", "trust"}),
    "supervision": frozenset({"store", "trust", "transparency"}),
    "admin": frozenset({"store", "trust", "transparency"}),
    "transport": frozenset({"store", "trust", "transparency", "supervision", "admin"}),
}
LEAVES = frozenset({"exchange.errors", "exchange.config", "exchange.metrics"})


def hub_modules() -> dict[str, Path]:
    """Every module of the hub by its dotted name (package ``__init__`` as the package)."""
    found: dict[str, Path] = {}
    for path in sorted(HUB.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def hub_imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """The hub modules ``path`` imports anywhere in it (functions included): ``from a import
    b`` counts as an import of ``a.b`` when that is a module, else of ``a``.
    """
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(path, node)
            for alias in node.names:
                child = f"{base}.{alias.name}"
                targets.add(child if child in modules else base)
    return {t for t in targets if t in modules}


def find_circle(graph: dict[str, set[str]]) -> list[str] | None:
    """A circle of imports in the graph (its modules in order, the first again at the end)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(name: str) -> list[str] | None:
        state[name] = 1
        path.append(name)
        for target in sorted(graph.get(name, ())):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (circle := visit(target)) is not None:
                return circle
        path.pop()
        state[name] = 2
        return None

    for name in sorted(graph):
        if name not in state and (circle := visit(name)) is not None:
            return circle
    return None


def test_no_import_circle_inside_the_hub() -> None:
    """Following imports from any hub module — module level or inside a function — never
    leads back to it.
    """
    modules = hub_modules()
    graph = {name: hub_imports(path, modules) for name, path in modules.items()}
    assert sum(len(edges) for edges in graph.values()) > 100, "the scanner found no imports"
    circle = find_circle(graph)
    assert circle is None, "import circle: " + " -> ".join(circle or [])


def test_the_circle_check_is_not_blind() -> None:
    """A circle through a function-level import is caught, and a graph without one passes."""
    source = "def late() -> None:\n    from exchange.transport import review\n"
    tree = ast.parse(source)
    lazy = [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert lazy and lazy[0].module == "exchange.transport"
    graph = {"exchange.a": {"exchange.b"}, "exchange.b": {"exchange.c"}, "exchange.c": set()}
    assert find_circle(graph) is None
    graph["exchange.c"] = {"exchange.a"}
    assert find_circle(graph) == ["exchange.a", "exchange.b", "exchange.c", "exchange.a"]


@pytest.mark.parametrize("package", sorted(LAYERS))
def test_each_hub_package_imports_only_the_layers_below_it(package: str) -> None:
    """The layers: store ← trust ← transparency ← supervision, admin ← transport."""
    modules = hub_modules()
    allowed = LAYERS[package] | {package}
    wrong = []
    for name, path in modules.items():
        if not name.startswith(f"exchange.{package}"):
            continue
        for target in hub_imports(path, modules):
            if target in LEAVES:
                continue
            layer = target.split(".")[1] if target.count(".") >= 1 else target
            if layer not in allowed:
                wrong.append(f"{name} imports {target}")
    assert not wrong, "\n".join(wrong)
