"""LayerNorm: normalise each token's vector to mean 0 and variance 1, then scale and shift.

    y = (x - mean(x)) / sqrt(var(x) + eps) * weight + bias        (over the last dimension)

It works per token (per row), never across the batch or the sequence, so it behaves the same in
training and at generation time. PyTorch's `nn.LayerNorm` always has a bias; GPT-2 has one too, but
many small models train as well without, so the bias here is optional.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from week3_model.config import NORM, GPTConfig


class LayerNorm(nn.Module):
    """LayerNorm over the last dimension of size `width`, with an optional bias.

    Starts as the identity map on normalised inputs: weight 1, bias 0. `eps` is GPT-2's 1e-5.
    """

    def __init__(self, width: int, bias: bool = True, eps: float = 1e-5) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(width))
        self.bias = nn.Parameter(torch.zeros(width)) if bias else None
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        """(..., width) -> (..., width)."""
        # BEGIN TASK 3.1 [The residual stream and pre-norm]: normalise the last dim, scale and shift
        return F.layer_norm(x, self.weight.shape, self.weight, self.bias, self.eps)
        # END TASK 3.1


def make_norm(config: GPTConfig) -> nn.Module:
    """A norm of width n_embd: the `config.norm` entry (week 3: this file's LayerNorm), with the
    config's bias and epsilon. Every norm of a GPT (ln_1, ln_2, ln_f) is made here."""
    norm: type[nn.Module] = NORM.get(config.norm)
    return norm(config.n_embd, bias=config.bias, eps=config.norm_eps)
