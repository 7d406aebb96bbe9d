"""The environment report of `make env`: is everything the course needs here, and what hardware?

A learner runs this first. It names every library's version, the CPU cores and the threads
PyTorch will use, each accelerator that is present (a CUDA GPU and whether it does bfloat16,
Apple's MPS, MLX and its default device), and the device the course will pick. A missing
required library is reported by name and makes the command exit non-zero.
"""

from __future__ import annotations

import importlib
import os
import platform
import sys
from dataclasses import dataclass, field

REQUIRED = ["torch", "numpy", "regex", "yaml", "tqdm", "matplotlib", "safetensors"]
OPTIONAL = ["mlx"]  # Apple silicon, or `mlx[cpu]` on Linux; the rest of the course runs without it


@dataclass
class Report:
    lines: list[tuple[str, str]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    def add(self, name: str, value: str) -> None:
        self.lines.append((name, value))

    def render(self) -> str:
        width = max(len(name) for name, _ in self.lines)
        return "\n".join(f"{name:<{width}}  {value}" for name, value in self.lines)


def _version(module_name: str) -> str | None:
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return None
    if module_name == "mlx":
        module = importlib.import_module("mlx.core")
    return str(getattr(module, "__version__", "installed"))


def _accelerators(report: Report) -> None:
    import torch

    from shared.device import autocast_dtypes, pick_device

    if torch.cuda.is_available():
        name = torch.cuda.get_device_name(0)
        bf16 = "yes" if torch.cuda.is_bf16_supported() else "no"
        report.add("cuda", f"{name} (bfloat16: {bf16})")
    else:
        report.add("cuda", "not available")
    mps = getattr(torch.backends, "mps", None)
    report.add("mps", "available" if mps and mps.is_available() else "not available")
    try:
        import mlx.core as mx

        report.add("mlx device", str(mx.default_device()))
    except ImportError:
        report.add("mlx device", "mlx not installed (optional: pip install 'mlx[cpu]' on Linux)")
    device = pick_device("auto")
    report.add("course device", f"{device} (autocast dtypes: {', '.join(autocast_dtypes(device))})")


def environment_report() -> Report:
    """Collect the report; `Report.missing` lists required libraries that are not installed."""
    report = Report()
    report.add("python", f"{platform.python_version()} ({sys.executable})")
    report.add("platform", platform.platform())
    for name in REQUIRED + OPTIONAL:
        version = _version(name)
        if version is None and name in REQUIRED:
            report.missing.append(name)
        report.add(name, version or ("MISSING" if name in REQUIRED else "not installed"))
    report.add("cpu cores", str(os.cpu_count()))
    if "torch" not in report.missing:
        import torch

        report.add("torch threads", str(torch.get_num_threads()))
        _accelerators(report)
    return report
