"""Where a token is: position encodings, looked up by name in the `POSITION` table.

Attention on its own is order-blind: shuffle the keys and the weighted average is the same. A
position encoding gives the model the order back. It can act in one of two places, so every
encoding has two hooks (and uses the one it needs):

    embed(positions)         -> (T, C) vector added to the token embeddings, or None
    rotate(q, k, positions)  -> (q, k) transformed inside attention, per head

`positions` is a (T,) tensor of *absolute* positions: 0..T-1 in training, start_pos..start_pos+T-1
when a generator feeds one new token at a time with a KV cache (see gpt.py).

GPT-2's encoding is `learned`: a trainable table of block_size vectors, one per position, added to
the token embeddings; its `rotate` does nothing. Week 6 registers `rope` (rotary embeddings), which
returns None from `embed` and rotates q and k instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

import torch
from torch import Tensor, nn

from week3_model.config import GPTConfig


class PositionEncoding(Protocol):
    """What a `POSITION` entry is: an `nn.Module` built as `cls(config)` with these two hooks
    (`parameters` is the module's own, listed so that the GPT can count them)."""

    def __init__(self, config: GPTConfig) -> None: ...

    def embed(self, positions: Tensor) -> Tensor | None: ...

    def rotate(self, q: Tensor, k: Tensor, positions: Tensor) -> tuple[Tensor, Tensor]: ...

    def parameters(self) -> Iterator[nn.Parameter]: ...


class LearnedPosition(nn.Module):
    """GPT-2's position embedding: row p of a (block_size, n_embd) table is position p's vector."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.table = nn.Embedding(config.block_size, config.n_embd)

    def embed(self, positions: Tensor) -> Tensor:
        """(T,) absolute positions -> (T, C), broadcast over the batch when added to tokens."""
        return self.table(positions)

    def rotate(self, q: Tensor, k: Tensor, positions: Tensor) -> tuple[Tensor, Tensor]:
        """Learned positions live in the residual stream, so queries and keys pass unchanged."""
        return q, k


def absolute_positions(start_pos: int, length: int, device: torch.device) -> Tensor:
    """The (length,) positions start_pos, start_pos+1, ... of a chunk of tokens."""
    return torch.arange(start_pos, start_pos + length, device=device)
