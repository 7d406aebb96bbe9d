"""Causal self-attention, written out by hand, in three steps: project, attend, output.

Each position asks a question (query q), advertises what it holds (key k) and what it would hand
over (value v). Its output is a weighted average of the values, weighted by how well its query
matches each key:

    weights = softmax(q k^T / sqrt(d) + mask)        out = weights v

- Causal mask: position t may only look at positions <= t (the future is what we predict), so the
  scores of future keys are set to -inf before the softmax, which makes their weights exactly 0.
- Why / sqrt(d): for q, k with unit-variance entries, q.k sums d terms and has variance d. Without
  the scale, wide heads give huge scores, the softmax saturates to one-hot and its gradient
  vanishes.
- Multi-head: C channels are split into n_head heads of d = C // n_head channels, each attending on
  its own, then concatenated. Only reshapes, no extra parameters:
      (B, T, C) -> (B, T, n_head, d) -> (B, n_head, T, d)   ... attend ...   -> back to (B, T, C)

Shapes below: B batch, T queries, S keys, C = n_embd, d = head size. In this week S = T: every
token attends over the same sequence. `attend` is written for T queries that are the last T of
S keys, so a later step may hand it more keys than queries without changing it.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from week3_model.config import ATTENTION, ATTENTION_FEATURE, POSITION, GPTConfig
from week3_model.position import PositionEncoding


def attention_weights(q: Tensor, k: Tensor, future: Tensor) -> Tensor:
    """softmax(q k^T / sqrt(d)) over unmasked keys: (B, h, T, d), (B, h, S, d) -> (B, h, T, S).

    `future` is a (T, S) bool tensor, True where a key lies after the query; those weights are 0
    and every row sums to 1. (Scaling q rather than the (T, S) scores is the same number, cheaper.)
    """
    # BEGIN TASK 3.2 [Attention is a weighted average]: q k^T / sqrt(d), future masked, softmax
    scores = (q * (1.0 / math.sqrt(q.size(-1)))) @ k.transpose(-2, -1)
    scores.masked_fill_(future, float("-inf"))
    return torch.softmax(scores, dim=-1)
    # END TASK 3.2


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention: (B, T, C) -> (B, T, C), as project -> attend -> output.

    Set `keep_weights = True` to keep the last attention weights, (B, n_head, T, S), in
    `last_weights` (for plots and tests; it costs memory, so it is off by default).
    """

    future: Tensor  # (block_size, block_size) bool, True above the diagonal; a buffer

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.n_head = config.n_head
        self.n_embd = config.n_embd
        # q, k and v projections in one matmul: Linear(C, 3C), split afterwards (as GPT-2 does).
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.attn_dropout = nn.Dropout(config.dropout)
        self.resid_dropout = nn.Dropout(config.dropout)
        # Computed once; each forward slices it. Not saved in checkpoints (it is not learned).
        size = config.block_size
        future = torch.ones(size, size, dtype=torch.bool).triu(diagonal=1)
        self.register_buffer("future", future, persistent=False)
        self.keep_weights = False
        self.last_weights: Tensor | None = None

    def split_heads(self, x: Tensor) -> Tensor:
        """(B, T, C) -> (B, n_head, T, d)."""
        B, T, C = x.shape
        return x.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)

    def merge_heads(self, y: Tensor) -> Tensor:
        """(B, n_head, T, d) -> (B, T, C): the heads side by side again."""
        B, _, T, _ = y.shape
        return y.transpose(1, 2).reshape(B, T, self.n_embd)

    def project(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(B, T, C) -> queries, keys and values, each (B, n_head, T, d)."""
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)  # 3 x (B, T, C)
        return self.split_heads(q), self.split_heads(k), self.split_heads(v)

    def attend(self, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        """Masked attention of T queries over S keys: -> (B, n_head, T, d).

        The queries are the last T of the S positions, so the mask is rows S-T..S-1 of the
        (block_size, block_size) causal mask (all of it up to T when S = T). A faster kernel
        (week 6) overrides just this method.
        """
        # BEGIN TASK 3.3 [The causal mask]: mask rows S-T..S-1, weights (kept if asked), dropout @ v
        T, S = q.size(-2), k.size(-2)
        weights = attention_weights(q, k, self.future[S - T : S, :S])
        if self.keep_weights:
            self.last_weights = weights.detach()
        return self.attn_dropout(weights) @ v
        # END TASK 3.3

    def output(self, y: Tensor) -> Tensor:
        """(B, n_head, T, d) -> (B, T, C): merge the heads, mix them (c_proj), dropout."""
        return self.resid_dropout(self.c_proj(self.merge_heads(y)))

    def forward(self, x: Tensor) -> Tensor:
        """(B, T, C) -> (B, T, C)."""
        return self.output(self.attend(*self.project(x)))


def make_attention(config: GPTConfig) -> CausalSelfAttention:
    """A Block's attention: the `config.attention` entry, adapted by the features the config
    switches on (`config.attention_features()`, none in GPT-2) and by the position encoding.

    Each feature entry takes an attention class and returns a subclass (week 6's grouped-query
    attention and QK-norm). Most encodings leave attention alone (learned positions are added
    to the embeddings); one that acts on queries and keys returns a subclass from its
    `attention_class`.
    """
    attention: type[CausalSelfAttention] = ATTENTION.get(config.attention)
    for feature in config.attention_features():
        attention = ATTENTION_FEATURE.get(feature)(attention)
    position: type[PositionEncoding] = POSITION.get(config.position)
    return position.attention_class(attention)(config)
