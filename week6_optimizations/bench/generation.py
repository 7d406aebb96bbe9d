"""Generation speed: tokens per second with and without the KV cache, and against transformers.

The model is the baby shape at a given block size (random weights: the speed of a forward pass
does not depend on what was learned). The prompt is a few tokens and the generation fills the
context up to block_size, e.g. 250 new tokens at block size 256, greedy, through week 5's
`generate`. Without the cache every step runs the model on the whole context so far (about n^2 / 2
token-layers for n tokens); with it, the prompt once and then one token per step.

The reference from outside the course is Hugging Face's `GPT2LMHeadModel.generate` with its own
KV cache (`use_cache=True`), greedy, on the same weights: week 3's loader maps GPT-2's names to
the course's, and `transformers_copy` runs that map backwards. Same weights and greedy decoding
give the same tokens, so both sides do the same work.
"""

from __future__ import annotations

from typing import Any

import torch

from shared.bench import interleaved, timed_rows
from shared.errors import CourseError
from week3_model import GPT, GPTConfig
from week3_model.pretrained import course_name, strip_gpt2_names, to_course_tensor
from week5_generation.generate import FullContextLogits, generate
from week5_generation.sampling import GREEDY, make_generator
from week6_optimizations.bench.training import BABY, ModelShape
from week6_optimizations.cached_generation import CachedLogits

DECODER_CHOICES = {"full context": FullContextLogits, "kv cache": CachedLogits}
TRANSFORMERS = "transformers generate, kv cache"


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


def course_generation(model: GPT, decoder: str, prompt_length: int, new_tokens: int) -> list[int]:
    """Greedy generation of `new_tokens` after the prompt 1, 2, ..., `prompt_length`."""
    prompt = list(range(1, prompt_length + 1))
    step = DECODER_CHOICES[decoder](model)
    tokens = list(
        generate(
            model, prompt, new_tokens, GREEDY, generator=make_generator(0), next_token_logits=step
        )
    )
    if len(tokens) != new_tokens:  # pragma: no cover - generate stops only at stop ids
        raise RuntimeError(f"generated {len(tokens)} tokens, expected {new_tokens}")
    return tokens


def transformers_copy(model: GPT) -> Any:
    """A `transformers.GPT2LMHeadModel` holding `model`'s weights (learned positions, biases)."""
    import transformers

    config = model.config
    if config.position != "learned" or not config.bias or config.attention != "naive":
        raise CourseError(
            "transformers_copy: GPT-2's layout needs naive attention, learned positions and biases"
        )
    hf_config = transformers.GPT2Config(
        vocab_size=config.vocab_size,
        n_positions=config.block_size,
        n_embd=config.n_embd,
        n_layer=config.n_layer,
        n_head=config.n_head,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        layer_norm_epsilon=1e-5,
        activation_function="gelu_new",
    )
    hf: Any = transformers.GPT2LMHeadModel(hf_config)  # its stubs type .to() oddly
    ours = model.state_dict()
    names = strip_gpt2_names(hf.state_dict())  # GPT-2's names, the causal-mask buffers left out
    weights = {}
    for name in names:
        tensor = ours[course_name(name)]
        weights[name if name == "lm_head.weight" else f"transformer.{name}"] = to_course_tensor(
            name, tensor
        ).contiguous()  # the transpose is its own inverse
    hf.load_state_dict(weights, strict=False)
    return hf.to(device=next(model.parameters()).device).eval()


def transformers_generation(hf_model: Any, prompt_length: int, new_tokens: int) -> list[int]:
    """Greedy `generate` with the KV cache: exactly `new_tokens` tokens after the prompt."""
    prompt = torch.arange(1, prompt_length + 1, device=hf_model.device)[None]
    with torch.no_grad():
        out = hf_model.generate(
            prompt,
            attention_mask=torch.ones_like(prompt),
            do_sample=False,
            use_cache=True,
            max_new_tokens=new_tokens,
            min_new_tokens=new_tokens,
            pad_token_id=0,
        )
    return out[0, prompt_length:].tolist()


def generation_rows_for(
    block_sizes: list[int],
    device: torch.device,
    rounds: int,
    warmup: int,
    prompt_length: int = 6,
    variants: tuple[tuple[str, str], ...] = (("naive", "learned"),),
    shape: ModelShape | None = None,
) -> list[dict]:
    """Per block size: full context and KV cache for each model variant, interleaved; every
    ratio against the first variant's full context."""
    rows = []
    for block_size in block_sizes:
        new_tokens = block_size - prompt_length
        work = {}
        for attention, position in variants:
            model = generation_model(block_size, device, attention, position, shape)
            for decoder in DECODER_CHOICES:
                work[f"{decoder}, {attention} {position}"] = _course_work(
                    model, decoder, prompt_length, new_tokens
                )
        seconds = interleaved(work, rounds, warmup)
        case = f"block {block_size}, {new_tokens} new tokens"
        note = f"greedy, prompt {prompt_length} tokens, one generation per round"
        rows += timed_rows(
            "generation",
            case,
            seconds,
            next(iter(work)),
            amount=new_tokens,
            unit="tokens/s",
            note=note,
        )
    return rows


def transformers_rows_for(
    block_sizes: list[int],
    device: torch.device,
    rounds: int,
    warmup: int,
    prompt_length: int = 6,
    shape: ModelShape | None = None,
) -> list[dict]:
    """Per block size: the course's KV cache against transformers' on the same weights."""
    rows = []
    for block_size in block_sizes:
        new_tokens = block_size - prompt_length
        model = generation_model(block_size, device, shape=shape)
        hf = transformers_copy(model)
        work = {
            TRANSFORMERS: lambda hf=hf, n=new_tokens: transformers_generation(hf, prompt_length, n),
            "kv cache, naive learned": _course_work(model, "kv cache", prompt_length, new_tokens),
        }
        seconds = interleaved(work, rounds, warmup)
        case = f"block {block_size}, {new_tokens} new tokens, same weights"
        note = f"greedy, prompt {prompt_length} tokens, transformers {_version()}"
        rows += timed_rows(
            "generation",
            case,
            seconds,
            TRANSFORMERS,
            amount=new_tokens,
            unit="tokens/s",
            note=note,
        )
    return rows


def _course_work(model: GPT, decoder: str, prompt_length: int, new_tokens: int) -> Any:
    return lambda: course_generation(model, decoder, prompt_length, new_tokens)


def _version() -> str:
    import transformers

    return str(transformers.__version__)
