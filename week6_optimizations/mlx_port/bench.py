"""MLX against PyTorch on one machine: training and generation tokens/s of the baby model.

    mlx_rows(quick) -> rows with the bench's keys (shared.bench.ROW_KEYS)

The shape is week 6's baby model (block 64, batch 12, 4 layers, 4 heads, 128 wide, vocab 1024).
PyTorch is measured in the same call, with week 6's own step and generation functions, the
variants interleaved in rounds (`shared.bench.interleaved`), and each MLX row's ratio is "x
faster than PyTorch": PyTorch's seconds / MLX's within a round, the median over rounds.
Training: one optimizer step (AdamW, clipping) on a fixed random batch, float32, sdpa attention
in both. Generation: greedy, a 6-token prompt, the context filled to block_size, both with a
KV cache. On a Linux CPU the `mlx[cpu]` wheel runs its matrix
products on a reference BLAS, so expect MLX far behind here; on Apple silicon MLX uses the GPU.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from shared.bench import interleaved, make_row, timed_rows
from week6_optimizations.bench.generation import course_generation, generation_model
from week6_optimizations.bench.rows import register_rows
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


def _mlx_generation(block_size: int, shape: ModelShape) -> Callable[[], None]:
    from week5_generation.sampling import GREEDY
    from week6_optimizations.mlx_port.sample import to_mlx
    from week6_optimizations.mlx_port.sampling import generate_ids

    model = to_mlx(generation_model(block_size, torch.device("cpu"), "sdpa", shape=shape))
    new_tokens = block_size - PROMPT

    def work() -> None:
        list(generate_ids(model, list(range(1, PROMPT + 1)), new_tokens, GREEDY))

    return work


@register_rows("mlx")
def mlx_rows(quick: bool) -> list[dict[str, Any]]:
    """MLX and PyTorch tokens/s for training and generation; quick: batch 4 (MLX's CPU wheel
    needs seconds for one step of the baby model), MLX eager only, fewer rounds."""
    if quick:
        return rows_for(
            BLOCK, {**BABY, "batch_size": 4}, "baby model", [("mlx eager", False)], 3, 1
        )
    variants = [("mlx eager", False), ("mlx compiled", True)]
    return rows_for(BLOCK, BABY, "baby model", variants, rounds=7, warmup=2)


def rows_for(
    block: int,
    shape: ModelShape,
    name: str,
    variants: list[tuple[str, bool]],
    rounds: int,
    warmup: int,
) -> list[dict[str, Any]]:
    """The rows of `mlx_rows` for any model `shape` (keys of week 6's `BABY`): PyTorch and the
    MLX variants interleaved in rounds, each ratio against PyTorch within a round. Without MLX,
    PyTorch's rows alone are measured and MLX's say why they are missing."""
    cpu = torch.device("cpu")
    new_tokens = block - PROMPT
    torch_model = generation_model(block, cpu, "sdpa", shape=shape)
    training: dict[str, Callable[[], object]] = {
        "torch": build_step(TrainCase(block, attention="sdpa", **shape), cpu)
    }
    generation: dict[str, Callable[[], object]] = {
        "torch": lambda: course_generation(torch_model, "kv cache", PROMPT, new_tokens)
    }
    available = mlx_available()
    if available:
        for impl, compile in variants:
            training[impl] = _mlx_train_step(block, shape, compile)
        generation["mlx"] = _mlx_generation(block, shape)
    mlx_note = _mlx_note() if available else MLX_MISSING
    torch_note = f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads"
    rows = []
    for case, work, amount, missing in (
        (
            f"{name}, block {block}, batch {shape['batch_size']}",
            training,
            shape["batch_size"] * block,
            [impl for impl, _ in variants],
        ),
        (
            f"{name}, block {block}, {new_tokens} new tokens, kv cache",
            generation,
            new_tokens,
            ["mlx"],
        ),
    ):
        seconds = interleaved(work, rounds, warmup)
        for row in timed_rows("mlx", case, seconds, "torch", amount=amount, unit="tokens/s"):
            row["note"] = torch_note if row["impl"] == "torch" else mlx_note
            rows.append(row)
        if not available:
            rows += [
                make_row("mlx", case, impl, None, "tokens/s", note=MLX_MISSING) for impl in missing
            ]
    return rows


def _mlx_note() -> str:
    """Which MLX ran the rows, on what device, in what precision, and on which BLAS (on Linux
    the BLAS decides the speed: blas.py)."""
    from week6_optimizations.mlx_port.blas import use_fast_blas

    blas = use_fast_blas().describe()  # the choice made when the port was imported
    import mlx.core as mx

    # mlx.core's type stubs leave out its __version__ (and where MLX is missing, mx is untyped)
    version = mx.__version__  # type: ignore[attr-defined, unused-ignore]
    return f"MLX {version} on {mx.default_device()}, float32, BLAS: {blas}"
