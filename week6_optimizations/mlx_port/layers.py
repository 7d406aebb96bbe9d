"""The pieces of a Block in MLX: positions, causal self-attention, MLP, the Block itself.

Each class mirrors its PyTorch twin in week 3 (and week 6 for rope / sdpa), with the same
attribute names, so a parameter is called `blocks.0.attn.c_attn.weight` in both frameworks.

Shapes: B batch, T new tokens, S keys seen (S = T without a cache), C = n_embd, h heads,
d = C // h. MLX's `nn.Linear` stores its weight as (out, in) and computes x @ W.T + b, exactly
like PyTorch, so weights cross between the two without a transpose (GPT-2's original Conv1D
stores (in, out): that is the layout trap of week 3's `pretrained.py`, not of this port).
"""

from __future__ import annotations

import math
from functools import partial
from typing import Protocol

import mlx.core as mx
import mlx.nn as nn

from shared.registry import Registry
from week3_model.config import GPTConfig
from week6_optimizations.rope import ROPE_BASE, rope_frequencies


class PositionEncoding(Protocol):
    """What an `MLX_POSITION` entry is: an `nn.Module` built as `cls(config)` with week 3's two
    hooks, given the first position and a length rather than a tensor of positions."""

    def __init__(self, config: GPTConfig) -> None: ...

    def embed(self, start_pos: int, length: int) -> mx.array | None: ...

    def rotate(self, q: mx.array, k: mx.array, start_pos: int) -> tuple[mx.array, mx.array]: ...


MLX_POSITION: Registry[type[PositionEncoding]] = Registry("MLX position")
# Every attention entry is `CausalSelfAttention` or a subclass that overrides `attend`.
MLX_ATTENTION: Registry[type[CausalSelfAttention]] = Registry("MLX attention")

# Week 6's PyTorch rope pairs neighbours (x0, x1), (x2, x3), ...: MLX calls that "traditional".
ROPE_INTERLEAVED = True


@MLX_POSITION.register("learned")
class LearnedPosition(nn.Module):
    """GPT-2's learned table: row p of a (block_size, C) matrix is added to token p."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.table = nn.Embedding(config.block_size, config.n_embd)

    def embed(self, start_pos: int, length: int) -> mx.array | None:
        """(T, C) vectors of positions start_pos .. start_pos + T - 1."""
        return self.table(mx.arange(start_pos, start_pos + length))

    def rotate(self, q: mx.array, k: mx.array, start_pos: int) -> tuple[mx.array, mx.array]:
        return q, k


@MLX_POSITION.register("rope")
class RotaryPosition(nn.Module):
    """Rotary embeddings: no table; queries and keys are rotated by angle position x theta_i.

    `traditional=ROPE_INTERLEAVED` picks the pairing: True rotates neighbours (x0, x1),
    (x2, x3), ...; False rotates (x_i, x_{i + d/2}) (the "half-split" of GPT-NeoX and Llama).
    The choice must match the PyTorch model the weights come from, or parity breaks.
    """

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.head_size = config.n_embd // config.n_head
        rope_frequencies(self.head_size)  # the same check: an odd head size is a CourseError

    def embed(self, start_pos: int, length: int) -> mx.array | None:
        return None

    def rotate(self, q: mx.array, k: mx.array, start_pos: int) -> tuple[mx.array, mx.array]:
        """(B, h, T, d) -> same shapes, rotated for absolute positions start_pos onwards."""
        rope = partial(
            mx.fast.rope,
            dims=self.head_size,
            traditional=ROPE_INTERLEAVED,
            base=ROPE_BASE,
            scale=1.0,
            offset=start_pos,
        )
        return rope(q), rope(k)


class KVCache:
    """One layer's keys and values so far, (B, h, S, d); `update` appends and returns them all."""

    def __init__(self) -> None:
        self.keys: mx.array | None = None
        self.values: mx.array | None = None

    @property
    def length(self) -> int:
        return 0 if self.keys is None else self.keys.shape[2]

    def update(self, k: mx.array, v: mx.array) -> tuple[mx.array, mx.array]:
        if self.keys is None or self.values is None:
            self.keys, self.values = k, v
        else:
            self.keys = mx.concatenate([self.keys, k], axis=2)
            self.values = mx.concatenate([self.values, v], axis=2)
        return self.keys, self.values


