"""Peak memory of a piece of work, measured by the operating system or the CUDA allocator.

Python's `tracemalloc` cannot see PyTorch's tensors (they are allocated in C++), so it would
report almost nothing. What this measures instead:

- CUDA: `torch.cuda.max_memory_allocated` after `reset_peak_memory_stats`: the peak bytes held
  by tensors, minus what was held before the work started.
- Linux CPU: the process's peak resident set size (VmHWM in /proc/self/status), reset to the
  current size first by writing "5" to /proc/self/clear_refs, minus the resident size at that
  moment. It counts everything the process touched (tensors, allocator slack, buffers of the
  math library), so it is an upper bound on what the tensors needed; `malloc_trim` before the
  reset hands freed memory back to the system so one case's leftovers do not hide the next one's.
- Anywhere else: not measured (None), rather than a wrong number.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

_PROC = Path("/proc/self")


def _status_kib(field: str) -> int:
    for line in (_PROC / "status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise OSError(f"{field} not in /proc/self/status")


def _release_free_memory() -> None:
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to trim
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def rss_peak_supported() -> bool:
    """True where the peak resident size can be reset (Linux 4.0 and later)."""
    try:
        (_PROC / "clear_refs").write_text("5")
        _status_kib("VmHWM")
    except OSError:  # pragma: no cover - not Linux
        return False
    return True


def peak_memory_mb(work: Callable[[], Any], device: torch.device) -> tuple[float | None, str]:
    """Run `work()` once; return (peak extra memory in MB or None, what was measured)."""
    if device.type == "cuda":  # pragma: no cover - needs a GPU
        torch.cuda.synchronize(device)
        before = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        work()
        torch.cuda.synchronize(device)
        return (torch.cuda.max_memory_allocated(device) - before) / 2**20, "CUDA peak allocated"
    if not rss_peak_supported():  # pragma: no cover - not Linux
        work()  # the work is done all the same: callers time it, or warm up with it
        return None, "n/a: peak RSS needs Linux /proc/self/clear_refs"
    _release_free_memory()
    (_PROC / "clear_refs").write_text("5")
    before = _status_kib("VmRSS")
    work()
    return (_status_kib("VmHWM") - before) / 1024, "peak RSS growth"
