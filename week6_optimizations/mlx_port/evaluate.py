"""Exact evaluation in MLX: week 4's windows over the whole validation split, MLX forward passes.

The windows (every validation token a target exactly once, padding targets -1), the figures
(loss, perplexity, bits per byte) and the estimate from a fixed subset of windows
(`max_windows`, train.eval_iters) are week 4's; only the forward pass is MLX. Dropout is off
(`model.eval()`), and the model is returned to the mode it was in. It computes in the run's
dtype, as week 4's evaluation does under autocast (precision.py: a bfloat16 copy of the weights
for a bfloat16 run; the loss is summed in float32).
"""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn
import numpy as np
from tqdm import tqdm

from week4_training.data import TokenSplit
from week4_training.evaluate import EvalResult, estimate_subset, evaluation_windows, scored
from week6_optimizations.mlx_port.model import language_model_loss
from week6_optimizations.mlx_port.precision import computing_in


def total_nats(
    model: nn.Module,
    inputs: np.ndarray,
    targets: np.ndarray,
    batch_size: int,
    progress: bool = True,
) -> float:
    """Summed cross-entropy (nats) over (n, T) windows, `batch_size` windows at a time, with a
    progress bar on stderr (the MLX CPU wheel takes tens of seconds over a whole split)."""
    total = 0.0
    starts = range(0, len(inputs), batch_size)
    for start in tqdm(starts, desc="validation", unit="batch", leave=False, disable=not progress):
        x = mx.array(inputs[start : start + batch_size])
        y = mx.array(targets[start : start + batch_size])
        total += float(language_model_loss(model(x), y, reduction="sum"))  # float() evaluates
    return total


def evaluate_mlx(
    model: nn.Module,
    val_tokens: TokenSplit,
    *,
    block_size: int,
    batch_size: int,
    progress: bool = True,
    max_windows: int | None = None,
    dtype: mx.Dtype = mx.float32,
) -> EvalResult:
    """Loss, perplexity and bits per byte of an MLX model on a whole split, or an estimate from
    `max_windows` evenly spaced windows (week 4's rules and week 4's keywords), computed in
    `dtype`; `progress` shows a bar of the batches on stderr."""
    torch_inputs, torch_targets = evaluation_windows(np.asarray(val_tokens.tokens), block_size)
    inputs, targets = torch_inputs.numpy().astype(np.int32), torch_targets.numpy().astype(np.int32)
    all_targets = int((targets >= 0).sum())
    subset = estimate_subset(len(inputs), max_windows)
    if subset is not None:
        inputs, targets = inputs[subset], targets[subset]
    was_training = model.training
    model.eval()
    try:
        with computing_in(model, dtype):
            nats = total_nats(model, inputs, targets, batch_size, progress)
    finally:
        model.train(was_training)
    return scored(nats, int((targets >= 0).sum()), all_targets, val_tokens.n_bytes)
