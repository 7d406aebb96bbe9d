"""MLX on Linux: give MLX's CPU backend a fast BLAS before MLX loads.

Every matrix product of an MLX model on a CPU is one call, `cblas_sgemm`, into a BLAS library.
The `mlx[cpu]` wheel for Linux bundles netlib's reference BLAS (`mlx_cpu.libs/libblas-*.so`),
the textbook triple loop: correct, and many times slower than an optimized BLAS such as
OpenBLAS, which multiplies in cache-sized blocks with the CPU's vector instructions.

The fix is the dynamic loader's search order. When `import mlx.core` loads `libmlx.so`, each
name it needs (`cblas_sgemm`, `sgetrf_`, ...) is looked up first in the process's global scope
and only then among libmlx's own libraries, once, at load time (libmlx is linked "bind now").
So a BLAS loaded into the global scope *before* MLX is imported answers MLX's calls:

    ctypes.CDLL("/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0", os.RTLD_GLOBAL)
    import mlx.core    # its cblas_sgemm is now OpenBLAS's

The same product gives the same result up to float32 rounding (the sums are added in another
order). Two traps, both handled here:

- Too late is too late: after `import mlx.core` the names are bound; loading OpenBLAS then
  changes nothing. The port's package runs `use_fast_blas()` first, before any of its modules
  imports MLX.
- The global scope is shared: a library loaded after OpenBLAS would take OpenBLAS's names
  too (PyTorch's own BLAS entry points `sgemm_`, ... and NumPy's OpenBLAS kernels). So PyTorch
  and NumPy are imported first, keeping their own BLAS. (`LD_PRELOAD` does the same trick for
  the whole process, PyTorch included: avoid it here.)

The choice: the environment variable `COURSE_MLX_BLAS` (`off`: keep the bundled BLAS; a path:
that library), otherwise the first OpenBLAS found at the usual system places (Debian, Ubuntu:
`apt-get install libopenblas0-pthread`). Never on macOS, where MLX uses Apple's Accelerate. A
missing or broken library is never an error: MLX keeps its bundled BLAS and `require_mlx()` says
so once. OpenBLAS is set to one thread unless `OPENBLAS_NUM_THREADS` says otherwise: on a
small, shared CPU a second thread made steps slower, not faster (README: "MLX on Linux").
"""

from __future__ import annotations

import ctypes
import functools
import importlib.util
import os
import sys
import sysconfig
from dataclasses import dataclass

import numpy  # noqa: F401  (loaded before OpenBLAS: NumPy keeps its own BLAS)
import torch  # noqa: F401  (loaded before OpenBLAS: PyTorch keeps its own BLAS)

BLAS_ENV = "COURSE_MLX_BLAS"
BUNDLED = "MLX's bundled reference BLAS"
SYMBOL = "cblas_sgemm"  # the one function MLX's CPU matmul calls
INSTALL_HINT = "apt-get install libopenblas0-pthread"


@dataclass(frozen=True)
class BlasChoice:
    """Which BLAS MLX's CPU backend uses in this process, and why."""

    library: str | None  # the file loaded into the global scope; None: the bundled BLAS
    reason: str  # one line a learner can act on
    fallback: bool = False  # True when a faster BLAS was wanted and is not in use

    def describe(self) -> str:
        """One line for a report (the bench's notes, an environment check): which BLAS, and why."""
        name = self.library or BUNDLED
        return f"{name} ({self.reason})"


def openblas_candidates() -> list[str]:
    """OpenBLAS at its usual places: Debian/Ubuntu's (checked), then the plain library folders."""
    multiarch = sysconfig.get_config_var("MULTIARCH") or f"{os.uname().machine}-linux-gnu"
    return [
        f"/usr/lib/{multiarch}/openblas-pthread/libopenblas.so.0",
        f"/usr/lib/{multiarch}/libopenblas.so.0",
        "/usr/lib64/libopenblas.so.0",
        "/usr/lib/libopenblas.so.0",
    ]


