"""`make sample ... BACKEND=mlx`: week 5's sampling session with the model running in MLX.

Loading goes through week 5's `load_source` (a course run folder or .pt file, the most recent
run, or GPT-2's weights) and the PyTorch weights are converted to MLX once; an MLX run folder
holds a converted checkpoint.pt too, so every source works. Settings (config `sample` section
plus flags), the seed rule, prompt cropping, stop strings and UTF-8 streaming are week 5's;
only the forward passes and the draws are MLX.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TextIO

import torch

from shared.config import Config
from week5_generation.loading import load_source
from week5_generation.session import notice, prompt_ids, resolve_settings, session_seed
from week5_generation.streaming import TextStream
from week6_optimizations.mlx_port.convert import load_weights_into, state_dict_to_mlx
from week6_optimizations.mlx_port.model import MLXGPT
from week6_optimizations.mlx_port.sampling import generate_ids

if TYPE_CHECKING:
    from week2_tokenizer import Tokenizer
    from week3_model import GPT
    from week5_generation.config import SampleConfig


class TextSink(Protocol):
    """Where the text goes as it is generated: a terminal, a file, or nowhere (`_Discard`)."""

    def write(self, text: str, /) -> int: ...

    def flush(self) -> None: ...


@dataclass
class MLXSource:
    """An MLX model ready to sample from, with its tokenizer and resolved config."""

    model: MLXGPT
    tokenizer: Tokenizer
    config: Config
    name: str


def to_mlx(model: GPT) -> MLXGPT:
    """A PyTorch GPT's weights in a new MLX model (eval mode)."""
    mlx_model = MLXGPT(model.config)
    weights = state_dict_to_mlx(model.state_dict(), model.config)
    load_weights_into(mlx_model, weights, "the PyTorch model")
    mlx_model.eval()
    return mlx_model


def load_mlx_source(
    checkpoint: str | None, weights: str | None = None, say: Callable[[str], None] = notice
) -> MLXSource:
    """Week 5's sources (run folder, .pt, latest run, gpt2 + weights) as MLX models."""
    source = load_source(checkpoint, weights, torch.device("cpu"), say=say)
    return MLXSource(to_mlx(source.model), source.tokenizer, source.config, source.name)


def stream_text(
    source: MLXSource, ids: Sequence[int], settings: SampleConfig, seed: int, out: TextSink
) -> str:
    """Write the continuation of `ids` to `out` as it is generated; return it."""
    stream = TextStream(settings.stop)
    eot = source.tokenizer.eot_id
    tokens = generate_ids(
        source.model,
        ids,
        settings.max_new_tokens,
        settings.sampling,
        seed=seed,
        stop_ids=set() if eot is None else {eot},
    )
    for token in tokens:
        out.write(stream.push(source.tokenizer.decode_bytes([token])))
        out.flush()
        if stream.stopped:
            break
    out.write(stream.finish())
    return stream.text


def sample_mlx(
    checkpoint: str | None = None,
    prompt: str | None = None,
    *,
    weights: str | None = None,
    out: TextIO | None = None,
    **overrides: Any,
) -> str:
    """Generate from `checkpoint` in MLX; returns the continuation (also written to `out`).

    `overrides` are week 5's settings: max_new_tokens, temperature, top_k, top_p, seed, stop
    (None keeps the run's `sample` section). One seed, one text.
    """
    source = load_mlx_source(checkpoint, weights)
    settings = resolve_settings(source.config, prompt=prompt, **overrides)
    ids = prompt_ids(source.tokenizer, settings.prompt, source.model.config.block_size)
    sink = out if out is not None else _Discard()
    sink.write(settings.prompt)
    text = stream_text(source, ids, settings, session_seed(settings, source.config), sink)
    sink.write("\n")
    return text


class _Discard:
    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


def sample_with_mlx(args: argparse.Namespace) -> int:
    """Week 5's `sample --backend mlx` (registered in `week5_generation.cli.BACKENDS`)."""
    if args.interactive:
        from shared.errors import CourseError

        raise CourseError("--interactive is not available with --backend mlx; drop one of them")
    if args.device not in ("auto", "cpu"):
        notice(f"note: --device {args.device} is for PyTorch; MLX uses {_mlx_device()}")
    sample_mlx(
        args.checkpoint,
        args.prompt or None,
        weights=args.weights,
        out=sys.stdout,
        max_new_tokens=args.max_new_tokens,
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        seed=args.seed,
        stop=args.stop,
    )
    return 0


def _mlx_device() -> str:
    import mlx.core as mx

    return str(mx.default_device())
