"""From GPT-2 to a small modern LLM: the blocks that LLaMA-style models changed, one per file.

Each is a table entry of week 3's model (week3_model/config.py), switched on by one config key,
and each is the diff it is: a new module, or a subclass of week 3's piece.

    rmsnorm.py        RMSNorm, `norm: rmsnorm`:            x / sqrt(mean(x^2) + eps) * g
    swiglu.py         SwiGLU, `mlp: swiglu`:               c_proj(silu(w_gate x) * w_up x),
                                                           hidden 8/3 n_embd rounded up to 64 | h
    relu_squared.py   ReLU2, `mlp: relu2`:                 c_proj(relu(c_fc x)^2), week 3's MLP
                                                           with another activation
    grouped_query.py  grouped_query, `n_kv_head: k`:       k key/value heads shared by groups of
                                                           query heads; a k-headed KV cache
    qk_norm.py        qk_normed, `qk_norm: true`:          RMSNorm of each query and key head,
                                                           before rope
    softcap.py        softcap_head, `logit_softcap: cap`:  logits cap * tanh(z / cap)

Rope's base, `rope_theta`, is read by rope.py (week 6's lesson). A LLaMA-style model is

    model: {norm: rmsnorm, mlp: swiglu, position: rope, n_kv_head: 2, bias: false,
            tie_weights: false}

pyproject.toml lists these in the tables `tiny_gpt.norm`, `tiny_gpt.mlp`,
`tiny_gpt.attention_feature` and `tiny_gpt.head`, so week 3 loads them by name.
"""

from week6_optimizations.modern.grouped_query import GroupedQueryAttention, grouped_query
from week6_optimizations.modern.qk_norm import QKNormAttention, qk_normed
from week6_optimizations.modern.relu_squared import ReLU2
from week6_optimizations.modern.rmsnorm import RMSNorm
from week6_optimizations.modern.softcap import SoftCappedHead, softcap_head
from week6_optimizations.modern.swiglu import SwiGLU

__all__ = [
    "GroupedQueryAttention",
    "QKNormAttention",
    "RMSNorm",
    "ReLU2",
    "SoftCappedHead",
    "SwiGLU",
    "grouped_query",
    "qk_normed",
    "softcap_head",
]
