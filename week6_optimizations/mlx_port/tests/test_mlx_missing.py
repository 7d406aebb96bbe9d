"""Without MLX: week 6 still imports, and every MLX command says how to install it (exit 2)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from shared.errors import CourseError
from week6_optimizations.mlx_port import MLX_MISSING, availability, mlx_available, require_mlx

# Run in a fresh interpreter in which `import mlx` fails, as on a machine without it.
WITHOUT_MLX = """
import contextlib, io, json, sys
sys.modules["mlx"] = None
sys.modules["mlx.core"] = None
import week6_optimizations, week6_optimizations.mlx_port
from shared.errors import run_cli
from week5_generation.cli import main as week5
from week6_optimizations.mlx_port.cli import main as port
results = []
for main, argv in [
    (port, ["train", "--config", "configs/tiny_mlx.yaml"]),
    (port, ["sample", "--prompt", "hi"]),
    (port, ["convert", "a.pt", "b.safetensors"]),
    (week5, ["sample", "--backend", "mlx"]),
]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = run_cli(main, argv)
    results.append([code, err.getvalue()])
print(json.dumps(results))
"""


def test_require_mlx_passes_when_installed_and_explains_when_not(monkeypatch):
    assert mlx_available()
    require_mlx()
    monkeypatch.setitem(sys.modules, "mlx.core", None)  # makes `import mlx.core` fail
    assert not availability.mlx_available()
    with pytest.raises(CourseError) as error:
        require_mlx()
    assert str(error.value) == MLX_MISSING
    assert "pip install 'mlx[cpu]'" in MLX_MISSING and "pip install mlx" in MLX_MISSING


def test_without_mlx_week6_imports_and_every_command_prints_one_line_and_exits_2():
    done = subprocess.run([sys.executable, "-c", WITHOUT_MLX], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    for code, err in json.loads(done.stdout):
        assert code == 2
        assert err == f"error: {MLX_MISSING}\n"
