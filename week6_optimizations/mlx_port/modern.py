"""Week 6's modern blocks in MLX: the twins of week6_optimizations/modern/, one table entry each.

    RMSNorm         `norm: rmsnorm`        x / sqrt(mean(x^2) + eps) * weight (+ bias)
    SwiGLU          `mlp: swiglu`          c_proj(silu(w_gate x) * w_up x), hidden d_ff or
                                           8/3 n_embd rounded up to a multiple of 64
    ReLU2           `mlp: relu2`           c_proj(relu(c_fc x)^2): the port's MLP, another
                                           activation
    grouped_query   `n_kv_head: k`         k key/value heads; query head h reads head h // group
    qk_normed       `qk_norm: true`        RMSNorm of each query and key head, in `project`
    soft_cap        `logit_softcap: cap`   cap * tanh(z / cap), applied by MLXGPT.head

Each class has its PyTorch twin's name and attribute names (`w_gate`, `w_up`, `c_proj`,
`q_norm`, `k_norm`, `weight`, `bias`), so a parameter keeps its name across the two frameworks
and convert.py maps the weights of a modern model without knowing about them. The equations,
and why each block exists, are in the PyTorch files' docstrings; this file is the same maths
with MLX arrays. What is framework here: nothing beyond layers.py's traps (no in-place updates,
`transpose(0, 2, 1, 3)`, `mx.repeat` is PyTorch's `repeat_interleave`).

The attention features are classes built from an attention class, as in PyTorch:
`make_attention` (layers.py) applies them in the config's order (grouped-query attention, then
QK-norm) and the position encoding adapts the result, so rope's `attend` runs first and rotates
the normalised keys, with n_kv_head heads, before they are repeated for the query heads.

This module adds its entries to layers.py's tables when it is imported (model.py imports it).
"""

from __future__ import annotations

from functools import cache
from typing import cast

import mlx.core as mx
import mlx.nn as nn

from week3_model.config import GPTConfig
from week6_optimizations.mlx_port.layers import (
    MLP,
    MLX_ATTENTION_FEATURE,
    MLX_MLP,
    MLX_NORM,
    CausalSelfAttention,
)
from week6_optimizations.modern import swiglu as torch_swiglu


@MLX_NORM.register("rmsnorm")
class RMSNorm(nn.Module):
    """RMSNorm over the last dimension of size `width`: weight 1 (bias 0 when there is one).

    Computed in float32 whatever the input's dtype, returned in the input's dtype, as PyTorch's
    twin: a mean of many squares in bfloat16 would lose its low bits.
    """

    def __init__(self, width: int, bias: bool = False, eps: float = 1e-5) -> None:
        super().__init__()
        self.weight = mx.ones((width,))
        if bias:  # no attribute at all without one: nothing to train, save or convert
            self.bias = mx.zeros((width,))
        self.eps = eps  # a float attribute: not a parameter

    def __call__(self, x: mx.array) -> mx.array:
        """(..., width) -> (..., width)."""
        x32 = x.astype(mx.float32)
        scale = mx.rsqrt(mx.mean(mx.square(x32), axis=-1, keepdims=True) + self.eps)
        y = x32 * scale * self.weight
        if "bias" in self:
            y = y + self.bias
        return y.astype(x.dtype)


