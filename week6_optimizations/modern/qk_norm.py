"""QK-norm, `model.qk_norm: true`: normalise every query and key head before attention.

    q_h <- RMSNorm_q(q_h),   k_h <- RMSNorm_k(k_h)     over the d features of each head
    RMSNorm(z) = z / sqrt(mean(z^2) + eps) * g          g: d learned gains, shared by the heads

A score q.k / sqrt(d) grows with the lengths of q and k, and nothing in week 3 bounds them: when
training pushes some queries and keys long, the softmax goes one-hot, its gradient vanishes and
the loss can spike or diverge (Dehghani et al., "Scaling Vision Transformers to 22 Billion
Parameters", 2023; Wortsman et al., "Small-scale proxies for large-scale Transformer training
instabilities", 2023). With QK-norm each head's q and k have root mean square 1 before the
gains g, so |q.k| / sqrt(d) <= sqrt(d) max|g|^2: the sharpness of attention becomes a learned
parameter, not an accident of the weights' growth. Gemma 3 and Qwen 3 normalise per head as here
(OLMo 2 over all heads at once). The norm is this week's RMSNorm (rmsnorm.py, eps =
`model.norm_eps`), one gain vector for the queries and one for the keys.

The order, and why: the norm is applied in `project`, so it comes BEFORE rope, which rotates in
`attend` (rope adapts the attention class after this feature, so its `attend` runs first). With
R_m the rotation at position m and g the gain,

    norm then rotate:  (R_m (g * q)) . (R_n (g * k)) = (g * q) . R_{n-m} (g * k)
    rotate then norm:  (g * R_m q) . (g * R_n k)     = q . R_m^T diag(g)^2 R_n k

The first depends on the offset n - m only: rope's promise is kept. In the second the gains
scale rotated features and the score depends on m and n separately (unless g is equal within
each rotated pair). The root mean square itself does not care (a rotation keeps the length).

The KV cache stores what `project` returns: normalised, unrotated keys. The norm works on each
token alone, so normalising a key once, when it is cached, is the same as normalising it again.
"""

from __future__ import annotations

from typing import cast

from torch import Tensor

from week3_model import CausalSelfAttention, GPTConfig
from week6_optimizations.modern.rmsnorm import RMSNorm


class QKNormAttention(CausalSelfAttention):
    """Attention whose queries and keys are RMS-normalised per head, right after `project`.

    Used as the first base of `qk_normed(cls)`, so `super().project` is `cls.project` (week 3's,
    or grouped-query attention's, which gives keys fewer heads: the norm works for any count).
    """

    def __init__(self, config: GPTConfig) -> None:
        super().__init__(config)
        self.q_norm = RMSNorm(config.head_size, bias=False, eps=config.norm_eps)
        self.k_norm = RMSNorm(config.head_size, bias=False, eps=config.norm_eps)

    def project(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(B, T, C) -> normalised queries, normalised keys and values, each (B, heads, T, d)."""
        q, k, v = super().project(x)
        return self.q_norm(q), self.k_norm(k), v


# One QK-norm class per attention class, so that every Block of a model shares it.
_QK_NORMED: dict[type[CausalSelfAttention], type[CausalSelfAttention]] = {}


def qk_normed(attention: type[CausalSelfAttention]) -> type[CausalSelfAttention]:
    """The `qk_norm` attention feature: `attention` with normalised queries and keys, the class
    (QKNormAttention, attention)."""
    if attention not in _QK_NORMED:
        name = f"QKNorm{attention.__name__}"
        _QK_NORMED[attention] = cast(
            type[CausalSelfAttention], type(name, (QKNormAttention, attention), {})
        )
    return _QK_NORMED[attention]
