"""Grouped-query attention (GQA), `model.n_kv_head`: fewer key/value heads than query heads.

    n_head query heads, n_kv_head key/value heads, group = n_head // n_kv_head
    query head h attends with key/value head h // group:

        out_h = softmax(q_h k_{h // group}^T / sqrt(d) + mask) v_{h // group}

n_kv_head = n_head is week 3's multi-head attention; n_kv_head = 1 is multi-query attention
(Shazeer, "Fast Transformer Decoding: One Write-Head is All You Need", 2019); anything between is
grouped-query attention (Ainslie et al., "GQA", 2023), which LLaMA 2 70B and LLaMA 3 use.

Why: at generation time the KV cache (kv_cache.py) holds every key and value of every layer,
2 x n_layer x S x n_kv_head x d numbers per sequence, and each new token reads all of them. With
fewer key/value heads the cache, and the memory traffic of every decoding step, shrink by
n_head / n_kv_head, while the queries keep all their heads. The price is a little quality (the
GQA paper: close to multi-head at 8 key/value heads, clearly better than multi-query).

The diff against week 3 is three methods, and it composes with any attention class:

    project(x)       c_attn now makes n_head query heads and n_kv_head key and value heads:
                     Linear(C, C + 2 n_kv_head d), split; k and v are (B, n_kv_head, T, d).
                     The KV cache stores what `project` returns, so it holds n_kv_head heads.
    attend(q, k, v)  repeat each key/value head `group` times on the head dimension (head h of
                     the result is head h // group: `repeat_interleave`), then attend as the
                     base class does (naive or sdpa), which sees n_head heads as in week 3.

Rope (rope.py) adapts the attention class after this feature, so its `attend` runs first and
rotates the n_kv_head-headed keys: a rotation acts on each head alone, so any head count works,
and rotating before the repeat rotates each key head once instead of `group` times.

(PyTorch's `scaled_dot_product_attention(..., enable_gqa=True)` can skip the repeat; the repeat
here keeps every base attention, week 3's included, unchanged.)
"""

from __future__ import annotations

from typing import cast

from torch import Tensor, nn

from week3_model import CausalSelfAttention, GPTConfig


class GroupedQueryAttention(CausalSelfAttention):
    """Attention whose keys and values have `kv_heads` heads, each shared by `group` queries.

    Used as the first base of `grouped_query(cls)`, so `super().attend` is `cls.attend`.
    """

    def __init__(self, config: GPTConfig) -> None:
        super().__init__(config)
        self.kv_heads = config.kv_heads
        self.group = config.n_head // config.kv_heads
        self.head_size = config.head_size
        kv_width = self.kv_heads * self.head_size
        # Replaces week 3's Linear(C, 3C): queries C wide, keys and values kv_width each.
        self.c_attn = nn.Linear(config.n_embd, config.n_embd + 2 * kv_width, bias=config.bias)

    def split_kv_heads(self, x: Tensor) -> Tensor:
        """(B, T, n_kv_head d) -> (B, n_kv_head, T, d)."""
        B, T, _ = x.shape
        return x.view(B, T, self.kv_heads, self.head_size).transpose(1, 2)

    def project(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(B, T, C) -> queries (B, n_head, T, d), keys and values (B, n_kv_head, T, d)."""
        kv_width = self.kv_heads * self.head_size
        q, k, v = self.c_attn(x).split([self.n_embd, kv_width, kv_width], dim=2)
        return self.split_heads(q), self.split_kv_heads(k), self.split_kv_heads(v)

    def attend(self, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        """(B, n_head, T, d) queries over (B, n_kv_head, S, d) keys and values -> (B, n_head,
        T, d): query head h uses key/value head h // group."""
        if self.group > 1:
            k = k.repeat_interleave(self.group, dim=1)
            v = v.repeat_interleave(self.group, dim=1)
        return super().attend(q, k, v)


# One grouped-query class per attention class, so that every Block of a model shares it.
_GROUPED: dict[type[CausalSelfAttention], type[CausalSelfAttention]] = {}


def grouped_query(attention: type[CausalSelfAttention]) -> type[CausalSelfAttention]:
    """The `grouped_query` attention feature: `attention` with n_kv_head key/value heads, the
    class (GroupedQueryAttention, attention)."""
    if attention not in _GROUPED:
        name = f"GroupedQuery{attention.__name__}"
        _GROUPED[attention] = cast(
            type[CausalSelfAttention], type(name, (GroupedQueryAttention, attention), {})
        )
    return _GROUPED[attention]
