"""The GPT: embeddings, a stack of Blocks, a final LayerNorm and the language-model head.

    idx (B, T) token ids
      -> token embedding (B, T, C) + position embedding (T, C) -> dropout
      -> n_layer x Block                                  the residual stream, (B, T, C)
      -> ln_f -> lm_head                                  logits (B, T, vocab_size)

Logits at position t score every possible *next* token given tokens 0..t. With `targets` (the
input shifted left by one) forward also returns the mean cross-entropy; targets equal to -1 are
ignored (`ignore_index=-1`), which lets a batch mark padding or unwanted positions.

The attention, the position encoding, the norms and the MLP are looked up by name
(`model.attention`, `model.position`, `model.norm`, `model.mlp`) in the tables of config.py:
`Block` builds `make_attention`, `make_norm` and `make_mlp` of the config and `GPT` builds
`POSITION.get(config.position)(config)` and the final norm. Week 3 provides `naive`, `learned`,
`layernorm` and `gelu`; later variants plug in there, without a change to this file.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from shared.errors import CourseError
from week3_model.block import Block
from week3_model.config import HEAD, POSITION, GPTConfig
from week3_model.layernorm import LayerNorm, make_norm

# How `parameter_breakdown` names the parts; a tied LM head shares the token embedding (0 extra).
_COMPONENT = {
    "token_embedding": "token embedding",
    "position_encoding": "position embedding",
    "attn": "attention",
    "mlp": "MLP",
    "ln_1": "layer norms",
    "ln_2": "layer norms",
    "ln_f": "layer norms",
    "lm_head": "LM head",
}


class GPT(nn.Module):
    """A GPT-2 style decoder-only transformer built from a `GPTConfig`."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        if config.vocab_size is None:
            raise CourseError(
                "model.vocab_size: is not set; it is taken from the tokenizer, or set it explicitly"
            )
        self.config = config
        self.token_embedding = nn.Embedding(config.vocab_size, config.n_embd)
        self.position_encoding = POSITION.get(config.position)(config)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_f = make_norm(config)
        self.lm_head = make_head(config, config.vocab_size)
        if config.tie_weights:
            # One matrix, two uses: row i embeds token i and, dotted with x, scores token i.
            # BEGIN TASK 3.6 [Embeddings and weight tying]: the LM head uses the embedding's matrix
            self.lm_head.weight = self.token_embedding.weight
            # END TASK 3.6
        init_gpt2_weights(self, config.n_layer)

    def embed(self, idx: Tensor) -> Tensor:
        """(B, T) token ids -> (B, T, C): token embeddings with positions 0..T-1 encoded."""
        positions = torch.arange(idx.size(1), device=idx.device)
        return self.position_encoding(self.token_embedding(idx), positions)

    def forward(self, idx: Tensor, targets: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        """idx (B, T) -> (logits (B, T, vocab_size), loss or None); see the module docstring."""
        check_input(idx, self.config.block_size)
        # BEGIN TASK 3.8 [The loss]: embed, dropout, the blocks, ln_f, LM head; the loss if targets
        x = self.drop(self.embed(idx))
        for block in self.blocks:
            x = block(x)
        logits = self.lm_head(self.ln_f(x))
        loss = None if targets is None else language_model_loss(logits, targets)
        return logits, loss
        # END TASK 3.8

    def num_parameters(self, include_embeddings: bool = True) -> int:
        """Count parameters, a tied matrix once. Without embeddings: minus the token and position
        tables (a tied LM head goes with the token table; an untied one stays counted)."""
        total = sum(p.numel() for p in self.parameters())
        if not include_embeddings:
            total -= self.token_embedding.weight.numel()
            total -= sum(p.numel() for p in self.position_encoding.parameters())
        return total

    def parameter_breakdown(self) -> dict[str, int]:
        """Parameter count per component; the values sum to `num_parameters()`."""
        counts = dict.fromkeys(dict.fromkeys(_COMPONENT.values()), 0)
        for name, parameter in self.named_parameters():  # a tied tensor is listed once
            parts = name.split(".")
            part = parts[2] if parts[0] == "blocks" else parts[0]
            counts[_COMPONENT[part]] += parameter.numel()
        return counts


def linear_head(config: GPTConfig, vocab_size: int) -> nn.Linear:
    """GPT-2's LM head, the `linear` entry of the HEAD table: Linear(n_embd, vocab_size), no
    bias (tied or not, the logits are x @ W^T)."""
    return nn.Linear(config.n_embd, vocab_size, bias=False)


def make_head(config: GPTConfig, vocab_size: int) -> nn.Linear:
    """The LM head: the `config.head_kind()` entry of the HEAD table, called as
    `entry(config, vocab_size)` (`linear_head` unless week 6's logit soft-cap is on). Every
    entry is an nn.Linear, so weight tying works the same for all of them."""
    head: Callable[[GPTConfig, int], nn.Linear] = HEAD.get(config.head_kind())
    return head(config, vocab_size)


def check_input(idx: Tensor, block_size: int, start: int = 0) -> None:
    """Refuse what the model cannot read: ids that are not (batch, time), or a sequence that
    runs past position block_size - 1 (the causal mask and the learned table stop there).

    `start` is the position of idx[:, 0]; it is 0 whenever the whole sequence is given at once.
    """
    if idx.dim() != 2:
        raise CourseError(
            f"GPT input must be (batch, time) token ids, got shape {tuple(idx.shape)}"
        )
    T = idx.size(1)
    if start + T > block_size:
        raise CourseError(
            f"sequence of {T} tokens starting at position {start} is longer than "
            f"block_size={block_size}; crop the context to the last {block_size} tokens"
        )


def language_model_loss(logits: Tensor, targets: Tensor) -> Tensor:
    """Mean cross-entropy of (B, T, V) logits against (B, T) next ids; -1 targets are skipped."""
    if targets.shape != logits.shape[:-1]:
        raise CourseError(
            f"targets must have the input's shape {tuple(logits.shape[:-1])}, "
            f"got {tuple(targets.shape)}"
        )
    # BEGIN TASK 3.9 [The loss]: mean cross-entropy over every position, skipping targets of -1
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=-1)
    # END TASK 3.9


def init_gpt2_weights(model: nn.Module, n_layer: int) -> None:
    """GPT-2's initialisation: weights ~ N(0, 0.02), biases 0, LayerNorm weights 1.

    The two projections that write into the residual stream (attention and MLP `c_proj`) get
    std 0.02 / sqrt(2 n_layer): the stream is a sum of 2 n_layer such outputs, and the scaling
    keeps its variance at initialisation independent of depth.
    """
    # BEGIN TASK 3.7 [Initialisation (GPT-2)]: N(0, 0.02), biases 0, LayerNorms 1, c_proj scaled
    for module in model.modules():
        if isinstance(module, nn.Linear | nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)
        if isinstance(module, LayerNorm):
            nn.init.ones_(module.weight)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
    residual_std = 0.02 / math.sqrt(2 * n_layer)
    for name, parameter in model.named_parameters():
        if name.endswith("c_proj.weight"):
            nn.init.normal_(parameter, mean=0.0, std=residual_std)
    # END TASK 3.7
