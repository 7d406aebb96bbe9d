"""Autoregressive generation: predict a token, append it, repeat.

    ids = prompt
    repeat max_new_tokens times:
        logits = model(last block_size tokens of ids)[last position]     (V,)
        next   = choose_next(logits, settings)                            sampling.py
        stop if next is an end-of-text token, else yield it and append it

The model has learned positions 0..block_size-1 only, so the context is cropped to the last
block_size tokens (a sliding window): the oldest tokens fall out of view, generation goes on.

Decoders: where the next token's logits come from
-------------------------------------------------
`generate` never calls the model itself: it asks a `NextTokenLogits` object for the logits of
the next token, given the whole sequence so far. `FullContextLogits` (the default) runs the model
on the cropped context every step, O(block_size) work per token. A cached decoder keeps each
layer's keys and values and feeds the model only the tokens it has not seen yet (one per step);
week 6 provides one. Decoders are found by name in `DECODERS`, the `tiny_gpt.decoder` table of
pyproject.toml (`full` is `FullContextLogits`), and are passed in as
`generate(..., next_token_logits=DECODERS.get(name)(model))`; this file does not change.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from typing import TYPE_CHECKING, Protocol

import torch
from torch import Tensor, nn

from shared.errors import CourseError
from shared.registry import Registry
from week5_generation.sampling import (
    PURE_SAMPLING,
    SamplingSettings,
    choose_next,
    make_generator,
)
from week5_generation.streaming import TextStream

if TYPE_CHECKING:
    from week3_model import GPT


class NextTokenLogits(Protocol):
    """Logits for the token after `ids`.

    `ids` is (1, n), the whole sequence so far (prompt and generated tokens, never cropped); the
    result is (vocab_size,). A stateful implementation (a KV cache) may use only the tokens it has
    not seen; successive calls always extend the previous `ids` by one token.
    """

    def __call__(self, ids: Tensor) -> Tensor: ...


def crop_context(ids: Tensor, block_size: int) -> Tensor:
    """The last `block_size` tokens of (B, n) ids: all the model can see."""
    return ids[:, -block_size:]


class FullContextLogits:
    """No cache: run the model on the cropped context at every step and keep the last logits."""

    def __init__(self, model: GPT) -> None:
        self.model = model
        self.block_size = model.config.block_size

    def __call__(self, ids: Tensor) -> Tensor:
        logits, _ = self.model(crop_context(ids, self.block_size))
        return logits[0, -1]


DECODERS: Registry[Callable[[GPT], NextTokenLogits]] = Registry("decoder", "tiny_gpt.decoder")


def model_device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


@torch.no_grad()
def generate(
    model: GPT,
    prompt_ids: Sequence[int],
    max_new_tokens: int,
    settings: SamplingSettings = PURE_SAMPLING,
    *,
    generator: torch.Generator | None = None,
    stop_ids: Collection[int] = (),
    next_token_logits: NextTokenLogits | None = None,
) -> Iterator[int]:
    """Yield up to `max_new_tokens` new token ids, one at a time, as they are chosen.

    Each token is chosen with `settings` (sampling.py); `generator` makes the draws reproducible
    (default: a generator seeded with 0). Stops early, without yielding it, at a token in
    `stop_ids` (the end-of-text token). Put the model in eval mode first (dropout off). Breaking
    out of the loop stops the work at once.
    """
    if not prompt_ids:
        raise CourseError("the prompt has no tokens; start from a start token (see start_ids)")
    if max_new_tokens < 1:
        raise CourseError(f"max_new_tokens: must be an integer >= 1, got {max_new_tokens}")
    # BEGIN TASK 5.4 [The generation loop]: yield chosen tokens until max_new_tokens or a stop id
    generator = make_generator(0) if generator is None else generator
    step = FullContextLogits(model) if next_token_logits is None else next_token_logits
    ids = torch.tensor([list(prompt_ids)], dtype=torch.long, device=model_device(model))
    for _ in range(max_new_tokens):
        next_id = choose_next(step(ids), generator, settings)
        if next_id in stop_ids:
            return
        yield next_id
        ids = torch.cat([ids, ids.new_tensor([[next_id]])], dim=1)
    # END TASK 5.4


class TokenizerLike(Protocol):
    """What generation needs from a tokenizer (week 2's `Tokenizer` has all of it)."""

    @property
    def eot_id(self) -> int | None: ...

    def encode(self, text: str) -> list[int]: ...

    def decode_bytes(self, ids: Sequence[int]) -> bytes: ...


def start_ids(tokenizer: TokenizerLike) -> list[int]:
    """Where an empty prompt starts: the end-of-text token (the model saw it between documents),
    or, for a tokenizer without one, a newline."""
    eot = getattr(tokenizer, "eot_id", None)
    return [eot] if eot is not None else tokenizer.encode("\n")


def generate_text(
    model: GPT,
    tokenizer: TokenizerLike,
    prompt_ids: Sequence[int],
    max_new_tokens: int,
    settings: SamplingSettings = PURE_SAMPLING,
    *,
    stop: Sequence[str] = (),
    generator: torch.Generator | None = None,
    next_token_logits: NextTokenLogits | None = None,
) -> Iterator[str]:
    """Yield the continuation as printable text pieces (see streaming.py), stopping at the
    end-of-text token, after `max_new_tokens` tokens, or where a string in `stop` appears (cut
    before it). The other arguments are `generate`'s."""
    stream = TextStream(stop)
    eot = getattr(tokenizer, "eot_id", None)
    stop_ids = set() if eot is None else {eot}
    tokens = generate(
        model,
        prompt_ids,
        max_new_tokens,
        settings,
        generator=generator,
        stop_ids=stop_ids,
        next_token_logits=next_token_logits,
    )
    for token in tokens:
        piece = stream.push(tokenizer.decode_bytes([token]))
        if piece:
            yield piece
        if stream.stopped:
            return
    piece = stream.finish()
    if piece:
        yield piece
