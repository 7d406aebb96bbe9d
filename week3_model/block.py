"""One transformer Block: attention then MLP, each reading a normalised copy of the residual stream.

    x = x + attn(ln_1(x))        tokens exchange information
    x = x + mlp(ln_2(x))         each token thinks on its own

The residual stream `x` runs straight from the embeddings to the head; every sub-layer only *adds*
to it. Pre-norm (LayerNorm before each sub-layer, as in GPT-2) keeps that highway free of
normalisation, so gradients reach the first layer undisturbed and deep stacks train stably.
"""

from __future__ import annotations

from torch import Tensor, nn

from week3_model.attention import make_attention
from week3_model.config import GPTConfig
from week3_model.layernorm import make_norm
from week3_model.mlp import make_mlp


class Block(nn.Module):
    """Pre-norm transformer block, (B, T, C) -> (B, T, C); its attention, norms and MLP are the
    config's table entries (`make_attention`, `make_norm`, `make_mlp`)."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.ln_1 = make_norm(config)  # the `norm` and `mlp` entries: LayerNorm and MLP here
        self.attn = make_attention(config)
        self.ln_2 = make_norm(config)
        self.mlp = make_mlp(config)

    def forward(self, x: Tensor) -> Tensor:
        """(B, T, C) -> (B, T, C)."""
        # BEGIN TASK 3.5 [The residual stream and pre-norm]: the two pre-norm residual branches
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))
        # END TASK 3.5
