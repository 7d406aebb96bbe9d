"""MLX against PyTorch on one machine: training and generation tokens/s of the baby model.

    mlx_rows(quick) -> rows with week 6's bench keys (section, case, impl, value, unit, ratio, note)

The shape is week 6's baby model (block 64, batch 12, 4 layers, 4 heads, 128 wide, vocab 1024).
PyTorch is measured in the same call, with week 6's own step and generation functions, and each
MLX row's ratio is MLX / PyTorch. Training: one optimizer step (AdamW, clipping) on a fixed
random batch, float32, sdpa attention in both. Generation: greedy, a 6-token prompt, the context
filled to block_size, both with a KV cache. On a Linux CPU the `mlx[cpu]` wheel runs its matrix
products on a reference BLAS, so expect MLX far behind here; on Apple silicon MLX uses the GPU.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from shared.bench import median_seconds
from week6_optimizations.bench.generation import generation_model, measure_generation
from week6_optimizations.bench.rows import make_row, register_rows
from week6_optimizations.bench.training import BABY, ModelShape, TrainCase, build_step
from week6_optimizations.mlx_port.availability import MLX_MISSING, mlx_available

BLOCK = 64
PROMPT = 6


def _mlx_train_step(block_size: int, shape: ModelShape, compile: bool) -> Callable[[], None]:
    import mlx.core as mx

    from week3_model import GPTConfig
    from week6_optimizations.mlx_port.model import MLXGPT
    from week6_optimizations.mlx_port.train_step import make_optimizer, make_train_step

    mx.random.seed(0)
    config = GPTConfig(
        vocab_size=shape["vocab_size"],
        block_size=block_size,
        attention="sdpa",
        n_layer=shape["n_layer"],
        n_head=shape["n_head"],
        n_embd=shape["n_embd"],
    )
    model = MLXGPT(config)
    optimizer = make_optimizer(lr=1e-3, weight_decay=0.1, betas=(0.9, 0.99))
    step = make_train_step(model, optimizer, grad_clip=1.0, compile=compile)
    data = mx.random.randint(0, shape["vocab_size"], (1, shape["batch_size"], block_size + 1))
    xs, ys = data[..., :-1], data[..., 1:]

    def work() -> None:
        mx.eval(*step(xs, ys))  # lazy: nothing runs until mx.eval

    return work


def _mlx_generation(block_size: int, shape: ModelShape, repeats: int, warmup: int) -> float:
    from week5_generation.sampling import GREEDY
    from week6_optimizations.mlx_port.sample import to_mlx
    from week6_optimizations.mlx_port.sampling import generate_ids

    model = to_mlx(generation_model(block_size, torch.device("cpu"), "sdpa", shape=shape))
    new_tokens = block_size - PROMPT

    def work() -> None:
        list(generate_ids(model, list(range(1, PROMPT + 1)), new_tokens, GREEDY))

    return new_tokens / median_seconds(work, repeats=repeats, warmup=warmup)


@register_rows("mlx")
def mlx_rows(quick: bool) -> list[dict[str, Any]]:
    """MLX and PyTorch tokens/s for training and generation; ~15 s with `quick` (CPU)."""
    repeats, warmup = (3, 1) if quick else (7, 2)
    variants = [("mlx eager", False)] if quick else [("mlx eager", False), ("mlx compiled", True)]
    return rows_for(BLOCK, BABY, "baby model", variants, repeats, warmup)


def rows_for(
    block: int,
    shape: ModelShape,
    name: str,
    variants: list[tuple[str, bool]],
    repeats: int,
    warmup: int,
) -> list[dict[str, Any]]:
    """The rows of `mlx_rows` for any model `shape` (keys of week 6's `BABY`)."""
    cpu = torch.device("cpu")
    train_case = f"{name}, block {block}, batch {shape['batch_size']}"
    tokens_per_step = shape["batch_size"] * block
    case = TrainCase(block, attention="sdpa", **shape)
    torch_train = tokens_per_step / median_seconds(build_step(case, cpu), repeats, warmup)
    new_tokens = block - PROMPT
    gen_case = f"{name}, block {block}, {new_tokens} new tokens, kv cache"
    torch_model = generation_model(block, cpu, "sdpa", shape=shape)
    torch_gen = measure_generation(torch_model, "kv cache", PROMPT, new_tokens, repeats, warmup)
    threads = f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads"
    train_rows = [
        make_row("mlx", train_case, "torch", torch_train, "tokens/s", ratio=1.0, note=threads)
    ]
    gen_rows = [make_row("mlx", gen_case, "torch", torch_gen, "tokens/s", ratio=1.0, note=threads)]
    if not mlx_available():
        train_rows += [
            make_row("mlx", train_case, impl, None, "tokens/s", note=MLX_MISSING)
            for impl, _ in variants
        ]
        gen_rows.append(make_row("mlx", gen_case, "mlx", None, "tokens/s", note=MLX_MISSING))
        return train_rows + gen_rows
    import mlx.core as mx

    # mlx.core's type stubs leave out its __version__ (and where MLX is missing, mx is untyped)
    note = f"MLX {mx.__version__} on {mx.default_device()}, float32"  # type: ignore[attr-defined, unused-ignore]
    for impl, compile in variants:
        step = _mlx_train_step(block, shape, compile)
        speed = tokens_per_step / median_seconds(step, repeats, warmup)
        ratio = speed / torch_train
        train_rows.append(
            make_row("mlx", train_case, impl, speed, "tokens/s", ratio=ratio, note=note)
        )
    mlx_gen = _mlx_generation(block, shape, repeats, warmup)
    ratio = mlx_gen / torch_gen
    gen_rows.append(make_row("mlx", gen_case, "mlx", mlx_gen, "tokens/s", ratio=ratio, note=note))
    return train_rows + gen_rows
