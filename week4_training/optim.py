"""AdamW with two parameter groups: decay the matrices, leave biases and norms alone.

Weight decay pulls weights towards zero, a pressure against large, brittle weight matrices. It
makes no sense on a bias or a LayerNorm gain (a gain of 1 is the neutral value, not 0), so the
rule of GPT-2 and nanoGPT is: decay every parameter with `dim >= 2` (Linear weights, embedding
tables), none with `dim < 2`. A tied LM head is the token embedding, counted once.

`train.optimizer` names the optimizer in the OPTIMIZER table: `adamw` (this file) by default;
week 6 adds `muon`. An entry is a builder, `builder(model, train, device) -> Optimizer`.
Every group carries an `lr_scale`, its peak rate over `train.lr`: the schedule sets
`group["lr"] = lr(step) * lr_scale`, so each group keeps its own peak and the same shape of
warmup and decay (AdamW's groups: 1.0, the scheduled rate itself).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
from torch import nn

from shared.registry import Registry

if TYPE_CHECKING:
    from week4_training.config import TrainConfig

# What builds the optimizer of `train.optimizer: name` (pyproject.toml's `tiny_gpt.optimizer`
# table lists the variants of later weeks, e.g. week 6's muon).
OptimizerBuilder = Callable[[nn.Module, "TrainConfig", torch.device], torch.optim.Optimizer]
OPTIMIZER: Registry[OptimizerBuilder] = Registry("optimizer", "tiny_gpt.optimizer")


def parameter_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Two AdamW groups: dim >= 2 with `weight_decay`, the rest (biases, norm gains) with 0."""
    # BEGIN TASK 4.3 [One training step]: the decay group (dim >= 2) and the no-decay group
    params = [p for p in model.parameters() if p.requires_grad]  # a tied tensor appears once
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    # END TASK 4.3


def make_optimizer(
    model: nn.Module,
    *,
    lr: float,
    weight_decay: float,
    betas: tuple[float, float],
    device: torch.device,
) -> torch.optim.AdamW:
    """AdamW over `parameter_groups`; the fused kernel where this PyTorch has one for `device`.

    `fused` does the whole update in one kernel per device (CUDA, and the CPU since PyTorch 2.4);
    otherwise `foreach` batches the per-tensor updates. Both give the same numbers up to rounding.
    """
    groups = [{**group, "lr_scale": 1.0} for group in parameter_groups(model, weight_decay)]
    if device.type in ("cuda", "cpu", "mps"):
        try:
            return torch.optim.AdamW(groups, lr=lr, betas=betas, fused=True)
        except (RuntimeError, TypeError, ValueError):  # pragma: no cover - older PyTorch
            pass
    return torch.optim.AdamW(groups, lr=lr, betas=betas, foreach=True)  # pragma: no cover


def build_adamw(model: nn.Module, train: TrainConfig, device: torch.device) -> torch.optim.AdamW:
    """The `adamw` entry: `make_optimizer` with the train section's settings."""
    return make_optimizer(
        model,
        lr=train.lr,
        weight_decay=train.weight_decay,
        betas=(train.beta1, train.beta2),
        device=device,
    )


def build_optimizer(
    model: nn.Module, train: TrainConfig, device: torch.device
) -> torch.optim.Optimizer:
    """The optimizer `train.optimizer` names, built by its entry of the OPTIMIZER table."""
    return OPTIMIZER.get(train.optimizer)(model, train, device)


def set_learning_rate(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Every group gets the scheduled rate `lr` times its own `lr_scale` (1.0 if it has none)."""
    for group in optimizer.param_groups:
        group["lr"] = lr * group.get("lr_scale", 1.0)
