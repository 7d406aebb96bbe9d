"""One optimizer step: accumulate gradients over micro-batches, unscale, clip, step.

    for each of k micro-batches:   loss_i = model(x_i, y_i) / k;  (scale * loss_i).backward()
    unscale the gradients (float16 only), clip their global norm, optimizer.step()

Dividing each micro-loss by k makes the summed gradient the gradient of the *mean* loss over all
k micro-batches: exactly what one batch k times larger would give, at 1/k of the memory.

Mixed precision in float16 needs loss scaling: float16's smallest normal number is about 6e-5,
and many gradients are smaller, so they would round to zero. The GradScaler multiplies the loss
by a large factor S (65536 to start) before backward, divides the gradients by S before the step
("unscale"; clipping must see true gradients, so it comes after), and if any gradient came out
inf or NaN (S was too large) it skips the step and halves S. bfloat16 has float32's exponent
range and needs no scaler; a disabled GradScaler is a no-op.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

import torch
from torch import Tensor, nn


@dataclass
class StepResult:
    """What one optimizer step reports: mean loss, gradient norm before clipping, and whether the
    GradScaler skipped it (inf/NaN gradients in float16)."""

    loss: float
    grad_norm: float
    skipped: bool


def accumulate_gradients(
    model: nn.Module,
    micro_batches: Sequence[tuple[Tensor, Tensor]],
    scaler: torch.amp.GradScaler,
    precision: AbstractContextManager | None = None,
    no_sync: Callable[[], AbstractContextManager] | None = None,
) -> float:
    """Forward and backward over each (x, y) micro-batch with loss / k; returns the mean loss.

    `no_sync()`, if given, wraps the forward and backward of every micro-batch but the last.
    """
    # BEGIN TASK 4.4 [One training step]: scaled backward of loss / k per micro-batch; the mean loss
    k = len(micro_batches)
    total = 0.0
    for i, (x, y) in enumerate(micro_batches):
        quiet = i < k - 1
        with no_sync() if no_sync is not None and quiet else nullcontext():
            with precision if precision is not None else nullcontext():
                _, loss = model(x, y)
            loss = loss / k
            scaler.scale(loss).backward()
        total += loss.item()
    return total
    # END TASK 4.4


def clip_gradients(parameters: Iterable[Tensor], max_norm: float) -> float:
    """Scale all gradients together so their global L2 norm is at most `max_norm` (0 = no limit).

    Returns the norm *before* clipping, worth logging: spikes in it foretell a diverging run.
    """
    limit = max_norm if max_norm > 0 else math.inf
    return float(torch.nn.utils.clip_grad_norm_(list(parameters), limit))


def optimizer_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    micro_batches: Sequence[tuple[Tensor, Tensor]],
    *,
    grad_clip: float,
    precision: AbstractContextManager | None = None,
    no_sync: Callable[[], AbstractContextManager] | None = None,
) -> StepResult:
    """Zero, accumulate, unscale, clip, step and update the scale: one full training step."""
    # BEGIN TASK 4.5 [One training step]: zero, accumulate, unscale, clip, step, update the scale
    optimizer.zero_grad(set_to_none=True)
    loss = accumulate_gradients(model, micro_batches, scaler, precision, no_sync)
    scaler.unscale_(optimizer)  # true gradients from here on (no-op when the scaler is off)
    grad_norm = clip_gradients(model.parameters(), grad_clip)
    scale_before = scaler.get_scale() if scaler.is_enabled() else 1.0
    scaler.step(optimizer)  # skipped if the unscaled gradients hold inf or NaN
    scaler.update()
    skipped = scaler.is_enabled() and scaler.get_scale() < scale_before
    return StepResult(loss=loss, grad_norm=grad_norm, skipped=skipped)
    # END TASK 4.5


def make_scaler(device: torch.device, dtype: str) -> torch.amp.GradScaler:
    """A GradScaler that is active only for float16 (bfloat16 and float32 do not need one)."""
    return torch.amp.GradScaler(device.type, enabled=(dtype == "float16"))
