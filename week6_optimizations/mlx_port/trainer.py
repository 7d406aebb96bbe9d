"""Training in MLX: the MLX backend of week 4's training loop.

Week 4's `Trainer` runs the loop for every framework: the evaluation cadence, the best
checkpoint, the metrics rows, Ctrl-C and resume, samples and plots at the end (see
week4_training/trainer.py and backend.py). This file is MLX's half of it:

    build          MLXGPT(config) and AdamW in two groups (train_step.py); a resume loads
                   last.safetensors + last_state.npz (checkpoint.py); then the compiled step
    train_step     one step over grad_accum_steps micro-batches; `mx.eval` runs it
    evaluate       week 4's exact walk over the validation split, MLX forward passes
    save           checkpoint.safetensors (+ .pt) when best, last.safetensors + .npz always
    draw_samples   samples.txt's text from the trained model, at temperature 0.8

The rows have week 4's keys, so `make plot` draws torch and MLX runs side by side. Batches come
from week 4's `BatchSampler` (its own seeded generator), so an MLX run and a PyTorch run with the
same seed see the very same training windows.

`train.dtype`: float32, or bfloat16 with float32 master weights (precision.py: MLX has no
autocast, so the step casts the weights to bfloat16 for the forward and backward and AdamW
updates the float32 ones; evaluation runs in bfloat16 too, samples and checkpoints are float32).
float16 is refused: it needs week 4's loss scaling, which the port does not have.
`train.activation_checkpointing: true` is refused as well: the port keeps every activation.

`train.compile: true` runs the step through `mx.compile` (on Apple silicon it is cheap; with the
Linux CPU wheel the first call JIT-compiles C++ kernels, tens of seconds, cached in /tmp/mlx).

Lazy evaluation in a step: the compiled step only *records* work; `mx.eval(loss, norm)` runs
it. Without that line the graph would grow step after step and nothing would be computed.
"""

from __future__ import annotations

from pathlib import Path

import mlx.core as mx
import numpy as np

from shared.config import Config
from shared.errors import CourseError
from week4_training.backend import LoopState, RunSetup, SavedState
from week4_training.checkpoint import tokenizer_record
from week4_training.data import BatchSampler
from week4_training.evaluate import EvalResult
from week5_generation.sampling import SamplingSettings
from week6_optimizations.mlx_port.checkpoint import (
    LAST_WEIGHTS,
    load_last,
    restore_state,
    save_best,
    save_last,
)
from week6_optimizations.mlx_port.convert import load_weights_into
from week6_optimizations.mlx_port.evaluate import evaluate_mlx
from week6_optimizations.mlx_port.model import MLXGPT
from week6_optimizations.mlx_port.precision import compute_dtype
from week6_optimizations.mlx_port.sampling import generate_ids
from week6_optimizations.mlx_port.train_step import make_optimizer, make_train_step

SAMPLES = SamplingSettings(temperature=0.8)  # samples.txt's settings, as week 4's


def check_config(cfg: Config) -> None:
    """What the MLX port cannot train, refused before any slow work."""
    compute_dtype(cfg.train.dtype)  # float32 or bfloat16
    if cfg.train.optimizer != "adamw":
        raise CourseError(
            f"train.optimizer: the MLX port trains with adamw, got {cfg.train.optimizer!r}; "
            "set train.optimizer=adamw"
        )
    if cfg.train.activation_checkpointing:
        raise CourseError(
            "train.activation_checkpointing: the MLX port keeps every activation for backward "
            "(it does not recompute blocks), got true; set train.activation_checkpointing=false"
        )


def read_last(run_dir: Path) -> SavedState:
    """last.safetensors (weights; its metadata is the record) and last_state.npz, checked."""
    weights, metadata, state = load_last(run_dir)
    return SavedState(path=run_dir / LAST_WEIGHTS, record=metadata, contents=(weights, state))


