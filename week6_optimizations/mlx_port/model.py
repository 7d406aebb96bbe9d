"""The GPT in MLX, built from the same week-3 `GPTConfig` as the PyTorch model.

    idx (B, T) -> embed: token embedding, positions encoded (a learned table added; rope: nothing)
               -> dropout -> n_layer x Block
               -> head: ln_f, then the LM head (the token-embedding matrix when tied), then the
                  soft cap when `model.logit_softcap` is set -> (B, T, V)

The norms, the MLP and the attention (with its features) are the config's entries of the
port's tables: GPT-2's and week 6's sdpa and rope in layers.py, week 6's modern blocks
(RMSNorm, SwiGLU, ReLU^2, grouped-query attention, QK-norm, the soft cap) in modern.py.

`MLXGPT` is the twin of week 3's `GPT`: `embed(idx)` and `model(idx)` are the same steps
(PyTorch's `forward(idx, targets)` also returns the loss; here `language_model_loss` stays a
function of the logits, the one `nn.value_and_grad` differentiates). `head` has no PyTorch twin:
there the tied `lm_head` is a Linear layer sharing the embedding's matrix, here one matrix serves
both through `token_embedding.as_linear`. The KV cache is week 6's diff on top of the model,
`kv_cache.cached_forward`, as in PyTorch.

What is model and what is framework: the equations, shapes and parameter names are those of
week 3; what changes is how arrays are made and run. MLX arrays are lazy (a line of code
records a graph; `mx.eval` computes it), modules are nested dicts of arrays, and gradients come
from transforming a function (`nn.value_and_grad`) rather than from `.backward()` on a tensor.
"""

from __future__ import annotations

import math
from typing import Any

import mlx.core as mx
import mlx.nn as nn
from mlx.utils import tree_flatten, tree_unflatten

from shared.errors import CourseError
from shared.registry import Registry
from week3_model.config import GPTConfig
from week6_optimizations.mlx_port.layers import (
    MLX_ATTENTION,
    MLX_MLP,
    MLX_NORM,
    MLX_POSITION,
    Block,
    make_norm,
)
from week6_optimizations.mlx_port.modern import soft_cap  # and its entries in the tables

# The keys that name a table entry, with the MLX table that must hold it.
TABLE_KEYS: dict[str, Registry[Any]] = {
    "attention": MLX_ATTENTION,
    "position": MLX_POSITION,
    "norm": MLX_NORM,
    "mlp": MLX_MLP,
}


def check_model_options(model: GPTConfig) -> None:
    """Refuse a config naming a block the MLX port has no twin of (one that PyTorch's tables
    list, registered by a later lesson or a test), naming the key: a model that silently
    trained as something else would be a wrong answer, not an error. Every block of week 3 and
    week 6 has its twin (layers.py, modern.py), so the course's own configs all pass."""
    for key, table in TABLE_KEYS.items():
        given = getattr(model, key)
        if given not in table:
            raise CourseError(
                f"model.{key}: the MLX port builds {', '.join(table.names())}, got {given!r}; "
                "train this config with PyTorch (run.backend: torch, BACKEND=torch)"
            )


class MLXGPT(nn.Module):
    """A GPT-2 style decoder in MLX; `model(idx)` returns logits (B, T, vocab_size)."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        if config.vocab_size is None:
            raise CourseError(
                "model.vocab_size: is not set; it is taken from the tokenizer, or set it explicitly"
            )
        check_model_options(config)
        self.config = config
        self.token_embedding = nn.Embedding(config.vocab_size, config.n_embd)
        self.position_encoding = MLX_POSITION.get(config.position)(config)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = [Block(config) for _ in range(config.n_layer)]
        self.ln_f = make_norm(config)
        if not config.tie_weights:
            self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        init_gpt2_weights(self, config.n_layer)

    def embed(self, idx: mx.array) -> mx.array:
        """(B, T) ids -> (B, T, C): token vectors, with positions 0..T-1 encoded."""
        return self.position_encoding(self.token_embedding(idx), mx.arange(idx.shape[1]))

    def head(self, x: mx.array) -> mx.array:
        """(B, T, C) residual stream -> (B, T, V) logits: ln_f, then the LM head, then the soft
        cap when `model.logit_softcap` is set (PyTorch's `SoftCappedHead`)."""
        x = self.ln_f(x)
        tied = self.config.tie_weights  # tied: x @ E.T, one matrix, two uses
        logits = self.token_embedding.as_linear(x) if tied else self.lm_head(x)
        cap = self.config.logit_softcap
        return logits if cap is None else soft_cap(logits, cap)

    def __call__(self, idx: mx.array) -> mx.array:
        """(B, T) ids -> (B, T, V) logits."""
        check_input(idx, self.config.block_size)
        x = self.drop(self.embed(idx))
        for block in self.blocks:
            x = block(x)
        return self.head(x)

    def num_parameters(self) -> int:
        """Parameters counted once (a tied head is the token embedding)."""
        return sum(v.size for v in dict(tree_flatten(self.parameters())).values())


def check_input(idx: mx.array, block_size: int, start: int = 0) -> None:
    """Refuse what the model cannot read: ids that are not (batch, time), or a sequence that
    runs past position block_size - 1 (the causal mask and the learned table stop there).

    `start` is the position of idx[:, 0]; it is 0 whenever the whole sequence is given at once.
    """
    if idx.ndim != 2:
        raise CourseError(f"GPT input must be (batch, time) token ids, got shape {idx.shape}")
    T = idx.shape[1]
    if start + T > block_size:
        raise CourseError(
            f"sequence of {T} tokens starting at position {start} is longer than "
            f"block_size={block_size}; crop the context"
        )


def language_model_loss(logits: mx.array, targets: mx.array, reduction: str = "mean") -> mx.array:
    """Cross-entropy of (B, T, V) logits against (B, T) next ids; -1 targets are ignored.

    `reduction="sum"` gives total nats (for evaluation), "mean" nats per counted target. Always
    computed in float32, as PyTorch's autocast does: bfloat16 logits (train.dtype: bfloat16)
    would round the log-sum-exp and the sum over the batch.
    """
    keep = targets >= 0
    logits = logits.astype(mx.float32)  # a no-op for float32 logits
    nats = nn.losses.cross_entropy(logits, mx.maximum(targets, 0), reduction="none")
    total = (nats * keep).sum()
    if reduction == "sum":
        return total
    return total / mx.maximum(keep.sum(), 1)


def init_gpt2_weights(model: nn.Module, n_layer: int) -> None:
    """GPT-2's initialisation: matrices ~ N(0, 0.02), `c_proj` ~ N(0, 0.02 / sqrt(2 n_layer))
    (SwiGLU's too), biases 0, norm gains 1; drawn from MLX's global random state (seed it
    first)."""
    residual_std = 0.02 / math.sqrt(2 * n_layer)
    new = []
    for name, value in dict(tree_flatten(model.parameters())).items():
        if value.ndim >= 2:
            std = residual_std if name.endswith("c_proj.weight") else 0.02
            value = mx.random.normal(value.shape) * std
        elif name.endswith("bias"):
            value = mx.zeros(value.shape)
        else:  # a norm's gain (LayerNorm, RMSNorm, QK-norm)
            value = mx.ones(value.shape)
        new.append((name, value))
    model.update(tree_unflatten(new))
    mx.eval(model.parameters())
