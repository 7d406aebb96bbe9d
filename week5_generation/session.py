"""One sampling session: settings from config and flags, a prompt in, text streamed out.

Shared by `make sample` (one prompt) and `make chat` (a prompt per line of input until end of
input, Ctrl-D; Ctrl-C stops at once, and the command exits 130 with one line). Notices (which
checkpoint, a cropped prompt) go to stderr, so stdout holds only text.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any, BinaryIO, TextIO

import torch

from shared.config import Config, build_section
from shared.errors import CourseError
from week5_generation.config import SampleConfig
from week5_generation.finetune.chat import ChatHistory, speaks_chat, stream_answer
from week5_generation.generate import DECODERS, TokenizerLike, generate_text, start_ids
from week5_generation.loading import SamplingSource


def notice(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def resolve_settings(config: Config, **overrides: Any) -> SampleConfig:
    """The run's `sample` section (defaults if it has none) with the non-None `overrides` on top,
    checked again as a whole: errors name `sample.<key>`."""
    base = getattr(config, "sample", None)
    values = dataclasses.asdict(base if base is not None else SampleConfig())
    values.update({k: v for k, v in overrides.items() if v is not None})
    return build_section(SampleConfig, values, "sample")


def session_seed(settings: SampleConfig, config: Config) -> int:
    """sample.seed, or run.seed when it is null."""
    return settings.seed if settings.seed is not None else config.run.seed


def prompt_ids(
    tokenizer: TokenizerLike, prompt: str, block_size: int, warn: Callable[[str], None] = notice
) -> list[int]:
    """The prompt as ids (a start token if it is empty), cropped to its last block_size tokens."""
    ids = tokenizer.encode(prompt) if prompt else start_ids(tokenizer)
    if len(ids) > block_size:
        warn(
            f"note: the prompt is {len(ids)} tokens, longer than the context of {block_size}; "
            f"the model sees only its last {block_size} tokens"
        )
        ids = ids[-block_size:]
    return ids


def sample_once(
    source: SamplingSource,
    prompt: str,
    settings: SampleConfig,
    generator: torch.Generator,
    out: TextIO,
    warn: Callable[[str], None] = notice,
    decoder: str = "full",
    history: ChatHistory | None = None,
) -> str:
    """Write the prompt, then the continuation as it is generated; return the continuation.

    `decoder` names the `DECODERS` entry that computes the next-token logits (generate.py). A
    fine-tuned checkpoint speaks the chat template instead: the prompt is a user turn added to
    `history` (a new one by default) and only the reply is written (finetune/chat.py).
    """
    next_token_logits = DECODERS.get(decoder)(source.model)
    if speaks_chat(source.config):
        history = history if history is not None else ChatHistory()
        pieces_of = stream_answer(
            source.model,
            source.tokenizer,
            history.ask(prompt),
            settings.max_new_tokens,
            settings.sampling,
            stop=tuple(settings.stop),
            generator=generator,
            next_token_logits=next_token_logits,
            warn=warn,
        )
    else:
        ids = prompt_ids(source.tokenizer, prompt, source.model.config.block_size, warn)
        out.write(prompt)
        out.flush()
        pieces_of = generate_text(
            source.model,
            source.tokenizer,
            ids,
            settings.max_new_tokens,
            settings.sampling,
            stop=settings.stop,
            generator=generator,
            next_token_logits=next_token_logits,
        )
    pieces = []
    for piece in pieces_of:
        out.write(piece)
        out.flush()
        pieces.append(piece)
    out.write("\n")
    out.flush()
    reply = "".join(pieces)
    if history is not None:
        history.record(reply)
    return reply


def input_lines(stream: BinaryIO, name: str = "stdin") -> Iterator[str]:
    """The lines of a byte stream (the chat's standard input) as text, read one at a time.

    The bytes are decoded here, as UTF-8, rather than by Python's text layer, whose encoding and
    error handling depend on the terminal's locale. A line that is not UTF-8 ends the session
    with one line naming the stream and the offset of the bad byte from the stream's start.
    """
    offset = 0
    for raw in iter(stream.readline, b""):
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise CourseError(
                f"{name}: not UTF-8 text (bad byte at offset {offset + error.start}); "
                "type or pipe UTF-8 text"
            ) from None
        offset += len(raw)


def interactive(
    source: SamplingSource,
    lines: Iterable[str],
    settings: SampleConfig,
    generator: torch.Generator,
    out: TextIO,
    show_prompt: bool = False,
    warn: Callable[[str], None] = notice,
    decoder: str = "full",
) -> int:
    """A prompt per input line until end of input; return the number of prompts answered.

    One generator serves the whole session, so the same lines give the same answers. With
    `show_prompt` (a terminal), a "> " invites each line on stderr. With a fine-tuned checkpoint
    the session is one conversation: each answer sees the turns before it.
    """
    answered = 0
    history = ChatHistory() if speaks_chat(source.config) else None
    lines = iter(lines)
    while True:
        if show_prompt:
            print("> ", end="", file=sys.stderr, flush=True)
        line = next(lines, None)
        if line is None:
            break
        sample_once(source, line.rstrip("\n"), settings, generator, out, warn, decoder, history)
        answered += 1
    if show_prompt:
        print(file=sys.stderr)
    return answered
