"""Every third-party module the source imports comes from a distribution pyproject.toml pins."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from collections.abc import Iterator
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
# The packages the wheel ships (run-time dependencies) and what only development uses.
SHIPPED = tuple(
    name.rstrip("*") for name in PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
)
DEVELOPMENT = ("tests", "bench")
FIRST_PARTY = frozenset(SHIPPED + DEVELOPMENT)
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared(specs: list[str]) -> frozenset[str]:
    found = set()
    for spec in specs:
        match = _NAME.match(spec)
        assert match is not None, spec
        found.add(_normal(match.group(1)))
    return frozenset(found)


RUNTIME = _declared(PYPROJECT["project"]["dependencies"])
DEV = RUNTIME | _declared(PYPROJECT["project"]["optional-dependencies"]["dev"])


def _top_level_imports(path: Path) -> Iterator[tuple[str, int]]:
    """Absolute imports of a file, at any depth (imports inside functions count too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name.split(".")[0], node.lineno
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module.split(".")[0], node.lineno


def _third_party(packages: tuple[str, ...]) -> dict[str, list[str]]:
    """Each third-party top-level module imported under `packages`, with where."""
    found: dict[str, list[str]] = {}
    for package in packages:
        for path in sorted((ROOT / package).rglob("*.py")):
            for module, line in _top_level_imports(path):
                if module in sys.stdlib_module_names or module in FIRST_PARTY:
                    continue
                found.setdefault(module, []).append(f"{path.relative_to(ROOT)}:{line}")
    return found


def _undeclared(packages: tuple[str, ...], declared: frozenset[str]) -> list[str]:
    owners = packages_distributions()
    problems = []
    for module, where in sorted(_third_party(packages).items()):
        distributions = {_normal(d) for d in owners.get(module, [])}
        if not distributions:
            problems.append(f"{module} (no installed distribution provides it) at {where[0]}")
        elif not distributions & declared:
            problems.append(f"{module} from {sorted(distributions)} undeclared, at {where[0]}")
    return problems


def test_shipped_code_imports_only_declared_dependencies() -> None:
    assert _undeclared(SHIPPED, RUNTIME) == []


def test_tests_and_benchmarks_import_only_declared_dependencies() -> None:
    assert _undeclared(DEVELOPMENT, DEV) == []


def test_the_walk_sees_the_imports_that_were_missed() -> None:
    # cryptography and requests were imported without being declared (issue 19).
    modules = _third_party(SHIPPED)
    assert {"cryptography", "requests", "sqlalchemy", "aiohttp"} <= modules.keys()


@pytest.mark.parametrize("spec", PYPROJECT["project"]["dependencies"])
def test_every_runtime_dependency_is_pinned(spec: str) -> None:
    assert "==" in spec, spec
