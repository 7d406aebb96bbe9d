"""The course GPT in MLX, Apple's array framework: same model, second framework.

    from week6_optimizations.mlx_port import train_mlx, sample_mlx
    run_dir = train_mlx(load_config("configs/tiny_mlx.yaml"))
    text = sample_mlx(str(run_dir), "ROMEO:", max_new_tokens=100, seed=1)

Nothing here imports MLX at package import time, so `import week6_optimizations.mlx_port` works
on a machine without it; the entry points below call `require_mlx()` first, which says in one
line how to install it. `train_backend` is week 4's `mlx` training backend (the
`tiny_gpt.training_backend` table in pyproject.toml): `make train CFG=configs/tiny_mlx.yaml`,
whose `run.backend` is mlx, trains with week 4's loop and this port's steps (trainer.py).
`sample_backend` is week 5's `mlx` sampling backend (`python -m week5_generation sample
--backend mlx`). See README.md for the lesson.

On Linux this package first puts an optimized BLAS (OpenBLAS) where MLX will find it, before any
of its modules imports MLX: blas.py (MLX's own wheel brings a slow reference BLAS).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shared.config import Config
from week6_optimizations.mlx_port.availability import MLX_MISSING, mlx_available, require_mlx
from week6_optimizations.mlx_port.blas import use_fast_blas

use_fast_blas()  # before any module of the port imports MLX (none above does): see blas.py

if TYPE_CHECKING:
    from week4_training.backend import RunSetup, SavedState, TrainingBackend
    from week4_training.parallel import SingleProcess

__all__ = ["MLX_MISSING", "mlx_available", "require_mlx", "sample_mlx", "train_mlx"]


class MLXTraining:
    """Week 4's training loop in MLX: a `Framework` of week 4's backend protocol, whose parts
    live in trainer.py (imported, with MLX, only when a run asks for them)."""

    last_file = "last.safetensors"  # checkpoint.LAST_WEIGHTS (that module imports MLX)

    def check(self, cfg: Config, parallel: SingleProcess) -> None:
        require_mlx()
        from week6_optimizations.mlx_port.trainer import check_config

        check_config(cfg)

    def read_last(self, run_dir: Path) -> SavedState:
        require_mlx()
        from week6_optimizations.mlx_port.trainer import read_last

        return read_last(run_dir)

    def build(self, setup: RunSetup, saved: SavedState | None) -> TrainingBackend:
        from week6_optimizations.mlx_port.trainer import MLXBackend

        return MLXBackend(setup, saved)


train_backend = MLXTraining()  # `run.backend: mlx`


def train_mlx(config: Config, resume: bool | str | Path = False, overwrite: bool = False) -> Path:
    """Train `config` in MLX as `make train` does (week 4's loop and report); returns the run
    folder (after a Ctrl-C, holding the state to resume). `resume`: True (the config's run
    folder) or a run folder to continue."""
    require_mlx()
    from week4_training.cli import run_training
    from week4_training.parallel import SingleProcess
    from week4_training.trainer import run_folder

    folder = None
    if resume:
        folder = run_folder(config) if resume is True else Path(resume)
    run_training(
        config,
        resume=folder,
        overwrite=overwrite,
        framework=train_backend,
        parallel=SingleProcess(),
    )
    return run_folder(config, folder)


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