def stacked_batches(sampler: BatchSampler, k: int) -> tuple[mx.array, mx.array]:
    """k micro-batches from week 4's sampler as (k, B, T) int32 MLX arrays."""
    import torch

    pairs = [sampler.next_batch(torch.device("cpu")) for _ in range(k)]
    xs = np.stack([x.numpy() for x, _ in pairs]).astype(np.int32)
    ys = np.stack([y.numpy() for _, y in pairs]).astype(np.int32)
    return mx.array(xs), mx.array(ys)


def dropout_seed(run_seed: int, step: int) -> int:
    """The seed of step `step`'s dropout masks: a pure function of the step, so a resumed run
    draws the masks the uninterrupted run drew. (MLX 0.32 can reseed its global key but offers
    no way to set it back to a saved key, so the key is never saved.)"""
    return (run_seed * 1_000_003 + step) % 2**63


class MLXBackend:
    """An MLXGPT and its AdamW, trained by week 4's loop (a `TrainingBackend` of week 4)."""

    def __init__(self, setup: RunSetup, saved: SavedState | None) -> None:
        train = setup.cfg.train
        self.setup = setup
        self.last_path = setup.run_dir / LAST_WEIGHTS
        self.model = MLXGPT(setup.cfg.model)
        self.dtype = compute_dtype(train.dtype)
        self.optimizer = make_optimizer(
            lr=train.lr, weight_decay=train.weight_decay, betas=(train.beta1, train.beta2)
        )
        if saved is not None:
            self._restore(saved)
        # Compiled last: it captures the state containers as they are now (restored ones too).
        self.train_step_fn = make_train_step(
            self.model, self.optimizer, train.grad_clip, compile=train.compile, dtype=self.dtype
        )

    def _restore(self, saved: SavedState) -> None:
        weights, state = saved.contents
        load_weights_into(self.model, weights, saved.path)
        self.optimizer.init(self.model.trainable_parameters())
        restore_state(state, self.optimizer, self.setup.sampler, self.model.trainable_parameters())

    def describe(self) -> str:
        setup = self.setup
        return (
            f"run {setup.run_dir} (mlx, {mx.default_device()}, {setup.cfg.train.dtype}): "
            f"{self.model.num_parameters() / 1e6:.2f}M parameters, tokenizer vocab "
            f"{setup.tokenizer.vocab_size}, {len(setup.data.train.tokens):,} training tokens"
        )

    def train_step(self, step: int, lr: float) -> dict[str, float]:
        self.optimizer.learning_rate = lr
        mx.random.seed(dropout_seed(self.setup.cfg.run.seed, step))
        xs, ys = stacked_batches(self.setup.sampler, self.setup.cfg.train.grad_accum_steps)
        loss, norm = self.train_step_fn(xs, ys)
        mx.eval(loss, norm)  # lazy until here: this line runs the step
        return {"loss": float(loss), "grad_norm": float(norm)}

    def evaluate(self, max_windows: int | None = None) -> EvalResult:
        setup = self.setup
        return evaluate_mlx(
            self.model,
            setup.data.val,
            block_size=setup.cfg.model.block_size,
            batch_size=setup.cfg.train.batch_size,
            progress=setup.progress,
            max_windows=max_windows,
            dtype=self.dtype,
        )

    def save(self, state: LoopState, *, best: bool) -> None:
        setup = self.setup
        metadata = {
            **state.record(),
            "config": setup.cfg.to_dict(),
            "tokenizer": tokenizer_record(setup.tokenizer),
        }
        if best:
            save_best(setup.run_dir, self.model, metadata)
        save_last(setup.run_dir, self.model, self.optimizer, setup.sampler, metadata)

    def draw_samples(self, step: int, n_tokens: int) -> str:
        """From the trained (last) weights, with run.seed, as week 4's settings say."""
        eot = self.setup.tokenizer.eot_id
        prompt = [eot if eot is not None else 0]
        seed = self.setup.cfg.run.seed
        ids = list(generate_ids(self.model, prompt, n_tokens, SAMPLES, seed=seed))
        header = f"# step {step}, temperature 0.8, {len(ids)} tokens (mlx)"
        return f"{header}\n{self.setup.tokenizer.decode(ids)}\n"
