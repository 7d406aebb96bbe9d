"""The KV cache in MLX: week 6's `kv_cache` twin, generation as a recurrence.

    K_n = [K_{n-1}; k_n]      V_n = [V_{n-1}; v_n]      y_n = softmax(q_n K_n^T / sqrt(d)) V_n

The same names as PyTorch's: `LayerKVCache` (one layer's keys and values), `KVCache` (the
model's, one per layer), `cached_forward(model, idx, cache)`, the model's forward pass with a
memory, and `cached_block`, one Block's step. The model is unchanged; `cached_block` calls the
parts of a Block's attention (`project`, `attend`, `output`) and puts `update` between the
projection and the attention. Positions start at `cache.length`.

The cache holds what `project` returns, so it needs no change for week 6's modern attention:
under grouped-query attention (`model.n_kv_head`) the keys and values have n_kv_head heads, and
the cache holds 2 x n_layer x S x n_kv_head x d numbers per sequence instead of n_head's; with
QK-norm it holds normalised keys (each token's own norm, computed once), unrotated as always.

What is framework: MLX arrays are values, never written in place, so a layer's cache grows by
`mx.concatenate` where PyTorch writes into a preallocated buffer. The result is the same keys and
values; MLX's lazy graph simply holds the new array (evaluate the cache with the logits, or the
graph grows with every step).
"""

from __future__ import annotations

import mlx.core as mx

from shared.errors import CourseError
from week6_optimizations.mlx_port.layers import Block
from week6_optimizations.mlx_port.model import MLXGPT, check_input


class LayerKVCache:
    """One layer's keys and values for positions 0..length-1, (B, h_kv, length, d) each, h_kv
    the key/value heads (n_kv_head under grouped-query attention, else n_head)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.keys: mx.array | None = None
        self.values: mx.array | None = None

    @property
    def length(self) -> int:
        return 0 if self.keys is None else self.keys.shape[2]

    def update(self, k: mx.array, v: mx.array) -> tuple[mx.array, mx.array]:
        """Append (B, h_kv, T, d) keys and values; return all so far, (B, h_kv, length + T, d)."""
        if self.length + k.shape[2] > self.capacity:
            raise CourseError(
                f"KV cache holds at most {self.capacity} positions (block_size); "
                f"{self.length} are cached and {k.shape[2]} more were given"
            )
        if self.keys is None or self.values is None:
            self.keys, self.values = k, v
        else:
            self.keys = mx.concatenate([self.keys, k], axis=2)
            self.values = mx.concatenate([self.values, v], axis=2)
        return self.keys, self.values

    def reset(self) -> None:
        """Forget every position."""
        self.keys = self.values = None


class KVCache(list[LayerKVCache]):
    """A model's cache: `cache[i]` is layer i's `LayerKVCache`."""

    def __init__(self, n_layer: int, block_size: int) -> None:
        super().__init__(LayerKVCache(block_size) for _ in range(n_layer))

    @property
    def length(self) -> int:
        """How many positions are cached (the same in every layer): where the next token sits."""
        return self[0].length

    def reset(self) -> None:
        for layer in self:
            layer.reset()


def cached_forward(model: MLXGPT, idx: mx.array, cache: KVCache) -> mx.array:
    """(B, T) new ids -> (B, T, V) logits, their positions starting at `cache.length`.

    `model(idx)` with a memory: each layer's new keys and values join the cache before its
    attention reads them, so T new queries attend over all cache.length + T keys.
    """
    start = cache.length
    check_input(idx, model.config.block_size, start)
    positions = mx.arange(start, start + idx.shape[1])
    x = model.drop(model.position_encoding(model.token_embedding(idx), positions))
    for block, layer in zip(model.blocks, cache, strict=True):
        x = cached_block(block, x, layer)
    return model.head(x)


def cached_block(block: Block, x: mx.array, layer: LayerKVCache) -> mx.array:
    """`block(x)` with its layer's cache: attention sees every key so far, old and new."""
    attn = block.attn
    q, k, v = attn.project(block.ln_1(x))
    k, v = layer.update(k, v)  # this call's keys and values after all the cached ones
    x = x + attn.output(attn.attend(q, k, v))
    return x + block.mlp(block.ln_2(x))
