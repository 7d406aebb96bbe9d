"""The layering rule of the course: shared <- week1 <- week2 <- ... <- week6.

A week may import `shared` and earlier weeks, never a later one; `shared` imports no week. This
test reads every module's import statements (without running them) and checks the rule, so an
exercise edition with stubbed weeks keeps the same shape. Later weeks reach earlier ones only
through registries (`shared.registry`), which load a week by name when a config asks for it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = [
    "shared",
    "week1_setup",
    "week2_tokenizer",
    "week3_model",
    "week4_training",
    "week5_generation",
    "week6_optimizations",
]


def _imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names & set(LAYERS)


def _modules(package: str) -> list[Path]:
    return [p for p in sorted((ROOT / package).rglob("*.py")) if "tests" not in p.parts]


@pytest.mark.parametrize("package", LAYERS)
def test_no_package_imports_a_later_one(package):
    allowed = set(LAYERS[: LAYERS.index(package) + 1])
    offenders = {
        str(path.relative_to(ROOT)): sorted(_imported_packages(path) - allowed)
        for path in _modules(package)
        if _imported_packages(path) - allowed
    }
    assert offenders == {}


def test_the_checker_sees_imports():
    # Guard against a vacuous pass: week 1 really does import shared.
    assert "shared" in _imported_packages(ROOT / "week1_setup" / "cli.py")