def mlx_installed() -> bool:
    """True when `mlx.core` can be found, without importing (and so binding) it."""
    try:
        return importlib.util.find_spec("mlx.core") is not None
    except (ImportError, ValueError):
        return False


@functools.cache
def use_fast_blas() -> BlasChoice:
    """Load an optimized BLAS into the global scope, once per process, before MLX is imported;
    returns the choice (the same one on every later call)."""
    if sys.platform != "linux":
        return BlasChoice(None, "not Linux: MLX uses the platform's BLAS")
    if not mlx_installed():
        return BlasChoice(None, "MLX is not installed")
    provider = global_provider()
    if provider is not None:  # LD_PRELOAD, or a load before this one: MLX binds to it
        return BlasChoice(provider, "already in the global scope")
    if "mlx.core" in sys.modules:
        return BlasChoice(None, "MLX was imported before the port chose its BLAS", fallback=True)
    setting = os.environ.get(BLAS_ENV, "").strip()
    if setting.lower() == "off":
        return BlasChoice(None, f"{BLAS_ENV}=off")
    if setting:
        return load_global(setting, f"{BLAS_ENV}={setting}")
    found = [path for path in openblas_candidates() if os.path.exists(path)]
    if not found:
        return BlasChoice(None, f"no OpenBLAS found; {INSTALL_HINT} for faster steps", True)
    return load_global(found[0], "OpenBLAS found")


def load_global(path: str, why: str) -> BlasChoice:
    """Open `path`, check that it is a CBLAS, then make its names global (dlopen promotes a
    library opened locally when it is opened again with RTLD_GLOBAL)."""
    try:
        library = ctypes.CDLL(path, mode=os.RTLD_LOCAL)
    except OSError as error:
        return BlasChoice(None, f"{why}, but it does not load ({error})", fallback=True)
    if not hasattr(library, SYMBOL):
        return BlasChoice(None, f"{why}, but it has no {SYMBOL}", fallback=True)
    ctypes.CDLL(path, mode=os.RTLD_GLOBAL)
    threads = set_threads(library)
    return BlasChoice(path, f"{why}, {threads}")


def set_threads(library: ctypes.CDLL) -> str:
    """One OpenBLAS thread unless OPENBLAS_NUM_THREADS is set (which OpenBLAS reads itself)."""
    if not hasattr(library, "openblas_set_num_threads"):
        return "threads as the library sets them"
    if "OPENBLAS_NUM_THREADS" not in os.environ:
        library.openblas_set_num_threads(1)
    count = library.openblas_get_num_threads()
    return f"{count} thread" + ("s" if count != 1 else "")


class _DlInfo(ctypes.Structure):
    _fields_ = [
        ("dli_fname", ctypes.c_char_p),
        ("dli_fbase", ctypes.c_void_p),
        ("dli_sname", ctypes.c_char_p),
        ("dli_saddr", ctypes.c_void_p),
    ]


def global_provider(symbol: str = SYMBOL) -> str | None:
    """The file of the library that answers `symbol` in the global scope, where the loader looks
    first (so the one MLX binds to); None when no library there has it (the bundled one)."""
    process = ctypes.CDLL(None)  # dlopen(NULL): lookups search the whole global scope
    if not hasattr(process, symbol) or not hasattr(process, "dladdr"):
        return None
    info = _DlInfo()
    address = ctypes.cast(getattr(process, symbol), ctypes.c_void_p)
    if not process.dladdr(address, ctypes.byref(info)) or not info.dli_fname:
        return None
    return os.fsdecode(info.dli_fname)


@functools.cache
def announce_fallback() -> None:
    """Say once per process, on stderr, when MLX runs on its slow bundled BLAS though a faster
    one was wanted (the run still works, only slower)."""
    choice = use_fast_blas()
    if choice.fallback:
        sys.stderr.write(f"note: MLX uses {BUNDLED}, many times slower: {choice.reason}\n")
