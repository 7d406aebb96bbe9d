"""Is MLX installed? One place that asks, and one clear line when the answer is no.

MLX is optional: it runs on Apple silicon (GPU, unified memory) and, slowly, on Linux CPUs
through the `mlx[cpu]` wheel. Code that needs it calls `require_mlx()` before importing
`mlx.core`, so a learner without it reads how to get it instead of an ImportError traceback.
"""

from __future__ import annotations

import importlib

from shared.errors import CourseError

MLX_MISSING = (
    "MLX is not installed; install it with `pip install 'mlx[cpu]'` on Linux "
    "or `pip install mlx` on macOS (Apple silicon), then run the command again"
)


def mlx_available() -> bool:
    """True when `import mlx.core` works in this interpreter."""
    try:
        importlib.import_module("mlx.core")
    except ImportError:
        return False
    return True


def require_mlx() -> None:
    """Raise a `CourseError` with `MLX_MISSING` (exit 2 from the CLI) unless MLX can be imported;
    on Linux, say once when MLX is left on its slow bundled BLAS (blas.py), or runs uncompiled
    because the system's C++ compiler cannot build its kernels (jit.py)."""
    if not mlx_available():
        raise CourseError(MLX_MISSING)
    from week6_optimizations.mlx_port.blas import announce_fallback
    from week6_optimizations.mlx_port.jit import check_kernel_compiler

    announce_fallback()
    check_kernel_compiler()
