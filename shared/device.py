"""Choosing a device, knowing what it can do, and seeding every random number generator.

The course runs everywhere: `pick_device("auto")` takes a CUDA GPU if there is one, else Apple's
MPS, else the CPU. Mixed precision (autocast) depends on the device: CUDA does float16 and, on
Ampere and newer, bfloat16; the CPU does bfloat16 (fast where the processor has AVX-512 BF16 or
AMX) and float16; MPS does float16 and, on recent macOS, bfloat16.
"""

from __future__ import annotations

import random
from contextlib import AbstractContextManager, nullcontext

import numpy as np
import torch

from shared.errors import CourseError

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())


def pick_device(preferred: str = "auto") -> torch.device:
    """`auto` means cuda > mps > cpu; a named device must be available or it is an error."""
    if preferred == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    kind = preferred.split(":")[0]
    available = {"cpu": True, "cuda": torch.cuda.is_available(), "mps": _mps_available()}
    if kind not in available:
        raise CourseError(f"device {preferred!r}: allowed are auto, cpu, cuda, cuda:N, mps")
    if not available[kind]:
        raise CourseError(f"device {preferred!r} is not available on this machine; use auto or cpu")
    return torch.device(preferred)


def autocast_dtypes(device: torch.device) -> list[str]:
    """The dtypes autocast supports on `device`, float32 (no autocast) always first."""
    supported = ["float32"]
    if device.type == "cuda":
        if torch.cuda.is_bf16_supported():
            supported.append("bfloat16")
        supported.append("float16")
    elif device.type in ("cpu", "mps"):
        supported += ["bfloat16", "float16"]
    return supported


def autocast(device: torch.device, dtype: str) -> AbstractContextManager:
    """An autocast context for `dtype` on `device`; float32 means no autocast at all."""
    if dtype not in DTYPES:
        raise CourseError(f"dtype {dtype!r}: allowed are {', '.join(DTYPES)}")
    if dtype == "float32":
        return nullcontext()
    if dtype not in autocast_dtypes(device):
        raise CourseError(f"dtype {dtype!r} is not supported by autocast on {device.type}")
    return torch.autocast(device_type=device.type, dtype=DTYPES[dtype])


def _cpu_has(feature: str) -> bool:
    """Whether PyTorch's CPU build found `feature` (avx512_bf16, amx_tile, amx_fp16) on this
    processor; False where this PyTorch cannot tell."""
    probe = getattr(torch.cpu, f"_is_{feature}_supported", None)
    return bool(probe and probe())


def slow_precision_note(device: torch.device, dtype: str) -> str | None:
    """One line for the start of a run when `dtype` is known to train slower than float32 here.

    A CPU without AVX-512 BF16 or AMX has no bfloat16 arithmetic: autocast converts every
    operand to float32 and back, and the conversions are pure overhead. Measured on an AMD EPYC
    with AVX2 only (2 cores): configs/tiny.yaml took 3.7 s per step in bfloat16, 0.40 s in
    float32. The same holds for float16 without AMX-FP16. None where the dtype is native.
    """
    if device.type != "cpu" or dtype == "float32":
        return None
    native = _cpu_has("avx512_bf16") or _cpu_has("amx_tile")
    if dtype == "float16":
        native = _cpu_has("amx_fp16")
    if native:
        return None
    return (
        f"note: this CPU has no native {dtype} arithmetic (capability "
        f"{torch.backends.cpu.get_cpu_capability()}): autocast emulates it, often several times "
        f"slower than float32; train.dtype=float32 trains faster to nearly the same losses"
    )


def seed_everything(seed: int) -> None:
    """Seed Python's `random`, NumPy, PyTorch (all devices) and MLX (if installed) from one seed."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    try:
        import mlx.core as mx
    except ImportError:  # MLX is optional: Linux CPU wheels or Apple silicon only
        return
    mx.random.seed(seed)
