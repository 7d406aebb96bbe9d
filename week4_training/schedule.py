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
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from week4_training.config import TrainConfig


def learning_rate(
    step: int, *, lr: float, min_lr: float, warmup_iters: int, lr_decay_iters: int
) -> float:
    """The learning rate for optimizer step `step` (0-based) under warmup + cosine decay."""
    # BEGIN TASK 4.2 [One training step]: linear warmup, then cosine decay to min_lr, then min_lr
    if step < warmup_iters:
        return lr * (step + 1) / warmup_iters
    if step >= lr_decay_iters:
        return min_lr
    progress = (step - warmup_iters) / (lr_decay_iters - warmup_iters)
    return min_lr + (lr - min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))
    # END TASK 4.2


def schedule_from_config(train: TrainConfig) -> Callable[[int], float]:
    """`step -> lr` for a `TrainConfig`."""

    def at(step: int) -> float:
        # never None: TrainConfig fills in a warm-up or decay that the config leaves out
        assert train.warmup_iters is not None and train.lr_decay_iters is not None
        return learning_rate(
            step,
            lr=train.lr,
            min_lr=train.min_lr,
            warmup_iters=train.warmup_iters,
            lr_decay_iters=train.lr_decay_iters,
        )

    return at


def schedule_warnings(train: TrainConfig) -> list[str]:
    """What is wrong with a schedule that does not fit its run, one line each (none: it fits).

    Left out of a config, warm-up and decay follow max_iters and always fit; set by hand, they
    may not: `ARGS="train.max_iters=100"` on a config with warmup_iters 100 never leaves warm-up.
    """
    assert train.warmup_iters is not None and train.lr_decay_iters is not None  # as above
    fix = "set it with train.max_iters, or leave it out of the config to follow max_iters"
    if train.warmup_iters >= train.max_iters:
        return [
            f"train.warmup_iters={train.warmup_iters} is not below train.max_iters="
            f"{train.max_iters}: the run never leaves warm-up; {fix}"
        ]
    if train.lr_decay_iters > train.max_iters and train.min_lr < train.lr:
        end = schedule_from_config(train)(train.max_iters - 1)
        return [
            f"train.lr_decay_iters={train.lr_decay_iters} is beyond train.max_iters="
            f"{train.max_iters}: the run ends at lr {end:.2e}, before decaying to train.min_lr="
            f"{train.min_lr:.2e}; {fix}"
        ]
    return []
