"""The KV cache: generation as a recurrence instead of a recomputation.

Without a cache, generating token n+1 runs the model on all n tokens again, although the keys and
values of tokens 0..n-1 are exactly what they were one step earlier (causal attention: a token's
k and v depend only on the tokens before it). So keep them. Per layer:

    K_n = [K_{n-1}; k_n]      V_n = [V_{n-1}; v_n]      y_n = softmax(q_n K_n^T / sqrt(d)) V_n

Each step then feeds ONE token: the work per token drops from O(n) tokens through every matmul
to O(1) tokens (plus one attention row over n keys), and the memory is 2 x n_layer x n x C
numbers per sequence.

The diff against week 3's model is one function, `cached_forward`: GPT.forward with a memory.

    week 3, GPT.forward(idx)                      here, cached_forward(model, idx, cache)
    positions 0 .. T-1                            positions n .. n+T-1, n = cache.length
    per block:                                    per block, with its layer's cache:
        x = x + attn(ln_1(x))                         q, k, v = attn.project(ln_1(x))
                                                      k, v = layer.update(k, v)    # all S keys
                                                      x = x + attn.output(attn.attend(q, k, v))
        x = x + mlp(ln_2(x))                          x = x + mlp(ln_2(x))

Week 3's `attend` already takes T queries that are the last T of S keys, so neither the
attention (naive or sdpa) nor the position encodings change: rope rotates the cached keys at
their absolute positions 0..S-1 inside `attend`, which is why the cache holds them unrotated.

`LayerKVCache` preallocates (B, n_head, block_size, d) buffers on the first update and writes
into them, instead of concatenating, which would copy the whole cache every step. It is for
inference (under `torch.no_grad()`): the returned tensors are views of buffers that later
updates write into.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast, overload

import torch
from torch import Tensor

from shared.errors import CourseError
from week3_model import GPT, Block, check_input


class LayerKVCache:
    """One layer's keys and values for positions 0..length-1, in preallocated buffers."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.length = 0
        self.keys: Tensor | None = None
        self.values: Tensor | None = None

    def update(self, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Append (B, h, T, d) keys and values; return all so far, (B, h, length + T, d)."""
        end = self.length + k.size(2)
        if end > self.capacity:
            raise CourseError(
                f"KV cache holds at most {self.capacity} positions (block_size); "
                f"{self.length} are cached and {k.size(2)} more were given"
            )
        # BEGIN TASK 6.4 [The KV cache: generation as a recurrence]: append k, v; return all so far
        if (
            self.keys is None
            or self.values is None
            or self.keys.shape[:2] != k.shape[:2]
            or self.keys.dtype != k.dtype
        ):
            B, h, _, d = k.shape
            self.keys = k.new_empty(B, h, self.capacity, d)
            self.values = v.new_empty(B, h, self.capacity, v.size(-1))
        self.keys[:, :, self.length : end] = k
        self.values[:, :, self.length : end] = v
        self.length = end
        return self.keys[:, :, :end], self.values[:, :, :end]
        # END TASK 6.4

    def reset(self) -> None:
        """Forget every position (the buffers are kept and overwritten)."""
        self.length = 0


class KVCache(Sequence[LayerKVCache]):
    """A model's cache: one `LayerKVCache` per layer; `cached_forward(model, idx, cache)`."""

    def __init__(self, n_layer: int, block_size: int) -> None:
        self.layers = [LayerKVCache(block_size) for _ in range(n_layer)]

    @overload
    def __getitem__(self, index: int) -> LayerKVCache: ...

    @overload
    def __getitem__(self, index: slice) -> list[LayerKVCache]: ...

    def __getitem__(self, index: int | slice) -> LayerKVCache | list[LayerKVCache]:
        """`cache[i]` is layer i's cache (a slice gives a list of them, as in any sequence)."""
        return self.layers[index]

    def __len__(self) -> int:
        return len(self.layers)

    @property
    def length(self) -> int:
        """How many positions are cached (the same in every layer): the next token's position."""
        return self.layers[0].length

    def reset(self) -> None:
        for layer in self.layers:
            layer.reset()


def cached_forward(model: GPT, idx: Tensor, cache: KVCache) -> Tensor:
    """Logits (B, T, vocab_size) of T new tokens that follow the `cache.length` tokens cached.

    The first call (an empty cache) is the prefill of a prompt; later calls feed the new tokens
    only. The logits are GPT.forward's on the whole sequence, position by position (to float
    rounding: attending over cached keys may add in another order).
    """
    start = cache.length
    check_input(idx, model.config.block_size, start)
    positions = torch.arange(start, start + idx.size(1), device=idx.device)
    x = model.drop(model.position_encoding(model.token_embedding(idx), positions))
    for block, layer in zip(model.blocks, cache, strict=True):
        x = cached_block(cast(Block, block), x, layer)  # (a ModuleList yields plain Modules)
    return model.lm_head(model.ln_f(x))


def cached_block(block: Block, x: Tensor, layer: LayerKVCache) -> Tensor:
    """Block.forward with its layer's cache: attention sees every key so far, old and new."""
    # BEGIN TASK 6.5 [The diff: week 3's forward with a memory]: Block.forward with the layer cache
    attn = block.attn
    q, k, v = attn.project(block.ln_1(x))
    k, v = layer.update(k, v)  # this call's keys and values after all the cached ones
    x = x + attn.output(attn.attend(q, k, v))
    return x + block.mlp(block.ln_2(x))
    # END TASK 6.5
