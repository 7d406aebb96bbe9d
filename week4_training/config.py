"""The `train` section of a run config: how long, how fast and in what precision to train.

    train:
      batch_size: 12          # sequences per micro-batch
      grad_accum_steps: 1     # micro-batches per optimizer step
      max_iters: 2000         # optimizer steps
      lr: 1.0e-3              # peak learning rate, reached after warmup
      min_lr: 1.0e-4          # the floor the cosine decays to
      warmup_iters: null      # null (or left out): 5% of max_iters, e.g. 100 of 2000
      lr_decay_iters: null    # the step where the cosine reaches min_lr; null: max_iters
      weight_decay: 0.1
      beta1: 0.9
      beta2: 0.99
      grad_clip: 1.0          # 0 turns clipping off
      eval_interval: 250      # evaluate on the validation split every this many steps
      eval_iters: null        # null: the whole split each time; N: estimate from N batches of
                              # fixed windows in between, the whole split at the end
      log_interval: 10        # write a metrics row every this many steps
      dtype: float32          # float32 | bfloat16 | float16 (autocast; float16 adds a GradScaler)
      compile: false          # torch.compile the model
      activation_checkpointing: false  # recompute each block in backward (checkpointing.py)
      optimizer: adamw        # a name in week 4's OPTIMIZER table (optim.py): adamw; week 6: muon
      muon_lr: 0.02           # week 6's muon: the peak rate of the block matrices
      muon_momentum: 0.95     # week 6's muon: the momentum of its Nesterov update
      muon_ns_steps: 5        # week 6's muon: Newton-Schulz iterations per update

Tokens per optimizer step = batch_size x grad_accum_steps x model.block_size, per process: a
multi-process run (week 6) takes world_size times as many, batch_size being per process.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from shared.config import check
from week3_model.config import check_registered
from week4_training.optim import OPTIMIZER

# A warm-up left unset is 1/20 (5%) of the run: 100 steps of a 2000-step run, as nanoGPT's.
WARMUP_DIVISOR = 20


@dataclass
class TrainConfig:
    """Optimisation and bookkeeping of a training run.

    batch_size: sequences of `model.block_size` tokens in one micro-batch (and one evaluation
        batch) of one process; with several processes the global batch is
        batch_size x grad_accum_steps x world_size sequences.
    grad_accum_steps: micro-batches whose gradients are summed before one optimizer step; each
        micro-loss is divided by this number, so the step sees the mean over all of them.
    max_iters: the number of optimizer steps of the whole run.
    lr: the peak learning rate, reached at the end of warmup.
    min_lr: the learning rate the cosine decays to, and keeps after `lr_decay_iters`.
    warmup_iters: steps of linear warmup from lr/warmup_iters up to lr (0 = no warmup). Left
        out, it follows the run's length: 5% of max_iters (rounded down).
    lr_decay_iters: the step at which the cosine decay reaches `min_lr`. Left out, max_iters:
        the run ends as the decay does, however short the run.
    Both are resolved into numbers when the config is built, so a run's config.yaml (and a
    resumed run) keeps the schedule the run started with.
    weight_decay: AdamW's decoupled weight decay, applied to matrices only (dim >= 2).
    beta1, beta2: AdamW's moving-average factors for the gradient and its square.
    grad_clip: the largest allowed global gradient norm; larger gradients are scaled down.
        0 turns clipping off.
    eval_interval: evaluate on the validation split every this many steps (and at the end).
    eval_iters: None (or left out): every evaluation walks the whole validation split (exact).
        A number: the evaluations before the last are estimates from eval_iters batches of
        batch_size windows, evenly spaced over the split and the same each time (nanoGPT's
        eval_iters, without its fresh random draw); the final evaluation is still the whole
        split. Metrics rows say which they hold (`val_exact`).
    log_interval: write a training row to metrics.jsonl every this many steps.
    dtype: the autocast precision: float32 (none), bfloat16, or float16 (with a GradScaler).
    compile: wrap the model in `torch.compile` (needs a C++ compiler on CPU; minutes to warm up).
    activation_checkpointing: keep only each Block's input during the forward pass and recompute
        the Block's activations in the backward pass (checkpointing.py): the same loss and
        gradients, much less activation memory, one more forward pass per step.
    sample_tokens: how many tokens of text the run writes to samples.txt at the end (0 = none).
    optimizer: the entry of the OPTIMIZER table (optim.py) that builds the optimizer: `adamw`
        (this week: AdamW in two groups) or a later week's (week 6: `muon`). The schedule scales
        every group's rate: lr(step) x the group's peak / lr.
    muon_lr, muon_momentum, muon_ns_steps: week 6's Muon (`optimizer: muon`), which updates the
        blocks' matrices with orthogonalised Nesterov momentum (the rest keeps AdamW at lr):
        their peak learning rate (0.02, the published default), the momentum (0.95) and the
        Newton-Schulz iterations per step (5). Ignored by adamw.
    """

    batch_size: int = 12
    grad_accum_steps: int = 1
    max_iters: int = 2000
    lr: float = 1e-3
    min_lr: float = 1e-4
    warmup_iters: int | None = None
    lr_decay_iters: int | None = None
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.99
    grad_clip: float = 1.0
    eval_interval: int = 250
    eval_iters: int | None = None
    log_interval: int = 10
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    compile: bool = False
    activation_checkpointing: bool = False
    sample_tokens: int = 300
    optimizer: str = "adamw"
    muon_lr: float = 0.02
    muon_momentum: float = 0.95
    muon_ns_steps: int = 5

    def __post_init__(self) -> None:
        if self.warmup_iters is None:
            self.warmup_iters = self.max_iters // WARMUP_DIVISOR
        if self.lr_decay_iters is None:
            self.lr_decay_iters = max(self.max_iters, self.warmup_iters)
        for key in ("batch_size", "grad_accum_steps", "max_iters", "eval_interval", "log_interval"):
            check(getattr(self, key) > 0, key, "a positive integer")
        if self.eval_iters is not None:
            check(self.eval_iters > 0, "eval_iters", "a positive integer, or null (whole split)")
        check(self.lr > 0, "lr", f"a positive number, got {self.lr}")
        check(
            0 <= self.min_lr <= self.lr, "min_lr", f"between 0 and lr={self.lr}, got {self.min_lr}"
        )
        check(self.warmup_iters >= 0, "warmup_iters", "a non-negative integer")
        check(
            self.lr_decay_iters >= self.warmup_iters,
            "lr_decay_iters",
            f"at least warmup_iters={self.warmup_iters}, got {self.lr_decay_iters}",
        )
        check(self.weight_decay >= 0, "weight_decay", "a non-negative number")
        for key in ("beta1", "beta2"):
            check(0 <= getattr(self, key) < 1, key, f"in [0, 1), got {getattr(self, key)}")
        check(self.grad_clip >= 0, "grad_clip", "a non-negative number (0 turns clipping off)")
        check(self.sample_tokens >= 0, "sample_tokens", "a non-negative integer")
        check_registered(OPTIMIZER, self.optimizer, "optimizer")
        check(self.muon_lr > 0, "muon_lr", f"a positive number, got {self.muon_lr}")
        check(
            0 <= self.muon_momentum < 1,
            "muon_momentum",
            f"in [0, 1), got {self.muon_momentum}",
        )
        check(self.muon_ns_steps > 0, "muon_ns_steps", "a positive integer")
