"""RMSNorm, `model.norm: rmsnorm`: LayerNorm without the mean.

    y = x / sqrt(mean(x^2) + eps) * weight   (+ bias, when asked)        over the last dimension

LayerNorm (week 3) does two things to each token's vector: it re-centres it (subtracts the mean)
and it re-scales it (divides by the standard deviation). Zhang & Sennrich ("Root Mean Square Layer
Normalization", 2019) found that the re-scaling is what keeps training stable, and the
re-centring can go: divide by the root mean square instead, which is the standard deviation of a
vector whose mean is 0. The result trains as well, with one reduction over the features instead
of two, and no bias by default (nothing was subtracted, so nothing needs adding back). LLaMA,
Mistral, Gemma and Qwen all use it.

The one property to remember: RMSNorm(c x) = RMSNorm(x) for every c > 0 (up to eps), as for
LayerNorm, but RMSNorm(x + c) != RMSNorm(x): a shift of every feature is no longer removed.

It computes in float32 even when x is bfloat16 (a sum of many small squares loses its low bits
in bfloat16's 8 mantissa bits) and returns x's dtype.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class RMSNorm(nn.Module):
    """RMSNorm over the last dimension of size `width`, with a learned gain and optional bias.

    Built as week 3's `make_norm` builds every norm: `RMSNorm(n_embd, bias=..., eps=norm_eps)`.
    Starts as pure normalisation: weight 1 (bias 0 when there is one).
    """

    def __init__(self, width: int, bias: bool = False, eps: float = 1e-5) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(width))
        self.bias = nn.Parameter(torch.zeros(width)) if bias else None
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        """(..., width) -> (..., width)."""
        x32 = x.float()
        y = x32 * torch.rsqrt(x32.square().mean(dim=-1, keepdim=True) + self.eps) * self.weight
        if self.bias is not None:
            y = y + self.bias
        return y.to(x.dtype)

    def extra_repr(self) -> str:
        return f"{self.weight.numel()}, eps={self.eps}, bias={self.bias is not None}"
