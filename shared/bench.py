"""Measuring speed honestly: warm up, repeat, take the median, compare within one run.

A single timing is noise (caches, frequency scaling, the other process on the machine). The
course's benchmarks run a piece of work a few times untimed (warm-up), then `repeats` times
timed, and report the median. Speed-ups are ratios against a baseline measured in the same run
on the same machine, never against a number remembered from elsewhere.
"""

from __future__ import annotations

import gc
import os
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any


def median_seconds(work: Callable[[], Any], repeats: int = 5, warmup: int = 1) -> float:
    """Median wall-clock seconds of `work()` over `repeats` timed calls after `warmup` calls."""
    for _ in range(warmup):
        work()
    times = []
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def machine_description() -> dict[str, Any]:
    """What the numbers were measured on: processor, cores, Python and library versions."""
    import numpy
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
    }
