"""Week 6: modern pieces (RoPE, SDPA, a KV cache), benchmarks, an MLX port, multi-process training.

Week 6 extends week 3 through its registries (attention `sdpa`, position `rope`) rather than by
editing it. The lesson outline is in this folder's README.md.
"""
