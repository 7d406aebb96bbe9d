"""One request's generation, a token at a time, with what the page shows about each token.

    prompt ids --week 5's generate, KV-cached decoder--> token ids, one per step
    each step: the token, its probability, the top alternatives, the text it completes

The tokens are week 5's: the same `generate`, sampling and seeded generator as `make sample
DECODER=kv_cache`, so a seeded request gives the same text here as on the command line. The
decoder is wrapped (`Recorded`) so that the logits it computed for each step are kept; the
probabilities shown are the distribution the token was drawn from (after temperature, top-k
and top-p), and `logprob` is the log of the token's share of it.

Several requests share one model. PyTorch on a CPU already uses every core for one forward
pass, so running two at once only makes both slower; a lock lets one *step* run at a time. Each
step takes the lock and releases it, so four streams advance in turn, a token each, instead of
the fourth waiting for the first three to finish: its first token comes after about four steps,
not after three whole answers. Each request has its own KV cache and generator, so nothing of one
stream can leak into another.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from week2_tokenizer import Tokenizer
from week3_model import GPT
from week5_generation.generate import generate
from week5_generation.sampling import SamplingSettings, filtered_probabilities
from week5_generation.streaming import TextStream
from week6_optimizations.cached_generation import CachedLogits


class Recorded:
    """A next-token-logits decoder that keeps the last logits it returned."""

    def __init__(self, inner: CachedLogits) -> None:
        self.inner = inner
        self.last: Tensor | None = None

    def __call__(self, ids: Tensor) -> Tensor:
        self.last = self.inner(ids)
        return self.last


@dataclass(frozen=True)
class Alternative:
    """A token the model could have chosen at a step, with its log-probability."""

    token: str
    logprob: float
    id: int


@dataclass(frozen=True)
class Step:
    """One generated token: its id and text, its log-probability, the top alternatives, and the
    printable text this step adds to the answer (may be "" while a character is unfinished)."""

    id: int
    token: str
    logprob: float
    top: tuple[Alternative, ...]
    piece: str


@dataclass
class Outcome:
    """How a generation ended: `stop` (end-of-text, a stop string) or `length` (max_tokens)."""

    finish_reason: str = "length"
    steps: list[Step] = field(default_factory=list)
    tail: str = ""  # text held back until the end (the bytes of an unfinished character)


def token_text(tokenizer: Tokenizer, token_id: int) -> str:
    """A token's bytes as text (an unfinished UTF-8 character shows as U+FFFD)."""
    return tokenizer.decode_bytes([token_id]).decode("utf-8", errors="replace")


def alternatives(probs: Tensor, tokenizer: Tokenizer, n: int) -> tuple[Alternative, ...]:
    """The `n` most likely tokens of a distribution (the ones it gives any probability)."""
    n = min(n, int((probs > 0).sum()))
    if n <= 0:
        return ()
    values, ids = torch.topk(probs, n)
    return tuple(
        Alternative(token_text(tokenizer, i), math.log(v), i)
        for v, i in zip(values.tolist(), ids.tolist(), strict=True)
    )


def steps(
    model: GPT,
    tokenizer: Tokenizer,
    prompt_ids: Sequence[int],
    max_tokens: int,
    settings: SamplingSettings,
    *,
    generator: torch.Generator,
    stop: Sequence[str] = (),
    stop_ids: Sequence[int] = (),
    n_top: int = 5,
    lock: threading.Lock,
    outcome: Outcome,
) -> Generator[Step, None, None]:
    """Yield each generated token as a `Step`; each step's model work holds `lock`."""
    decoder = Recorded(CachedLogits(model))
    stream = TextStream(stop)
    tokens = generate(
        model,
        prompt_ids,
        max_tokens,
        settings,
        generator=generator,
        stop_ids=set(stop_ids),
        next_token_logits=decoder,
    )
    while True:
        with lock:
            token = next(tokens, None)
        if token is None:
            outcome.finish_reason = "stop" if len(outcome.steps) < max_tokens else "length"
            break
        assert decoder.last is not None
        probs = filtered_probabilities(decoder.last, settings)
        share = float(probs[token])
        step = Step(
            id=token,
            token=token_text(tokenizer, token),
            logprob=math.log(share) if share > 0 else -math.inf,
            top=alternatives(probs, tokenizer, n_top),
            piece=stream.push(tokenizer.decode_bytes([token])),
        )
        outcome.steps.append(step)
        yield step
        if stream.stopped:
            outcome.finish_reason = "stop"
            return  # as week 5's generate_text: the text ends before the stop string
    outcome.tail = stream.finish()
