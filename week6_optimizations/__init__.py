"""Week 6: modern pieces (RoPE, SDPA, a KV cache) and benchmarks that measure them.

Week 6 extends earlier weeks through their extension points rather than by editing them:
importing this package registers

    attention "sdpa"     (week3_model.ATTENTION)        sdpa.py
    position  "rope"     (week3_model.POSITION)         rope.py
    decoder   "kv_cache" (week5_generation.DECODERS)    cached_generation.py, kv_cache.py

so `model.attention: sdpa`, `model.position: rope` and cached generation work from any config.
`python -m week6_optimizations.bench` (make bench) measures them; see bench/.
"""

import shared  # noqa: F401  (first: see shared/__init__.py, before PyTorch loads)
from week6_optimizations.cached_generation import CachedLogits, ContextWindow, WindowedLogits
from week6_optimizations.kv_cache import KVCache, LayerKVCache
from week6_optimizations.rope import (
    RotaryPosition,
    interleaved_to_half_split,
    rope_frequencies,
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
    "RotaryPosition",
    "SDPAttention",
    "WindowedLogits",
    "interleaved_to_half_split",
    "rope_frequencies",
    "rotate_half_split",
    "rotate_interleaved",
    "rotation_angles",
]
