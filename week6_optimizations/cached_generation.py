"""Cached generation for week 5's `generate`: prefill once, then one token per step.

Week 5's `generate` asks a `NextTokenLogits` object for the next token's logits, given the whole
sequence so far. `CachedLogits` answers from a `KVCache` with `cached_forward`: the first call
runs the model on the prompt (the prefill) and every later call feeds only the one new token, at
its absolute position. Sampling, the seeded generator and stopping stay week 5's, so the tokens
are the same. `make sample DECODER=kv_cache` finds it in the decoder table of pyproject.toml
(`tiny_gpt.decoder`), beside week 5's `full`.

The context rule (what the model sees once the sequence outgrows block_size)
-----------------------------------------------------------------------------
The model sees a window ids[start:] of at most block_size tokens. `ContextWindow` moves it:

    when the window would hold more than block_size tokens, it restarts at the last `keep` tokens

The cache holds exactly the window, with positions counted from the window's first token (0), so
when the window moves, the cache is emptied and the new window is prefilled. Two settings:

- keep = block_size (the default): the window slides by one token every step past the limit,
  exactly week 5's `crop_context`, so cached and uncached generation give the same tokens. The
  price: past block_size every step is a prefill of block_size tokens (no cheaper than without a
  cache), because with learned positions every cached key was computed at a position that has
  now shifted by one; nothing cached stays valid.
- keep < block_size (e.g. block_size // 2): after a prefill of `keep` tokens there is room for
  block_size - keep cheap steps, so a long generation costs one prefill per block_size - keep
  tokens. The model sees a shorter context right after each jump. `WindowedLogits` is the
  uncached computation with the same rule, the reference these tokens must equal.
"""

from __future__ import annotations

import torch
from torch import Tensor

from shared.errors import CourseError
from week3_model import GPT
from week6_optimizations.kv_cache import KVCache, cached_forward


class ContextWindow:
    """Where the visible window starts; moves only when the window would exceed block_size."""

    def __init__(self, block_size: int, keep: int | None = None) -> None:
        keep = block_size if keep is None else keep
        if not 1 <= keep <= block_size:
            raise CourseError(f"keep: must be between 1 and block_size={block_size}, got {keep}")
        self.block_size = block_size
        self.keep = keep
        self.start = 0

    def advance(self, length: int) -> bool:
        """The sequence now has `length` tokens; return True if the window had to move."""
        if length < self.start:  # a shorter sequence than before: a new one
            self.start = 0
            return True
        if length - self.start > self.block_size:
            self.start = length - self.keep
            return True
        return False


class CachedLogits:
    """Week 5's `NextTokenLogits` with a KV cache: the decoder `kv_cache`."""

    def __init__(self, model: GPT, keep: int | None = None) -> None:
        self.model = model
        config = model.config
        self.window = ContextWindow(config.block_size, keep)
        self.cache = KVCache(config.n_layer, config.block_size)

    @torch.no_grad()
    def __call__(self, ids: Tensor) -> Tensor:
        """(1, n) whole sequence -> (vocab_size,) logits; feeds only the tokens not yet cached."""
        moved = self.window.advance(ids.size(1))
        seen = self.window.start + self.cache.length
        if moved or seen >= ids.size(1):  # moved, or not an extension: start over
            self.cache.reset()
            seen = self.window.start
        fresh = ids[:, seen:]
        return cached_forward(self.model, fresh, self.cache)[0, -1]


class WindowedLogits:
    """The uncached reference for any `keep`: run the model on the whole window every step."""

    def __init__(self, model: GPT, keep: int | None = None) -> None:
        self.model = model
        self.window = ContextWindow(model.config.block_size, keep)

    @torch.no_grad()
    def __call__(self, ids: Tensor) -> Tensor:
        self.window.advance(ids.size(1))
        logits, _ = self.model(ids[:, self.window.start :])
        return logits[0, -1]
