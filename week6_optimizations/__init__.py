"""Week 6: the three ideas that make week 3's GPT modern and fast, then the sub-lessons.

The lesson (README.md, lesson.ipynb): each idea is the diff it is against week 3's model.

    rope.py               RoPE, `model.position: rope`: a subclass of the attention class whose
                          `attend` rotates queries and keys first (composes with naive and sdpa)
    sdpa.py               SDPA, `model.attention: sdpa`: `attend` by PyTorch's fused kernel
    kv_cache.py           the KV cache and `cached_forward`: GPT.forward with a memory
    cached_generation.py  `CachedLogits`, the decoder `kv_cache` for week 5's `generate`

The sub-lessons, each a package (or file) with its own entry and README section:

    bench/         measuring what each idea buys          python -m week6_optimizations.bench
    mlx_port/      the same GPT in MLX                    python -m week6_optimizations.mlx_port
    distributed/   data-parallel training (DDP)           python -m week6_optimizations.distributed
    modern/        the blocks of today's small LLMs       model.norm, model.mlp, n_kv_head, ...
    muon.py        the Muon optimizer                     train.optimizer: muon
    playground/    your model behind OpenAI's API         python -m week6_optimizations.playground
    corpus/        your own files as token shards         python -m week6_optimizations.corpus
    sizes.py       depth sets a model's size              python -m week6_optimizations.size_config

No earlier week imports this package, and none is edited for a variant: pyproject.toml lists
sdpa, rope, kv_cache, the modern blocks, muon and the `shards` corpus format in the tables of
weeks 3, 4 and 5 (`tiny_gpt.attention`, `tiny_gpt.position`, `tiny_gpt.norm`, `tiny_gpt.mlp`,
`tiny_gpt.attention_feature`, `tiny_gpt.head`, `tiny_gpt.optimizer`, `tiny_gpt.decoder`,
`tiny_gpt.corpus_format`), so a config or a flag that names one loads the module that provides
it.
"""

import shared  # noqa: F401  (first: see shared/__init__.py, before PyTorch loads)
from week6_optimizations.cached_generation import CachedLogits, ContextWindow, WindowedLogits
from week6_optimizations.kv_cache import KVCache, LayerKVCache, cached_block, cached_forward
from week6_optimizations.rope import (
    RotaryAttention,
    RotaryPosition,
    interleaved_to_half_split,
    rope_frequencies,
    rotary_attention,
    rotate_half_split,
    rotate_interleaved,
    rotation_angles,
)
from week6_optimizations.sdpa import SDPAttention

__all__ = [
    "CachedLogits",
    "ContextWindow",
    "KVCache",
    "LayerKVCache",
    "RotaryAttention",
    "RotaryPosition",
    "SDPAttention",
    "WindowedLogits",
    "cached_block",
    "cached_forward",
    "interleaved_to_half_split",
    "rope_frequencies",
    "rotary_attention",
    "rotate_half_split",
    "rotate_interleaved",
    "rotation_angles",
]
