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

from week3_model.config import MLP_KIND, GPTConfig


class MLP(nn.Module):
    """Position-wise feed-forward network: Linear(C, 4C), tanh-GELU, Linear(4C, C), dropout.

    The hidden width is `model.d_ff` when set (GPT-2 calls it n_inner), else 4C.
    """

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        hidden = config.d_ff if config.d_ff is not None else self.default_width(config.n_embd)
        self.c_fc = nn.Linear(config.n_embd, hidden, bias=config.bias)
        self.gelu = nn.GELU(approximate="tanh")
        self.c_proj = nn.Linear(hidden, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    @staticmethod
    def default_width(n_embd: int) -> int:
        """The hidden width when `model.d_ff` is left out: GPT-2's 4 x n_embd."""
        return 4 * n_embd

    def forward(self, x: Tensor) -> Tensor:
        """(B, T, C) -> (B, T, C)."""
        # BEGIN TASK 3.4 [The MLP]: widen with c_fc, tanh-GELU, project back with c_proj, dropout
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))
        # END TASK 3.4


def make_mlp(config: GPTConfig) -> nn.Module:
    """A Block's feed-forward half: the `config.mlp` entry (week 3: gelu, this file's MLP)."""
    mlp: type[nn.Module] = MLP_KIND.get(config.mlp)
    return mlp(config)
