"""Where a token is: position encodings, looked up by name in the `POSITION` table.

Attention on its own is order-blind: shuffle the keys and the weighted average is the same. A
position encoding gives the model the order back. GPT-2's encoding, `learned`, is a trainable
table of block_size vectors, one per position, added to the token embeddings:

    x = token_embedding(idx) + table(positions)        positions = 0, 1, ..., T-1

An encoding is a module `cls(config)` called as `encoding(x, positions)` on the (B, T, C) token
embeddings. Some encodings act inside attention instead, on each head's queries and keys (week 6
rotates them); the static method `attention_class(cls)` says how an encoding changes the
attention class a Block builds. Learned positions change nothing there: it returns `cls`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol, TypeVar

from torch import Tensor, nn

from week3_model.config import GPTConfig

Attention = TypeVar("Attention", bound=nn.Module)  # an attention class (see attention.py)


class PositionEncoding(Protocol):
    """What a `POSITION` entry is: an `nn.Module` built as `cls(config)` with these methods
    (`parameters` is the module's own, listed so that the GPT can count them)."""

    def __init__(self, config: GPTConfig) -> None: ...

    def __call__(self, x: Tensor, positions: Tensor) -> Tensor: ...

    @staticmethod
    def attention_class(cls: type[Attention]) -> type[Attention]: ...

    def parameters(self) -> Iterator[nn.Parameter]: ...


class LearnedPosition(nn.Module):
    """GPT-2's position embedding: row p of a (block_size, n_embd) table is position p's vector."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.table = nn.Embedding(config.block_size, config.n_embd)

    def forward(self, x: Tensor, positions: Tensor) -> Tensor:
        """(B, T, C) token embeddings at (T,) positions -> x + table(positions), same shape."""
        return x + self.table(positions)

    @staticmethod
    def attention_class(cls: type[Attention]) -> type[Attention]:
        """Learned positions live in the residual stream, so attention stays as it is."""
        return cls
