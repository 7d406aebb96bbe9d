"""The course GPT in MLX, Apple's array framework: same model, second framework.

    from week6_optimizations.mlx_port import train_mlx, sample_mlx
    run_dir = train_mlx(load_config("configs/tiny_mlx.yaml"))
    text = sample_mlx(str(run_dir), "ROMEO:", max_new_tokens=100, seed=1)

Nothing here imports MLX at package import time, so `import week6_optimizations.mlx_port` works
on a machine without it; the entry points below call `require_mlx()` first, which says in one
line how to install it. Importing this package also registers `mlx` as a training backend of
week 4 (`make train CFG=configs/tiny_mlx.yaml`, whose `run.backend` is mlx) and a sampling backend
of week 5 (`python -m week5_generation sample --backend mlx`). See README.md for the lesson.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from shared.config import Config
from week6_optimizations.mlx_port.availability import MLX_MISSING, mlx_available, require_mlx

__all__ = ["MLX_MISSING", "mlx_available", "require_mlx", "sample_mlx", "train_mlx"]


def train_mlx(config: Config, resume: bool | str | Path = False, overwrite: bool = False) -> Path:
    """Train `config` in MLX (see trainer.py); returns the run folder."""
    require_mlx()
    from week6_optimizations.mlx_port.trainer import train_mlx as train

    return train(config, resume=resume, overwrite=overwrite)


def sample_mlx(checkpoint: str | None = None, prompt: str | None = None, **settings: Any) -> str:
    """Generate in MLX from a checkpoint with week 5's settings (see sample.py)."""
    require_mlx()
    from week6_optimizations.mlx_port.sample import sample_mlx as sample

    return sample(checkpoint, prompt, **settings)


def sample_backend(args: argparse.Namespace) -> int:
    """`python -m week5_generation sample --backend mlx ...`"""
    require_mlx()
    from week6_optimizations.mlx_port.sample import sample_with_mlx

    return sample_with_mlx(args)


def train_backend(args: argparse.Namespace) -> int:
    """`python -m week4_training train --config X` when X says `run.backend: mlx`."""
    require_mlx()
    from week6_optimizations.mlx_port.cli import train_command

    return train_command(args)
