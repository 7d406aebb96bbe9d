"""SwiGLU, `model.mlp: swiglu`: an MLP whose hidden units are gated by a second projection.

    SwiGLU(x) = c_proj( silu(w_gate x) * (w_up x) )        silu(z) = z * sigmoid(z)
                (B, T, C) -> two of (B, T, h) -> multiplied elementwise -> (B, T, C)

Week 3's MLP computes one hidden vector and squashes it, GELU(c_fc x). A gated linear unit
(Dauphin et al. 2017) computes two, and lets one decide, unit by unit, how much of the other
passes: the gate silu(w_gate x) is near 0 for strongly negative inputs and near its input for
positive ones, and it multiplies the plain linear features w_up x. Shazeer ("GLU Variants
Improve Transformer", 2020) found the SiLU-gated version (Swish, hence SwiGLU) gave lower
perplexity than the GELU MLP at the same parameter count, and LLaMA made it the default.

The width rule. Three matrices of C x h instead of two of C x 4C: the same parameters at
3h = 8C, so the default hidden width is h = 8/3 n_embd, rounded UP to a multiple of 64 here
(64 | h keeps matrix shapes friendly to vector units and GPU tiles; LLaMA rounds to a multiple of
256 at its scale: 4096 * 8/3 = 10922.7 -> 11008). `model.d_ff` overrides it. At a small width the
rounding matters: n_embd = 16 gets h = 64 (4 x n_embd), n_embd = 768 gets exactly 2048.

The projection back to the residual stream is called `c_proj`, as in week 3, so GPT-2's
initialisation scales it by 1 / sqrt(2 n_layer) (week3_model.gpt.init_gpt2_weights).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from week3_model import GPTConfig

WIDTH_MULTIPLE = 64  # the default hidden width is rounded up to a multiple of this


class SwiGLU(nn.Module):
    """Gated feed-forward network: Linear(C, h) twice, SiLU on the gate, product, Linear(h, C),
    dropout. Biases follow `model.bias`; h is `model.d_ff` or `default_width(n_embd)`."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        hidden = config.d_ff if config.d_ff is not None else self.default_width(config.n_embd)
        self.w_gate = nn.Linear(config.n_embd, hidden, bias=config.bias)
        self.w_up = nn.Linear(config.n_embd, hidden, bias=config.bias)
        self.c_proj = nn.Linear(hidden, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    @staticmethod
    def default_width(n_embd: int) -> int:
        """8/3 n_embd rounded up to a multiple of 64: the GELU MLP's parameters, in 3 matrices."""
        return -(-8 * n_embd // (3 * WIDTH_MULTIPLE)) * WIDTH_MULTIPLE  # ceil without floats

    def forward(self, x: Tensor) -> Tensor:
        """(B, T, C) -> (B, T, C)."""
        return self.dropout(self.c_proj(F.silu(self.w_gate(x)) * self.w_up(x)))