@MLX_MLP.register("swiglu")
class SwiGLU(nn.Module):
    """Gated feed-forward network: silu(w_gate x) * w_up x, then c_proj back to C, dropout.

    The hidden width is `model.d_ff`, or PyTorch's `SwiGLU.default_width(n_embd)` (one rule,
    written once: 8/3 n_embd rounded up to a multiple of 64).
    """

    default_width = staticmethod(torch_swiglu.SwiGLU.default_width)

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        hidden = config.d_ff if config.d_ff is not None else self.default_width(config.n_embd)
        self.w_gate = nn.Linear(config.n_embd, hidden, bias=config.bias)
        self.w_up = nn.Linear(config.n_embd, hidden, bias=config.bias)
        self.c_proj = nn.Linear(hidden, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def __call__(self, x: mx.array) -> mx.array:
        """(B, T, C) -> (B, T, C)."""
        return self.dropout(self.c_proj(nn.silu(self.w_gate(x)) * self.w_up(x)))


@MLX_MLP.register("relu2")
class ReLU2(MLP):
    """The port's MLP with relu(.)^2 instead of GELU: the same c_fc, c_proj, width and dropout."""

    def __call__(self, x: mx.array) -> mx.array:
        """(B, T, C) -> (B, T, C)."""
        return self.dropout(self.c_proj(mx.square(nn.relu(self.c_fc(x)))))


class GroupedQueryAttention(CausalSelfAttention):
    """Attention whose keys and values have `kv_heads` heads, each shared by `group` queries.

    Used as the first base of `grouped_query(cls)`, so `super().attend` is `cls.attend`.
    `c_attn` is Linear(C, C + 2 n_kv_head d): queries C wide, keys and values n_kv_head d each.
    """

    def __init__(self, config: GPTConfig) -> None:
        super().__init__(config)
        self.kv_heads = config.kv_heads
        self.group = config.n_head // config.kv_heads
        self.head_size = config.head_size
        kv_width = self.kv_heads * self.head_size
        self.c_attn = nn.Linear(config.n_embd, config.n_embd + 2 * kv_width, bias=config.bias)

    def split_kv_heads(self, x: mx.array) -> mx.array:
        """(B, T, n_kv_head d) -> (B, n_kv_head, T, d)."""
        B, T, _ = x.shape
        return x.reshape(B, T, self.kv_heads, self.head_size).transpose(0, 2, 1, 3)

    def project(self, x: mx.array) -> tuple[mx.array, mx.array, mx.array]:
        """(B, T, C) -> queries (B, n_head, T, d), keys and values (B, n_kv_head, T, d)."""
        kv_width = self.kv_heads * self.head_size
        q, k, v = mx.split(self.c_attn(x), [self.n_embd, self.n_embd + kv_width], axis=-1)
        return self.split_heads(q), self.split_kv_heads(k), self.split_kv_heads(v)

    def attend(self, q: mx.array, k: mx.array, v: mx.array) -> mx.array:
        """(B, n_head, T, d) queries over (B, n_kv_head, S, d) keys and values -> (B, n_head,
        T, d): each key/value head repeated `group` times in place (head h is h // group)."""
        if self.group > 1:
            k = mx.repeat(k, self.group, axis=1)
            v = mx.repeat(v, self.group, axis=1)
        return super().attend(q, k, v)


@MLX_ATTENTION_FEATURE.register("grouped_query")
@cache  # one class per attention class, shared by every Block (and every model)
def grouped_query(attention: type[CausalSelfAttention]) -> type[CausalSelfAttention]:
    """`attention` with n_kv_head key/value heads: the class (GroupedQueryAttention, attention)."""
    grouped = type(f"GroupedQuery{attention.__name__}", (GroupedQueryAttention, attention), {})
    return cast(type[CausalSelfAttention], grouped)


class QKNormAttention(CausalSelfAttention):
    """Attention whose queries and keys are RMS-normalised per head, right after `project`:
    one gain vector of d for the queries (`q_norm`) and one for the keys (`k_norm`).

    Used as the first base of `qk_normed(cls)`, so `super().project` is `cls.project`.
    """

    def __init__(self, config: GPTConfig) -> None:
        super().__init__(config)
        self.q_norm = RMSNorm(config.head_size, bias=False, eps=config.norm_eps)
        self.k_norm = RMSNorm(config.head_size, bias=False, eps=config.norm_eps)

    def project(self, x: mx.array) -> tuple[mx.array, mx.array, mx.array]:
        """(B, T, C) -> normalised queries, normalised keys and values, each (B, heads, T, d)."""
        q, k, v = super().project(x)
        return self.q_norm(q), self.k_norm(k), v


@MLX_ATTENTION_FEATURE.register("qk_norm")
@cache  # one class per attention class, shared by every Block (and every model)
def qk_normed(attention: type[CausalSelfAttention]) -> type[CausalSelfAttention]:
    """`attention` with normalised queries and keys: the class (QKNormAttention, attention)."""
    normed = type(f"QKNorm{attention.__name__}", (QKNormAttention, attention), {})
    return cast(type[CausalSelfAttention], normed)


def soft_cap(logits: mx.array, cap: float) -> mx.array:
    """cap * tanh(logits / cap): about the logits themselves when small, never beyond +-cap.
    PyTorch's `SoftCappedHead.forward` after its Linear; here MLXGPT.head calls it."""
    return cap * mx.tanh(logits / cap)
