"""Generation speed: tokens per second with and without the KV cache.

The model is the baby shape at a given block size (random weights: the speed of a forward pass
does not depend on what was learned). The prompt is a few tokens and the generation fills the
context up to block_size, e.g. 250 new tokens at block size 256, greedy, through week 5's
`generate`. Without the cache every step runs the model on the whole context so far (about n^2 / 2
token-layers for n tokens); with it, the prompt once and then one token per step.
"""

from __future__ import annotations

import torch

from shared.bench import median_seconds
from week3_model import GPT, GPTConfig
from week5_generation.generate import FullContextLogits, generate
from week5_generation.sampling import GREEDY, make_generator
from week6_optimizations.bench.rows import make_row
from week6_optimizations.bench.training import BABY, ModelShape
from week6_optimizations.cached_generation import CachedLogits

DECODER_CHOICES = {"full context": FullContextLogits, "kv cache": CachedLogits}


def generation_model(
    block_size: int,
    device: torch.device,
    attention: str = "naive",
    position: str = "learned",
    shape: ModelShape | None = None,
) -> GPT:
    """A randomly initialised model of `shape` (default: the baby model) in eval mode."""
    shape = BABY if shape is None else shape
    torch.manual_seed(0)
    config = GPTConfig(
        vocab_size=shape["vocab_size"],
        block_size=block_size,
        n_layer=shape["n_layer"],
        n_head=shape["n_head"],
        n_embd=shape["n_embd"],
        attention=attention,
        position=position,
    )
    return GPT(config).to(device).eval()


def measure_generation(
    model: GPT, decoder: str, prompt_length: int, new_tokens: int, repeats: int, warmup: int
) -> float:
    """Tokens per second of greedy generation of `new_tokens` after a `prompt_length` prompt."""
    prompt = list(range(1, prompt_length + 1))

    def work() -> None:
        step = DECODER_CHOICES[decoder](model)
        tokens = generate(
            model, prompt, new_tokens, GREEDY, generator=make_generator(0), next_token_logits=step
        )
        count = sum(1 for _ in tokens)
        if count != new_tokens:  # pragma: no cover - generate stops only at stop ids
            raise RuntimeError(f"generated {count} tokens, expected {new_tokens}")

    return new_tokens / median_seconds(work, repeats=repeats, warmup=warmup)


def generation_rows_for(
    block_sizes: list[int],
    device: torch.device,
    repeats: int,
    warmup: int,
    prompt_length: int = 6,
    variants: tuple[tuple[str, str], ...] = (("naive", "learned"),),
    shape: ModelShape | None = None,
) -> list[dict]:
    """Full context (the baseline) and KV cache per block size and model variant."""
    rows = []
    for block_size in block_sizes:
        new_tokens = block_size - prompt_length
        case = f"block {block_size}, {new_tokens} new tokens"
        baseline = None
        for attention, position in variants:
            model = generation_model(block_size, device, attention, position, shape)
            for decoder in DECODER_CHOICES:
                speed = measure_generation(
                    model, decoder, prompt_length, new_tokens, repeats, warmup
                )
                baseline = speed if baseline is None else baseline
                impl = f"{decoder}, {attention} {position}"
                note = f"greedy, prompt {prompt_length} tokens, median of {repeats}"
                rows.append(
                    make_row(
                        "generation",
                        case,
                        impl,
                        speed,
                        "tokens/s",
                        ratio=speed / baseline,
                        note=note,
                    )
                )
    return rows
