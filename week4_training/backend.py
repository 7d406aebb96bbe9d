"""What a framework supplies to the training loop: the backend protocol.

The loop (trainer.py) is the same whatever computes the gradients: when to evaluate, which
checkpoint is the best, the metrics rows, progress and timing, Ctrl-C, resume, samples and plots
at the end. What depends on the framework's arrays and autograd is a *backend*:

    build          the model and optimizer, fresh from the config or restored from a checkpoint
    train_step     one optimizer step at a learning rate: forward and backward over the
                   micro-batches, clipping, the update; returns the numbers the loop logs
    evaluate       the validation figures of the current weights (evaluate.py's exact walk, or
                   its estimate from a fixed subset of the windows)
    save           the last checkpoint, and the best one when the evaluation improved
    draw_samples   the text of samples.txt

A `Framework` is what `run.backend` names: it checks a config, reads a run's last checkpoint and
builds the backend. PyTorch's is `torch_backend.PYTORCH`; other frameworks are entries of the
`tiny_gpt.training_backend` table in pyproject.toml (week 6 adds MLX there).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from shared.config import Config
    from week2_tokenizer import Tokenizer
    from week4_training.data import BatchSampler, TokenData
    from week4_training.evaluate import EvalResult
    from week4_training.parallel import SingleProcess


@dataclass
class LoopState:
    """Where the loop stands. Every checkpoint stores these numbers; a resume starts from them."""

    step: int = 0  # optimizer updates done
    last_eval_step: int = -1  # the step of the latest evaluation (-1: none yet)
    best_val_loss: float = math.inf
    train_seconds: float = 0.0  # time in optimizer steps (evaluations and saving not counted)

    def record(self) -> dict[str, Any]:
        """The entries a checkpoint holds: step, last_eval_step, best_val_loss, train_seconds."""
        return asdict(self)

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> LoopState:
        return cls(
            step=int(record["step"]),
            last_eval_step=int(record["last_eval_step"]),
            best_val_loss=float(record["best_val_loss"]),
            train_seconds=float(record.get("train_seconds", 0.0)),
        )


@dataclass
class SavedState:
    """A run's last checkpoint as its framework read it (checked, before any slow work)."""

    path: Path  # the file: last.pt, or the other framework's last file
    record: dict[str, Any]  # config, tokenizer, the LoopState entries (and world_size)
    contents: Any  # what only the framework reads back: weights, optimizer moments, generators


@dataclass
class RunSetup:
    """What every backend trains with. The loop builds it the same way for all of them."""

    cfg: Config  # resolved: model.vocab_size is the tokenizer's
    run_dir: Path
    tokenizer: Tokenizer
    data: TokenData  # the train and validation splits
    sampler: BatchSampler  # the seeded training batches; its state is part of every checkpoint
    parallel: SingleProcess
    progress: bool  # show progress bars (rank 0 only)


class TrainingBackend(Protocol):
    """One run's model and optimizer in one framework (see the module docstring)."""

    last_path: Path  # the file `save` writes and a resume starts from

    def describe(self) -> str:
        """The line a training command prints first: the run, its size, where it trains."""
        ...

    def train_step(self, step: int, lr: float) -> dict[str, float]:
        """Optimizer step `step` + 1 at learning rate `lr`: {"loss": mean loss, "grad_norm":
        the norm before clipping, ...} (a NaN loss is the loop's to judge)."""
        ...

    def evaluate(self, max_windows: int | None = None) -> EvalResult:
        """Loss, perplexity and bits per byte of the current weights on the validation split:
        exact, or estimated from `max_windows` evenly spaced windows (evaluate.py)."""
        ...

    def save(self, state: LoopState, *, best: bool) -> None:
        """Write the last checkpoint (and the best one if `best`) holding `state`."""
        ...

    def draw_samples(self, step: int, n_tokens: int) -> str:
        """samples.txt: a header line, then `n_tokens` tokens of text from the trained model."""
        ...


class Framework(Protocol):
    """What `run.backend` names: a framework the loop can train with."""

    last_file: str  # the name of the last checkpoint in a run folder (last.pt for PyTorch)

    def check(self, cfg: Config, parallel: SingleProcess) -> None:
        """Refuse a config this framework cannot train, before any slow work."""
        ...

    def read_last(self, run_dir: Path) -> SavedState:
        """The run's last checkpoint, checked; a damaged one is one clear error."""
        ...

    def build(self, setup: RunSetup, saved: SavedState | None) -> TrainingBackend:
        """The model and optimizer of `setup`, restored from `saved` when resuming."""
        ...
