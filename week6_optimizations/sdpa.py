"""`model.attention: sdpa`: the same attention, computed by PyTorch's fused kernel.

    F.scaled_dot_product_attention(q, k, v)  ==  softmax(q k^T / sqrt(d) + mask) v

The diff against week 3 is one method, `attend`: `project` and `output` stay week 3's, and rope
(rope.py) rotates q and k in a subclass and then calls this `attend`.

The naive version (week 3) writes the whole (B, h, T, S) score matrix to memory, reads it back for
the softmax, writes the weights, reads them again for `@ v`: four passes over T x S numbers per
head, and the backward pass keeps the weights around. A fused kernel (FlashAttention on CUDA, a
blocked "flash" kernel on the CPU) walks over blocks of keys, keeping a running maximum and sum of
the softmax (the "online softmax"), so the T x S matrix never exists in memory at once: less
memory traffic, and the backward recomputes what it needs instead of storing it. The arithmetic
is the same; only the order of the additions changes, so outputs agree to rounding (1e-5 in
float32).

The mask: when queries and keys are the same positions (training, or a prefill) `is_causal=True`
tells the kernel to skip the future itself. With a KV cache the T queries are the last T of S keys;
then rows S-T..S-1 of the causal mask apply (`attn_mask` is True where attention is ALLOWED, the
opposite of week 3's `future`). A single new query (T = 1) may see every key: no mask at all.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from week3_model import CausalSelfAttention


class SDPAttention(CausalSelfAttention):
    """Week 3's causal self-attention with `attend` replaced by the fused kernel.

    The fused kernel never forms the weights, so with `keep_weights = True` (plots, tests) this
    falls back to the naive computation.
    """

    def attend(self, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        """(B, h, T, d) queries over (B, h, S, d) keys and values -> (B, h, T, d)."""
        if self.keep_weights:
            return super().attend(q, k, v)
        # BEGIN TASK 6.3 [The diff: one method]: attend with F.scaled_dot_product_attention
        T, S = q.size(-2), k.size(-2)
        dropout_p = self.attn_dropout.p if self.training else 0.0
        if T == S:
            return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p, is_causal=True)
        attn_mask = None if T == 1 else ~self.future[S - T : S, :S]  # True = may attend
        return F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, dropout_p=dropout_p)
        # END TASK 6.3
