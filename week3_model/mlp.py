"""The MLP (feed-forward) half of a Block: widen 4x, GELU, project back.

    MLP(x) = c_proj(GELU(c_fc(x)))        (B, T, C) -> (B, T, 4C) -> (B, T, C)

Attention moves information *between* positions; the MLP then works on each position alone. Its
4x width holds about two thirds of a GPT's non-embedding parameters.

GPT-2 uses the tanh approximation of GELU,

    GELU(x) ~ 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))

(Hugging Face calls it "gelu_new"). The exact erf form differs by up to ~1e-3, enough to break
bit-for-bit agreement with GPT-2's weights, so the approximation is part of the architecture.
"""

from __future__ import annotations

from torch import Tensor, nn

from week3_model.config import GPTConfig


class MLP(nn.Module):
    """Position-wise feed-forward network: Linear(C, 4C), tanh-GELU, Linear(4C, C), dropout."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.gelu = nn.GELU(approximate="tanh")
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: Tensor) -> Tensor:
        """(B, T, C) -> (B, T, C)."""
        # BEGIN TASK 3.4 [The MLP]: widen with c_fc, tanh-GELU, project back with c_proj, dropout
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))
        # END TASK 3.4
