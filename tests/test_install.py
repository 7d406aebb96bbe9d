"""The course installs where learners are: its package metadata builds and says what it needs,
and every week but the MLX port imports and works on a machine without MLX."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.test_layering import LAYERS

pytestmark = pytest.mark.needs_weeks(0)  # imports and packaging; runs no task but one test

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = [*LAYERS, "week6_optimizations.bench", "week6_optimizations.distributed"]

# A finder placed first on sys.meta_path that refuses `mlx`, as a machine without the wheel
# would: `import mlx` raises ImportError however the rest of the environment looks.
WITHOUT_MLX = """
import importlib.abc, sys
class NoMLX(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "mlx" or name.startswith("mlx."):
            raise ModuleNotFoundError(f"No module named {name!r} (simulated: no MLX)", name=name)
        return None
sys.meta_path.insert(0, NoMLX())
"""


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_MLX + code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_every_week_but_the_mlx_port_imports_without_mlx():
    imports = "\n".join(f"import {name}" for name in PACKAGES)
    done = _python(imports + "\nimport mlx\n")
    assert done.returncode != 0 and "simulated: no MLX" in done.stderr, done.stderr  # the guard
    done = _python(imports + "\nprint('imported')\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "imported"


@pytest.mark.needs_weeks(5)
def test_a_model_trains_and_samples_without_mlx():
    code = """
import torch
from week3_model import GPT, GPTConfig
from week5_generation import generate
model = GPT(GPTConfig(vocab_size=32, block_size=8, n_layer=1, n_head=2, n_embd=16))
loss = model(torch.zeros(2, 8, dtype=torch.long), torch.ones(2, 8, dtype=torch.long))[1]
loss.backward()
print(sorted(n for n in __import__("sys").modules if n.startswith("mlx")))
"""
    done = _python(code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_mlx_port_says_how_to_install_mlx():
    code = """
import sys
from shared.errors import run_module
sys.exit(run_module("week6_optimizations.mlx_port.cli", ["sample", "--checkpoint", "runs/x"]))
"""
    done = _python(code)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "MLX is not installed" in done.stderr.strip().splitlines()[-1]


def test_the_package_metadata_builds_and_names_its_dependencies(tmp_path):
    pytest.importorskip("setuptools")
    # Build from a copy: a build writes build/ and *.egg-info beside the sources it builds.
    source = tmp_path / "source"
    skip = shutil.ignore_patterns(".*", "data", "runs", "build", "*.egg-info", "__pycache__")
    shutil.copytree(ROOT, source, ignore=skip)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (wheel,) = tmp_path.glob("tiny_gpt_course-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        (metadata,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        text = archive.read(metadata).decode("utf-8")
    for package in ("shared", "week1_setup", "week6_optimizations"):
        assert f"{package}/__init__.py" in names
    assert not [n for n in names if "/tests/" in n]  # the tests stay in the repository
    requires = [line for line in text.splitlines() if line.startswith("Requires-Dist:")]
    assert "Requires-Dist: torch==2.13.0" in requires
    assert any(line.startswith("Requires-Dist: regex==") for line in requires), requires
    # MLX is an extra: a machine without an MLX wheel installs everything else.
    assert not [line for line in requires if "mlx" in line and "extra ==" not in line], requires
    assert "Provides-Extra: mlx" in text


def _name(requirement: str) -> str:
    """`mlx[cpu]; sys_platform == 'linux'` -> `mlx`, normalised as pip compares names."""
    import re

    name = re.split(r"[\[;<>=!~ ]", requirement.strip(), maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


def test_constraints_pin_every_dependency_and_agree_with_pyproject():
    """make setup installs constraints.txt's versions: every package the course asks for has one
    exact version there, and the pins that change results say the same in both files."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    asked = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        asked += extra
    pins = {}
    for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, sep, version = line.partition("==")
            assert sep and version, f"constraints.txt: {line!r} is not name==version"
            pins[_name(name)] = version.strip()
    for requirement in asked:
        assert _name(requirement) in pins, f"{requirement} has no version in constraints.txt"
        specifier = requirement.split(";")[0]
        if "==" in specifier:
            exact = specifier.split("==", 1)[1].strip()
            assert pins[_name(requirement)] == exact, requirement
    assert pins["torch"] == "2.13.0" and pins["regex"] == "2025.9.18"