def future_mask(n_queries: int, n_keys: int) -> mx.array:
    """(T, S) bool, True where key s lies after query t; the queries are the last T of S."""
    query_pos = mx.arange(n_keys - n_queries, n_keys)[:, None]
    return mx.arange(n_keys)[None, :] > query_pos


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

    def split_heads(self, x: mx.array) -> mx.array:
        """(B, T, C) -> (B, h, T, d)."""
        B, T, C = x.shape
        return x.reshape(B, T, self.n_head, C // self.n_head).transpose(0, 2, 1, 3)

    def merge_heads(self, y: mx.array) -> mx.array:
        """(B, h, T, d) -> (B, T, C)."""
        B, _, T, _ = y.shape
        return y.transpose(0, 2, 1, 3).reshape(B, T, self.n_embd)

    def attend(self, q: mx.array, k: mx.array, v: mx.array) -> mx.array:
        """Masked attention of T queries over S keys -> (B, h, T, d)."""
        scores = (q @ k.transpose(0, 1, 3, 2)) * (1.0 / math.sqrt(q.shape[-1]))
        scores = mx.where(future_mask(q.shape[2], k.shape[2]), -mx.inf, scores)
        weights = mx.softmax(scores, axis=-1)
        return self.attn_dropout(weights) @ v

    def __call__(
        self, x: mx.array, start_pos: int, position: PositionEncoding, cache: KVCache | None = None
    ) -> mx.array:
        q, k, v = mx.split(self.c_attn(x), 3, axis=-1)
        q, k, v = self.split_heads(q), self.split_heads(k), self.split_heads(v)
        q, k = position.rotate(q, k, start_pos)
        if cache is not None:
            k, v = cache.update(k, v)
        y = self.attend(q, k, v)
        return self.resid_dropout(self.c_proj(self.merge_heads(y)))


@MLX_ATTENTION.register("sdpa")
class FastAttention(CausalSelfAttention):
    """The fused kernel `mx.fast.scaled_dot_product_attention`; same numbers, less memory.

    Its "causal" mask aligns the last query with the last key, which is exactly the KV-cache
    case. The kernel has no dropout, so while training with dropout > 0 it falls back to the
    written-out path (the same distribution of outputs; PyTorch's SDPA takes `dropout_p`).
    """

    def attend(self, q: mx.array, k: mx.array, v: mx.array) -> mx.array:
        if self.training and self.dropout_p > 0:
            return super().attend(q, k, v)
        mask = "causal" if q.shape[2] > 1 else None
        scale = 1.0 / math.sqrt(q.shape[-1])
        return mx.fast.scaled_dot_product_attention(q, k, v, scale=scale, mask=mask)


class MLP(nn.Module):
    """Linear(C, 4C), tanh-approximated GELU (GPT-2's), Linear(4C, C), dropout."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def __call__(self, x: mx.array) -> mx.array:
        return self.dropout(self.c_proj(nn.gelu_approx(self.c_fc(x))))


class Block(nn.Module):
    """Pre-norm block: x + attn(ln_1(x)), then x + mlp(ln_2(x))."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, eps=1e-5, bias=config.bias)
        self.attn = MLX_ATTENTION.get(config.attention)(config)
        self.ln_2 = nn.LayerNorm(config.n_embd, eps=1e-5, bias=config.bias)
        self.mlp = MLP(config)

    def __call__(
        self, x: mx.array, start_pos: int, position: PositionEncoding, cache: KVCache | None = None
    ) -> mx.array:
        x = x + self.attn(self.ln_1(x), start_pos, position, cache)
        return x + self.mlp(self.ln_2(x))
