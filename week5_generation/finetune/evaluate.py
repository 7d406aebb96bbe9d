"""Held-out completion loss: how well the model predicts the answers it was not trained on.

Every held-out example is scored once, in file order, with the same mask as training: only the
assistant's tokens count. The figures are week 4's (`EvalResult`): mean nats per answer token,
perplexity, and bits per byte of the answers' text (the `<|end|>` token's loss is in the total,
its bytes are not: it is markup, not text).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from shared.device import autocast
from week4_training.evaluate import EvalResult
from week5_generation.finetune.examples import Example, masked_batch


@torch.inference_mode()
def completion_loss(
    model: nn.Module,
    examples: Sequence[Example],
    *,
    batch_size: int,
    device: torch.device,
    dtype: str = "float32",
) -> EvalResult:
    """The answers' loss over `examples` (all of them, deterministic), in eval mode."""
    was_training = model.training
    model.eval()
    nats = []
    try:
        for start in range(0, len(examples), batch_size):
            x, y = masked_batch(examples[start : start + batch_size])
            x, y = x.to(device), y.to(device)
            with autocast(device, dtype):
                logits, _ = model(x)
            total = F.cross_entropy(
                logits.float().flatten(0, 1), y.flatten(), ignore_index=-1, reduction="sum"
            )
            nats.append(float(total))
    finally:
        model.train(was_training)
    n_targets = sum(e.n_targets for e in examples)
    return EvalResult.from_nats(math.fsum(nats), n_targets, sum(e.n_bytes for e in examples))
