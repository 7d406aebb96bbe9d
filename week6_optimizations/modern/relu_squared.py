"""ReLU², `model.mlp: relu2`: week 3's MLP with GELU replaced by a squared ReLU.

    ReLU2(x) = c_proj( relu(c_fc x)^2 )        (B, T, C) -> (B, T, 4C) -> (B, T, C)

So et al. ("Primer: Searching for Efficient Transformers for Language Modeling", 2021) found
this activation by searching over architectures; it is one of the two changes that made their
Primer cheaper to train to the same quality than a GELU Transformer. Squaring keeps ReLU's exact
zeros for negative inputs (many hidden units are exactly 0) and grows faster than linearly for
positive ones. It costs one multiplication more than ReLU, and no tanh or erf at all.

The diff against week 3 is only the activation, so this is week 3's `MLP` with another
`forward`: the same `c_fc` and `c_proj` (GPT-2's initialisation scales `c_proj`), the same 4x
default width (`model.d_ff` overrides it), the same bias and dropout.
"""

from __future__ import annotations

import torch
from torch import Tensor

from week3_model import MLP, GPTConfig


class ReLU2(MLP):
    """Position-wise feed-forward network: Linear(C, 4C), relu(.)^2, Linear(4C, C), dropout."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__(config)
        del self.gelu  # week 3's activation module; this MLP squares a ReLU instead

    def forward(self, x: Tensor) -> Tensor:
        """(B, T, C) -> (B, T, C)."""
        return self.dropout(self.c_proj(torch.relu(self.c_fc(x)).square()))
