"""blas.py: which BLAS MLX's CPU backend multiplies with, chosen once per process before MLX loads.

Most tests run a fresh interpreter: the choice is made when the port's package is imported and
cannot be undone in the process that made it. The dynamic loader itself is the witness of what
MLX's matrix product binds to (`LD_DEBUG=bindings`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import mlx.core as mx
import numpy as np
import pytest

from week6_optimizations.mlx_port import blas, require_mlx

ROOT = Path(__file__).resolve().parents[3]
OPENBLAS = next((path for path in blas.openblas_candidates() if os.path.exists(path)), None)
needs_openblas = pytest.mark.skipif(
    OPENBLAS is None or sys.platform != "linux",
    reason=f"no OpenBLAS on this machine ({blas.INSTALL_HINT})",
)

# Imports the port, reports its choice and whether MLX was loaded, then multiplies in MLX.
REPORT = """
import json, sys
import week6_optimizations.mlx_port as port
from week6_optimizations.mlx_port import blas
before_mlx = "mlx.core" not in sys.modules
first = blas.use_fast_blas()
port.require_mlx()
port.require_mlx()
import mlx.core as mx
product = mx.array([[1.0, 2.0], [3.0, 4.0]]) @ mx.array([[5.0], [6.0]])
print(json.dumps({
    "library": first.library, "reason": first.reason, "fallback": first.fallback,
    "same": blas.use_fast_blas() is first, "before_mlx": before_mlx,
    "provider": blas.global_provider(), "product": product.tolist(),
}))
"""


def run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    """`code` in a fresh interpreter with `env` added to a clean BLAS environment."""
    environment = {key: value for key, value in os.environ.items() if "BLAS" not in key}
    environment.update(OMP_NUM_THREADS="1", **env)
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return done


def report(**env: str) -> tuple[dict, str]:
    done = run_python(REPORT, **env)
    return json.loads(done.stdout), done.stderr


@needs_openblas
def test_openblas_is_loaded_once_before_mlx_and_reported():
    result, stderr = report()
    assert result["library"] == OPENBLAS and not result["fallback"]
    assert result["reason"] == "OpenBLAS found, 1 thread"
    assert result["before_mlx"] and result["same"]  # chosen at package import, never again
    assert result["provider"] == OPENBLAS  # the global scope answers cblas_sgemm with it
    assert result["product"] == [[17.0], [39.0]]
    assert stderr == ""


@needs_openblas
def test_an_explicit_path_and_thread_count_are_used():
    result, _ = report(COURSE_MLX_BLAS=OPENBLAS, OPENBLAS_NUM_THREADS="2")
    assert result["library"] == OPENBLAS
    assert result["reason"] == f"COURSE_MLX_BLAS={OPENBLAS}, 2 threads"


def test_off_keeps_the_bundled_blas_silently():
    result, stderr = report(COURSE_MLX_BLAS="off")
    assert result["library"] is None and result["provider"] is None
    assert result["reason"] == "COURSE_MLX_BLAS=off" and not result["fallback"]
    assert result["product"] == [[17.0], [39.0]]
    assert stderr == ""


def test_a_missing_library_falls_back_and_says_so_once():
    result, stderr = report(COURSE_MLX_BLAS="/no/such/libblas.so.3")
    assert result["library"] is None and result["provider"] is None and result["fallback"]
    assert result["reason"].startswith(
        "COURSE_MLX_BLAS=/no/such/libblas.so.3, but it does not load"
    )
    assert result["product"] == [[17.0], [39.0]]  # MLX still works, on its bundled BLAS
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"note: MLX uses {blas.BUNDLED}")


@needs_openblas
def test_mlx_binds_its_matmul_to_openblas_and_pytorch_keeps_its_own(tmp_path):
    """The loader's own log: MLX's cblas_sgemm comes from OpenBLAS; nothing of PyTorch or NumPy
    (loaded first) is bound to OpenBLAS."""
    code = (
        "import torch, week6_optimizations.mlx_port, mlx.core as mx\n"
        "torch.ones(4, 4) @ torch.ones(4, 4)\n"
        "mx.eval(mx.ones((4, 4)) @ mx.ones((4, 4)))\n"
    )
    log = tmp_path / "ld"
    run_python(code, LD_DEBUG="bindings", LD_DEBUG_OUTPUT=str(log))
    bindings = [
        line.split("binding file ", 1)[1]
        for path in tmp_path.glob("ld.*")
        for line in path.read_text(errors="replace").splitlines()
        if "binding file " in line
    ]
    openblas = os.path.realpath(OPENBLAS)
    mlx_sgemm = [b for b in bindings if "libmlx.so" in b.split(" to ")[0] and "`cblas_sgemm'" in b]
    assert mlx_sgemm and all(openblas == target(b) for b in mlx_sgemm)
    bound_to_openblas = {
        os.path.realpath(b.split(" [")[0]) for b in bindings if target(b) == openblas
    }
    assert not {path for path in bound_to_openblas if "/torch/" in path or "/numpy" in path}


def target(binding: str) -> str:
    """'A [0] to B [0]: normal symbol `x'' -> B, resolved."""
    return os.path.realpath(binding.split(" to ", 1)[1].split(" [")[0])


