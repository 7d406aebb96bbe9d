"""The pieces of a Block in MLX: positions, causal self-attention, norms, MLP, the Block itself.

Each class is the twin of a PyTorch one, with the same name, methods and attribute names, so a
parameter is called `blocks.0.attn.c_attn.weight` in both frameworks and a learner can read the
two files side by side:

    week 3   LearnedPosition, CausalSelfAttention, make_attention, make_norm, MLP, make_mlp,
             Block
    week 6   SDPAttention (overrides `attend`)
             RotaryPosition, RotaryAttention, rotary_attention (rope inside `attend`)

The tables below are the MLX twins of week 3's (config.py), filled by name: this file holds
GPT-2's entries and week 6's sdpa and rope; modern.py adds week 6's modern blocks (rmsnorm,
swiglu, relu2, grouped_query, qk_norm) to the same tables, and model.py imports it, so every
MLXGPT finds them.

Shapes: B batch, T new tokens, S keys seen (S = T without a cache), C = n_embd, h heads,
d = C // h. MLX's `nn.Linear` stores its weight as (out, in) and computes x @ W.T + b, exactly
like PyTorch, so weights cross between the two without a transpose (GPT-2's original Conv1D
stores (in, out): that is the layout trap of week 3's `pretrained.py`, not of this port).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import cache
from typing import Protocol, cast

import mlx.core as mx
import mlx.nn as nn

from shared.registry import Registry
from week3_model import mlp as torch_mlp
from week3_model.config import GPTConfig
from week6_optimizations.rope import check_head_size


class PositionEncoding(Protocol):
    """What an `MLX_POSITION` entry is, as in week 3: an `nn.Module` built as `cls(config)`,
    called as `encoding(x, positions)` on the token embeddings; `attention_class(cls)` says how
    it changes the attention class a Block builds."""

    def __init__(self, config: GPTConfig) -> None: ...

    def __call__(self, x: mx.array, positions: mx.array) -> mx.array: ...

    @staticmethod
    def attention_class(cls: type[CausalSelfAttention]) -> type[CausalSelfAttention]: ...


# The MLX twins of week 3's tables, private to this port: `config.attention`,
# `config.position`, `config.norm` and `config.mlp` name an entry of each, and
# `config.attention_features()` entries of the feature table (the PyTorch tables' names).
MLX_ATTENTION: Registry[type[CausalSelfAttention]] = Registry("MLX attention")
MLX_POSITION: Registry[type[PositionEncoding]] = Registry("MLX position")
MLX_NORM: Registry[Callable[..., nn.Module]] = Registry("MLX norm")
MLX_MLP: Registry[Callable[[GPTConfig], nn.Module]] = Registry("MLX mlp")
MLX_ATTENTION_FEATURE: Registry[Callable[[type], type]] = Registry("MLX attention feature")

# Week 6's PyTorch rope pairs neighbours (x0, x1), (x2, x3), ...: MLX calls that "traditional".
ROPE_INTERLEAVED = True


@MLX_POSITION.register("learned")
class LearnedPosition(nn.Module):
    """GPT-2's learned table: row p of a (block_size, C) matrix is added to token p."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.table = nn.Embedding(config.block_size, config.n_embd)

    def __call__(self, x: mx.array, positions: mx.array) -> mx.array:
        """(B, T, C) token embeddings, (T,) absolute positions -> x + table(positions)."""
        return x + self.table(positions)

    @staticmethod
    def attention_class(cls: type[CausalSelfAttention]) -> type[CausalSelfAttention]:
        """Learned positions live in the residual stream: attention stays as it is."""
        return cls


