"""The layering rule of the course: shared <- week1 <- week2 <- ... <- week6.

A module may depend on `shared` and on earlier weeks only. So no module of `shared` or of a week
mentions a LATER package anywhere, in an import, in a string or in a comment: the imports a reader
sees are the real dependencies. Later weeks reach earlier ones the other way round: they import
them, and they add their variants to an earlier week's tables through the entry points listed in
pyproject.toml (`shared.registry`), which an earlier week reads without naming anyone.

The tests read the source (nothing is imported), so an exercise edition with stubbed weeks keeps
the same shape; a last test runs a fresh interpreter to see what importing week 3 really loads.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.needs_weeks(0)  # reads the source; runs no task (but see below)

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
# A package name as it can appear in code, a string or a comment; `mlx_port` is week 6's.
MENTION = re.compile(r"\b(shared|week[1-6]_[a-z]+|mlx_port)\b")


def _modules(package: str) -> list[Path]:
    return [p for p in sorted((ROOT / package).rglob("*.py")) if "tests" not in p.parts]


def _mentioned_layers(path: Path) -> set[str]:
    """Every layer the file's text names: imports, strings, docstrings and comments alike."""
    names = {"week6_optimizations" if m == "mlx_port" else m for m in MENTION.findall(_text(path))}
    return names & set(LAYERS)


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


@pytest.mark.parametrize("package", LAYERS)
def test_no_module_mentions_a_later_package(package):
    allowed = set(LAYERS[: LAYERS.index(package) + 1])
    offenders = {
        str(path.relative_to(ROOT)): sorted(_mentioned_layers(path) - allowed)
        for path in _modules(package)
        if _mentioned_layers(path) - allowed
    }
    assert offenders == {}


def test_the_checker_sees_imports_strings_and_comments(tmp_path):
    # Guard against a vacuous pass: each kind of mention is found.
    assert "shared" in _mentioned_layers(ROOT / "week1_setup" / "cli.py")
    sample = tmp_path / "sample.py"
    for line in ["import week4_training\n", 'NAME = "week4_training.cli"\n', "# see mlx_port\n"]:
        sample.write_text(line)
        assert _mentioned_layers(sample) - {"shared"}, line


# ----------------------------------------------------------------------------- import cycles


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_only(tree: ast.Module) -> set[ast.AST]:
    """Imports under `if TYPE_CHECKING:`: read by type checkers, never run, so never a cycle."""
    hidden: set[ast.AST] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for inner in node.body:
                hidden.update(ast.walk(inner))
    return hidden


def _imports(path: Path, modules: set[str]) -> set[str]:
    """The course modules `path` imports when it runs: at the top and inside functions alike."""
    tree = ast.parse(_text(path), filename=str(path))
    hidden = _type_checking_only(tree)
    found: set[str] = set()
    for node in ast.walk(tree):
        if node in hidden:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:  # `from pkg import module` imports pkg.module
                child = f"{node.module}.{alias.name}"
                found.add(child if child in modules else node.module)
    return found & modules


def _import_graph() -> dict[str, set[str]]:
    paths = [path for package in LAYERS for path in _modules(package)]
    modules = {_module_name(path) for path in paths}
    return {_module_name(path): _imports(path, modules) for path in paths}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_circles_anywhere():
    assert _cycles(_import_graph()) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_imports_inside_functions_count():
    graph = _import_graph()
    # week 4's command line imports its trainer inside a function (so `--help` is fast)
    assert "week4_training.trainer" in graph["week4_training.cli"]


# ----------------------------------------------------------------------------- what really loads


@pytest.mark.needs_weeks(3)  # builds and trains a week-3 model
def test_week3_alone_loads_no_later_week():
    """Building a model with every week-3 option imports week 3 and `shared`, nothing later."""
    script = textwrap.dedent(
        """
        import itertools, sys
        import torch
        import week3_model
        from week3_model import GPT, GPTConfig

        for bias, tie, dropout in itertools.product([True, False], [True, False], [0.0, 0.1]):
            config = GPTConfig(vocab_size=11, block_size=8, n_layer=1, n_head=2, n_embd=8,
                               bias=bias, tie_weights=tie, dropout=dropout,
                               attention="naive", position="learned")
            logits, loss = GPT(config)(torch.zeros(1, 8, dtype=torch.long), torch.ones(1, 8,
                                       dtype=torch.long))
            loss.backward()
        print(sorted({name.split(".")[0] for name in sys.modules if name.startswith("week")}))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    loaded = set(ast.literal_eval(result.stdout.strip()))
    assert "week3_model" in loaded and loaded <= set(LAYERS[: LAYERS.index("week3_model") + 1])