@needs_openblas
def test_openblas_and_the_bundled_blas_agree_to_float32_rounding():
    code = (
        "import json, week6_optimizations.mlx_port, mlx.core as mx\n"
        "mx.random.seed(0)\n"
        "a, b = mx.random.normal((96, 160)), mx.random.normal((160, 80))\n"
        "print(json.dumps((a @ b).tolist()))\n"
    )
    fast = np.array(json.loads(run_python(code).stdout))
    reference = np.array(json.loads(run_python(code, COURSE_MLX_BLAS="off").stdout))
    assert fast.shape == (96, 80)
    np.testing.assert_allclose(fast, reference, rtol=0, atol=2e-5)


def test_mlx_imported_first_is_too_late_and_said_so():
    code = "import mlx.core\n" + REPORT
    result = json.loads(run_python(code).stdout)
    assert result["library"] is None and result["fallback"]
    assert result["reason"] == "MLX was imported before the port chose its BLAS"


@needs_openblas
def test_a_blas_already_global_is_what_mlx_uses_and_is_reported():
    result, stderr = report(LD_PRELOAD=str(OPENBLAS), COURSE_MLX_BLAS="off")
    assert result["library"] == OPENBLAS == result["provider"]
    assert result["reason"] == "already in the global scope" and not result["fallback"]
    assert stderr == ""


# In this process the choice is made already; the undecorated function shows each other path.
choose = blas.use_fast_blas.__wrapped__


@pytest.fixture
def before_mlx(monkeypatch):
    """This process as it was before the port chose: MLX not imported, no global CBLAS."""
    monkeypatch.delitem(sys.modules, "mlx.core")
    monkeypatch.setattr(blas, "global_provider", lambda symbol=blas.SYMBOL: None)
    monkeypatch.delenv(blas.BLAS_ENV, raising=False)


def test_each_fallback_is_a_choice_never_an_error(monkeypatch, tmp_path, before_mlx):
    monkeypatch.setenv(blas.BLAS_ENV, " OFF ")
    assert choose() == blas.BlasChoice(None, "COURSE_MLX_BLAS=off")
    not_a_library = tmp_path / "libblas.so.3"
    not_a_library.write_text("not a shared object")
    monkeypatch.setenv(blas.BLAS_ENV, str(not_a_library))
    assert choose().fallback and "does not load" in choose().reason
    monkeypatch.setenv(blas.BLAS_ENV, "libm.so.6")  # loads, but is no BLAS
    assert choose() == blas.BlasChoice(
        None, "COURSE_MLX_BLAS=libm.so.6, but it has no cblas_sgemm", fallback=True
    )
    monkeypatch.delenv(blas.BLAS_ENV)
    monkeypatch.setattr(blas, "openblas_candidates", lambda: [str(tmp_path / "missing.so.0")])
    choice = choose()
    assert choice.library is None and choice.fallback and blas.INSTALL_HINT in choice.reason
    assert choice.describe() == f"{blas.BUNDLED} ({choice.reason})"


def test_what_is_bound_already_is_reported(monkeypatch, before_mlx):
    monkeypatch.setattr(blas, "global_provider", lambda symbol=blas.SYMBOL: "/opt/libblas.so.3")
    assert choose() == blas.BlasChoice("/opt/libblas.so.3", "already in the global scope")
    monkeypatch.setattr(blas, "global_provider", lambda symbol=blas.SYMBOL: None)
    monkeypatch.setitem(sys.modules, "mlx.core", mx)
    assert choose() == blas.BlasChoice(
        None, "MLX was imported before the port chose its BLAS", fallback=True
    )


def test_nothing_is_loaded_off_linux_or_without_mlx(monkeypatch, before_mlx):
    monkeypatch.setattr(sys, "platform", "darwin")
    assert choose() == blas.BlasChoice(None, "not Linux: MLX uses the platform's BLAS")
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setitem(sys.modules, "mlx.core", None)  # makes `import mlx.core` fail
    assert not blas.mlx_installed()
    assert choose() == blas.BlasChoice(None, "MLX is not installed")


def test_this_process_reports_what_mlx_multiplies_with(capsys):
    choice = blas.use_fast_blas()
    assert choice is blas.use_fast_blas()
    if choice.library is not None:
        assert blas.global_provider() == choice.library
    assert blas.global_provider("no_such_symbol_anywhere") is None
    require_mlx()
    require_mlx()
    said = capsys.readouterr().err
    assert said.count("note:") <= 1
