"""The learning-rate schedule: linear warmup, then a cosine decay to a floor.

    lr(step) = lr * (step + 1) / warmup_iters                  step < warmup_iters
             = min_lr + (lr - min_lr) * (1 + cos(pi r)) / 2     until lr_decay_iters
             = min_lr                                          step >= lr_decay_iters

    with r = (step - warmup_iters) / (lr_decay_iters - warmup_iters), going from 0 to 1.

Why warmup: at step 0 Adam's second-moment estimate rests on a single gradient, so its steps are
large and noisy; a small learning rate for the first few hundred steps keeps those steps from
throwing the randomly initialised weights somewhere they never recover from. Why decay: late in
training, the loss surface near a good minimum is narrow, and smaller steps settle into it.
"""

from __future__ import annotations

import math
from collections.abc import Callable


def learning_rate(
    step: int, *, lr: float, min_lr: float, warmup_iters: int, lr_decay_iters: int
) -> float:
    """The learning rate for optimizer step `step` (0-based) under warmup + cosine decay."""
    if step < warmup_iters:
        return lr * (step + 1) / warmup_iters
    if step >= lr_decay_iters:
        return min_lr
    progress = (step - warmup_iters) / (lr_decay_iters - warmup_iters)
    return min_lr + (lr - min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))


def schedule_from_config(train) -> Callable[[int], float]:
    """`step -> lr` for a `TrainConfig`."""

    def at(step: int) -> float:
        return learning_rate(
            step,
            lr=train.lr,
            min_lr=train.min_lr,
            warmup_iters=train.warmup_iters,
            lr_decay_iters=train.lr_decay_iters,
        )

    return at
