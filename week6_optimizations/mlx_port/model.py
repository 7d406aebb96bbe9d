"""The GPT in MLX, built from the same week-3 `GPTConfig` as the PyTorch model.

    idx (B, T) -> token embedding (+ learned positions) -> dropout -> n_layer x Block
               -> ln_f -> LM head (the token-embedding matrix when tied) -> logits (B, T, V)

What is model and what is framework: the equations, shapes and parameter names are those of
week 3; what changes is how arrays are made and run. MLX arrays are lazy (a line of code
records a graph; `mx.eval` computes it), modules are nested dicts of arrays, and gradients come
from transforming a function (`nn.value_and_grad`) rather than from `.backward()` on a tensor.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import mlx.core as mx
import mlx.nn as nn
from mlx.utils import tree_flatten, tree_unflatten

from shared.errors import CourseError
from week3_model.config import GPTConfig
from week6_optimizations.mlx_port.layers import MLX_POSITION, Block, KVCache


class MLXGPT(nn.Module):
    """A GPT-2 style decoder in MLX; `model(idx)` returns logits (B, T, vocab_size)."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        if config.vocab_size is None:
            raise CourseError(
                "model.vocab_size: is not set; it is taken from the tokenizer, or set it explicitly"
            )
        self.config = config
        self.token_embedding = nn.Embedding(config.vocab_size, config.n_embd)
        self.position_encoding = MLX_POSITION.get(config.position)(config)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = [Block(config) for _ in range(config.n_layer)]
        self.ln_f = nn.LayerNorm(config.n_embd, eps=1e-5, bias=config.bias)
        if not config.tie_weights:
            self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        init_gpt2_weights(self, config.n_layer)

    def __call__(
        self, idx: mx.array, start_pos: int = 0, kv_cache: Sequence[KVCache] | None = None
    ) -> mx.array:
        """(B, T) ids -> (B, T, V) logits; with a cache, `start_pos` tokens were seen before."""
        if idx.ndim != 2:
            raise CourseError(f"GPT input must be (batch, time) token ids, got shape {idx.shape}")
        T = idx.shape[1]
        if start_pos + T > self.config.block_size:
            raise CourseError(
                f"sequence of {T} tokens starting at position {start_pos} is longer than "
                f"block_size={self.config.block_size}; crop the context"
            )
        x = self.token_embedding(idx)
        position_vectors = self.position_encoding.embed(start_pos, T)
        if position_vectors is not None:
            x = x + position_vectors
        x = self.drop(x)
        for i, block in enumerate(self.blocks):
            x = block(
                x, start_pos, self.position_encoding, None if kv_cache is None else kv_cache[i]
            )
        x = self.ln_f(x)
        if self.config.tie_weights:
            return self.token_embedding.as_linear(x)  # x @ E.T: one matrix, two uses
        return self.lm_head(x)

    def new_cache(self) -> list[KVCache]:
        """An empty KV cache, one per layer."""
        return [KVCache() for _ in self.blocks]

    def num_parameters(self) -> int:
        """Parameters counted once (a tied head is the token embedding)."""
        return sum(v.size for v in dict(tree_flatten(self.parameters())).values())


def language_model_loss(logits: mx.array, targets: mx.array, reduction: str = "mean") -> mx.array:
    """Cross-entropy of (B, T, V) logits against (B, T) next ids; -1 targets are ignored.

    `reduction="sum"` gives total nats (for evaluation), "mean" nats per counted target.
    """
    keep = targets >= 0
    nats = nn.losses.cross_entropy(logits, mx.maximum(targets, 0), reduction="none")
    total = (nats * keep).sum()
    if reduction == "sum":
        return total
    return total / mx.maximum(keep.sum(), 1)


def init_gpt2_weights(model: nn.Module, n_layer: int) -> None:
    """GPT-2's initialisation: matrices ~ N(0, 0.02), `c_proj` ~ N(0, 0.02 / sqrt(2 n_layer)),
    biases 0, LayerNorm gains 1; drawn from MLX's global random state (seed it first)."""
    residual_std = 0.02 / math.sqrt(2 * n_layer)
    new = []
    for name, value in dict(tree_flatten(model.parameters())).items():
        if value.ndim >= 2:
            std = residual_std if name.endswith("c_proj.weight") else 0.02
            value = mx.random.normal(value.shape) * std
        elif name.endswith("bias"):
            value = mx.zeros(value.shape)
        else:  # a LayerNorm gain
            value = mx.ones(value.shape)
        new.append((name, value))
    model.update(tree_unflatten(new))
    mx.eval(model.parameters())
