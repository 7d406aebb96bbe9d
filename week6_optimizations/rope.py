"""Rotary position embeddings (RoPE): position as a rotation of query and key features.

Split a head's d features into d/2 pairs and treat pair i as a point in the plane. At position m
rotate it by the angle m * theta_i, with one frequency per pair (fast ones first, slow ones last):

    theta_i = base^(-2i / d),  i = 0 .. d/2 - 1,   base = model.rope_theta (10000 by default)

    [x'_a]   [cos(m theta_i)  -sin(m theta_i)] [x_a]
    [x'_b] = [sin(m theta_i)   cos(m theta_i)] [x_b]

Why relative positions fall out: a rotation R(a) is orthogonal and R(a)^T R(b) = R(b - a), so for
a query at position m and a key at position n

    (R(m theta) q) . (R(n theta) k) = q . R((n - m) theta) k

The score depends on the offset n - m only, never on m or n alone. Nothing is added to the
residual stream and no table is learned; any position works.

The base sets the slowest rotation, base^(-(d-2)/d), close to 1/base radian per position: a
larger base keeps distant positions apart over a longer context. RoFormer and GPT-NeoX use
10000 (the default here); LLaMA 3 uses `rope_theta: 500000` for its 8192-token context.

How it plugs into week 3's model (the diff is this file): the position module adds nothing
(`forward(x, positions)` returns x), and its `attention_class(cls)` returns a subclass of the
attention class whose `attend` rotates first and then attends as `cls` does:

    def attend(self, q, k, v):                       # T queries are the last T of S keys
        q = rotate(q, positions S-T .. S-1)
        k = rotate(k, positions 0 .. S-1)
        return super().attend(q, k, v)               # naive or sdpa, unchanged

So rope composes with any attention. A KV cache (kv_cache.py) stores keys unrotated and they are
rotated again at their absolute positions at every step; every operation of the rotation is
elementwise, so that gives the same bits as rotating each key once (the tests check it).

Which features form a pair is a convention, and the two in use are NOT interchangeable:

- interleaved: pairs (x0, x1), (x2, x3), ...      RoFormer paper, Meta's original LLaMA code
- half-split:  pairs (x_i, x_{i + d/2})            GPT-NeoX, Hugging Face LLaMA

Both compute the same function up to a fixed permutation of the d features of q and k. So weights
trained under one convention work under the other only after permuting the rows of the query and
key projections (Hugging Face's LLaMA conversion script does exactly that); load them unpermuted
and the model runs without any error but pairs the wrong features and produces garbage. This
course's `rope` uses the interleaved layout, the one the derivation above reads naturally;
`rotate_half_split` and `interleaved_to_half_split` are here to show and test the equivalence.
"""

from __future__ import annotations

from typing import cast

import torch
from torch import Tensor, nn

from shared.errors import CourseError
from week3_model import CausalSelfAttention, GPTConfig

ROPE_BASE = 10000.0  # RoFormer's base; `model.rope_theta` sets it per model (same default)


def check_head_size(head_size: int) -> None:
    """Rope rotates pairs of features, so a head needs an even number of them."""
    if head_size % 2:
        raise CourseError(f"rope needs an even head size (n_embd // n_head), got {head_size}")


def rope_frequencies(head_size: int, base: float = ROPE_BASE) -> Tensor:
    """The d/2 angular frequencies theta_i = base^(-2i/d), from 1 down towards 1/base."""
    check_head_size(head_size)
    exponents = torch.arange(0, head_size, 2, dtype=torch.float32) / head_size
    return base**-exponents


def rotation_angles(positions: Tensor, frequencies: Tensor) -> tuple[Tensor, Tensor]:
    """(T,) positions, (d/2,) frequencies -> cos and sin of m * theta_i, each (T, d/2) float32."""
    angles = positions.to(torch.float32)[:, None] * frequencies.to(positions.device)[None, :]
    return torch.cos(angles), torch.sin(angles)


def rotate_interleaved(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """Rotate pairs (x0, x1), (x2, x3), ... of (..., T, d) x by (T, d/2) angles; same dtype out."""
    # BEGIN TASK 6.1 [RoPE: position as a rotation]: rotate pairs (x0, x1), (x2, x3)... by cos, sin
    a, b = x[..., 0::2].float(), x[..., 1::2].float()
    rotated = torch.stack((a * cos - b * sin, a * sin + b * cos), dim=-1)
    return rotated.flatten(-2).to(x.dtype)
    # END TASK 6.1


def rotate_half_split(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """Rotate pairs (x_i, x_{i+d/2}) of (..., T, d) x by (T, d/2) angles (GPT-NeoX layout)."""
    half = x.size(-1) // 2
    a, b = x[..., :half].float(), x[..., half:].float()
    return torch.cat((a * cos - b * sin, a * sin + b * cos), dim=-1).to(x.dtype)


def interleaved_to_half_split(head_size: int) -> Tensor:
    """The feature order [0, 2, 4, ..., 1, 3, 5, ...] that turns one layout into the other:

    rotate_half_split(x[..., p], cos, sin) == rotate_interleaved(x, cos, sin)[..., p]

    Applied to the rows of each head of the query and key projections, it converts weights.
    """
    return torch.cat((torch.arange(0, head_size, 2), torch.arange(1, head_size, 2)))


class RotaryAttention(CausalSelfAttention):
    """Attention with rope: rotate queries and keys by their positions, then attend.

    Used as the first base of `rotary_attention(cls)`, so `super().attend` is `cls.attend`.
    """

    frequencies: Tensor  # (d // 2,) rotation speeds of the channel pairs; a buffer

    def __init__(self, config: GPTConfig) -> None:
        super().__init__(config)
        frequencies = rope_frequencies(config.head_size, base=config.rope_theta)
        self.register_buffer("frequencies", frequencies, persistent=False)

    def attend(self, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        """(B, h, T, d) queries at positions S-T..S-1, (B, h, S, d) keys and values at 0..S-1."""
        # BEGIN TASK 6.2 [RoPE: position as a rotation]: rotate q at S-T..S-1, k at 0..S-1; attend
        T, S = q.size(-2), k.size(-2)
        cos, sin = rotation_angles(torch.arange(S, device=k.device), self.frequencies)
        q = rotate_interleaved(q, cos[S - T :], sin[S - T :])
        k = rotate_interleaved(k, cos, sin)
        return super().attend(q, k, v)
        # END TASK 6.2


# One rope class per attention class, so that every Block of a model (and every model) shares it.
_ROTARY: dict[type[CausalSelfAttention], type[CausalSelfAttention]] = {}


def rotary_attention(attention: type[CausalSelfAttention]) -> type[CausalSelfAttention]:
    """`attention` with rope in front of its `attend`: the class (RotaryAttention, attention)."""
    if attention not in _ROTARY:
        name = f"Rotary{attention.__name__}"
        _ROTARY[attention] = cast(
            type[CausalSelfAttention], type(name, (RotaryAttention, attention), {})
        )
    return _ROTARY[attention]


class RotaryPosition(nn.Module):
    """`model.position: rope`: nothing added to the embeddings; attention rotates q and k."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        check_head_size(config.head_size)  # refuse an odd head size before any Block is built

    def forward(self, x: Tensor, positions: Tensor) -> Tensor:
        """(B, T, C) token embeddings pass unchanged: rope adds nothing to the residual stream."""
        return x

    @staticmethod
    def attention_class(cls: type[CausalSelfAttention]) -> type[CausalSelfAttention]:
        """The Block's attention class with rotary queries and keys (`rotary_attention`)."""
        return rotary_attention(cls)