@MLX_ATTENTION.register("naive")
class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention written out: softmax(q k^T / sqrt(d) + mask) v."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.n_head = config.n_head
        self.n_embd = config.n_embd
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.attn_dropout = nn.Dropout(config.dropout)
        self.resid_dropout = nn.Dropout(config.dropout)
        self.dropout_p = config.dropout  # a float attribute: not a parameter
        # MLX has no buffers: every array attribute is a parameter (trained, saved, initialised)
        # unless its name starts with "_". So the mask is `_future`, read as `future`.
        size = config.block_size
        self._future = mx.triu(mx.ones((size, size), dtype=mx.bool_), k=1)

    @property
    def future(self) -> mx.array:
        """(block_size, block_size) bool, True above the diagonal: key s lies after query t."""
        return self._future

    def split_heads(self, x: mx.array) -> mx.array:
        """(B, T, C) -> (B, h, T, d)."""
        B, T, C = x.shape
        return x.reshape(B, T, self.n_head, C // self.n_head).transpose(0, 2, 1, 3)

    def merge_heads(self, y: mx.array) -> mx.array:
        """(B, h, T, d) -> (B, T, C)."""
        B, _, T, _ = y.shape
        return y.transpose(0, 2, 1, 3).reshape(B, T, self.n_embd)

    def project(self, x: mx.array) -> tuple[mx.array, mx.array, mx.array]:
        """(B, T, C) -> queries, keys and values, each (B, h, T, d)."""
        q, k, v = mx.split(self.c_attn(x), 3, axis=-1)
        return self.split_heads(q), self.split_heads(k), self.split_heads(v)

    def attend(self, q: mx.array, k: mx.array, v: mx.array) -> mx.array:
        """Masked attention of T queries over S keys -> (B, h, T, d).

        The queries are the last T of the S positions, so the mask is rows S-T..S-1 of `future`.
        """
        T, S = q.shape[2], k.shape[2]
        scores = (q @ k.transpose(0, 1, 3, 2)) * (1.0 / math.sqrt(q.shape[-1]))
        scores = mx.where(self.future[S - T : S, :S], -mx.inf, scores)
        weights = mx.softmax(scores, axis=-1, precise=True)  # float32 sums, also for bfloat16
        return self.attn_dropout(weights) @ v

    def output(self, y: mx.array) -> mx.array:
        """(B, h, T, d) -> (B, T, C): heads side by side, projected, dropped out."""
        return self.resid_dropout(self.c_proj(self.merge_heads(y)))

    def __call__(self, x: mx.array) -> mx.array:
        """(B, T, C) -> (B, T, C)."""
        return self.output(self.attend(*self.project(x)))


@MLX_ATTENTION.register("sdpa")
class SDPAttention(CausalSelfAttention):
    """The fused kernel `mx.fast.scaled_dot_product_attention`; same numbers, less memory.

    Its "causal" mask aligns the last query with the last key: rows S-T..S-1 of `future`, the
    KV-cache case too. The kernel has no dropout, so while training with dropout > 0 it falls
    back to the written-out path (the same distribution of outputs; PyTorch's SDPA takes
    `dropout_p`).
    """

    def attend(self, q: mx.array, k: mx.array, v: mx.array) -> mx.array:
        if self.training and self.dropout_p > 0:
            return super().attend(q, k, v)
        mask = "causal" if q.shape[2] > 1 else None
        scale = 1.0 / math.sqrt(q.shape[-1])
        return mx.fast.scaled_dot_product_attention(q, k, v, scale=scale, mask=mask)


def rotate(x: mx.array, start: int, base: float) -> mx.array:
    """(B, h, T, d) queries or keys -> the same, pairs rotated for positions start..start+T-1,
    pair i by the frequency base^(-2i/d)."""
    return mx.fast.rope(
        x, x.shape[-1], traditional=ROPE_INTERLEAVED, base=base, scale=1.0, offset=start
    )


class RotaryAttention(CausalSelfAttention):
    """Attention with rope: rotate queries and keys by their positions, then attend.

    Used as the first base of `rotary_attention(cls)`, so `super().attend` is `cls.attend`.
    `mx.fast.rope` computes the angles itself from the base, `model.rope_theta`: no frequencies
    are stored. Any number of heads works (grouped-query keys have fewer than the queries).
    """

    def __init__(self, config: GPTConfig) -> None:
        super().__init__(config)
        self.rope_theta = config.rope_theta  # a float attribute: not a parameter

    def attend(self, q: mx.array, k: mx.array, v: mx.array) -> mx.array:
        """(B, h, T, d) queries at positions S-T..S-1, (B, h_kv, S, d) keys and values at
        0..S-1."""
        T, S = q.shape[2], k.shape[2]
        rotated_q, rotated_k = rotate(q, S - T, self.rope_theta), rotate(k, 0, self.rope_theta)
        return super().attend(rotated_q, rotated_k, v)


@cache  # one rope class per attention class, shared by every Block (and every model)
def rotary_attention(attention: type[CausalSelfAttention]) -> type[CausalSelfAttention]:
    """`attention` with rope in front of its `attend`: the class (RotaryAttention, attention)."""
    rotary = type(f"Rotary{attention.__name__}", (RotaryAttention, attention), {})
    return cast(type[CausalSelfAttention], rotary)


@MLX_POSITION.register("rope")
class RotaryPosition(nn.Module):
    """Rotary embeddings: nothing is added to the tokens; attention rotates q and k instead.

    `traditional=ROPE_INTERLEAVED` (in `rotate`) picks the pairing: True rotates neighbours
    (x0, x1), (x2, x3), ...; False rotates (x_i, x_{i + d/2}) (the "half-split" of GPT-NeoX and
    Llama). The choice must match the PyTorch model the weights come from, or parity breaks.
    Keys arrive (and are cached) unrotated; rotation is elementwise, so rotating all S keys
    every step gives the very numbers of rotating each key once.
    """

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        check_head_size(config.head_size)  # refuse an odd head size before any Block is built

    def __call__(self, x: mx.array, positions: mx.array) -> mx.array:
        """RoPE adds nothing to the token embeddings."""
        return x

    @staticmethod
    def attention_class(cls: type[CausalSelfAttention]) -> type[CausalSelfAttention]:
        """The Block's attention class with rotary queries and keys (`rotary_attention`)."""
        return rotary_attention(cls)


def make_attention(config: GPTConfig) -> CausalSelfAttention:
    """A Block's attention: the `config.attention` class, adapted by the features the config
    switches on (`config.attention_features()`: grouped-query attention, then QK-norm), then
    by the position encoding: the order of week 3's `make_attention`."""
    attention = MLX_ATTENTION.get(config.attention)
    for feature in config.attention_features():
        attention = MLX_ATTENTION_FEATURE.get(feature)(attention)
    position = MLX_POSITION.get(config.position)
    return position.attention_class(attention)(config)


# GPT-2's LayerNorm is MLX's own: weight, and bias unless bias=False, as week 3's LayerNorm.
MLX_NORM.register("layernorm")(nn.LayerNorm)


def make_norm(config: GPTConfig) -> nn.Module:
    """A norm of width n_embd: the `config.norm` entry, with the config's bias and epsilon.
    Every norm of the GPT (ln_1, ln_2, ln_f) is made here, as in week 3."""
    return MLX_NORM.get(config.norm)(config.n_embd, bias=config.bias, eps=config.norm_eps)


@MLX_MLP.register("gelu")
class MLP(nn.Module):
    """Linear(C, h), tanh-approximated GELU (GPT-2's), Linear(h, C), dropout; h is
    `model.d_ff`, or 4C when it is left out (week 3's `default_width`)."""

    default_width = staticmethod(torch_mlp.MLP.default_width)

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        hidden = config.d_ff if config.d_ff is not None else self.default_width(config.n_embd)
        self.c_fc = nn.Linear(config.n_embd, hidden, bias=config.bias)
        self.c_proj = nn.Linear(hidden, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def __call__(self, x: mx.array) -> mx.array:
        return self.dropout(self.c_proj(nn.gelu_approx(self.c_fc(x))))


def make_mlp(config: GPTConfig) -> nn.Module:
    """A Block's feed-forward half: the `config.mlp` entry (gelu: this file's MLP)."""
    return MLX_MLP.get(config.mlp)(config)


class Block(nn.Module):
    """Pre-norm block: x + attn(ln_1(x)), then x + mlp(ln_2(x)); its attention, norms and MLP
    are the config's table entries (`make_attention`, `make_norm`, `make_mlp`)."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.ln_1 = make_norm(config)
        self.attn = make_attention(config)
        self.ln_2 = make_norm(config)
        self.mlp = make_mlp(config)

    def __call__(self, x: mx.array) -> mx.array:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))
