"""Talking to a fine-tuned model: wrap the prompt in the template, stop at the end of the turn.

    make sample PROMPT="Who says this? ..."   ->  [user: PROMPT], the model writes the reply
    make chat                                  ->  every line a user turn, the history kept

A chat keeps the whole conversation, because the model answers the last message *given* the
earlier ones. The context window is finite: when the history no longer fits, the oldest turns
are dropped first (a whole turn at a time, so the model never sees half a message), and if the
newest message alone is too long it is cut from the left like any prompt.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch

from week5_generation.finetune.template import END, Message, reply_prompt
from week5_generation.generate import generate_text
from week5_generation.sampling import GREEDY, SamplingSettings

if TYPE_CHECKING:
    from shared.config import Config
    from week2_tokenizer import Tokenizer
    from week3_model import GPT
    from week5_generation.generate import NextTokenLogits


def speaks_chat(config: Config) -> bool:
    """Whether a run was fine-tuned on the chat template (its config has a finetune section)."""
    return getattr(config, "finetune", None) is not None


def split_last_answer(messages: list[Message]) -> tuple[list[Message], str]:
    """(the messages before the last assistant message, that message's content)."""
    last = max(i for i, m in enumerate(messages) if m.role == "assistant")
    return messages[:last], messages[last].content


def fitted_history(
    tokenizer: Tokenizer, history: list[Message], block_size: int
) -> tuple[list[int], int]:
    """The reply prompt of `history` in at most block_size ids, and how many turns were dropped.

    Oldest turns go first; the newest message is always kept (cut from the left if alone it is
    longer than the context).
    """
    # BEGIN TASK 5.10 [Fine-tuning]: drop the oldest turns until the reply prompt fits the context
    dropped = 0
    ids = reply_prompt(tokenizer, history)
    while len(ids) > block_size and dropped < len(history) - 1:
        dropped += 1
        ids = reply_prompt(tokenizer, history[dropped:])
    return ids[-block_size:], dropped
    # END TASK 5.10


def stream_answer(
    model: GPT,
    tokenizer: Tokenizer,
    history: list[Message],
    max_new_tokens: int,
    settings: SamplingSettings = GREEDY,
    *,
    stop: tuple[str, ...] = (),
    generator: torch.Generator | None = None,
    next_token_logits: NextTokenLogits | None = None,
    warn: Callable[[str], None] | None = None,
) -> Iterator[str]:
    """The model's reply to the last message of `history`, as text pieces as they are generated;
    the reply ends where the model writes `<|end|>` (or a `stop` string appears)."""
    ids, dropped = fitted_history(tokenizer, history, model.config.block_size)
    if dropped and warn is not None:
        warn(
            f"note: the conversation is longer than the context; its {dropped} oldest turns are "
            "left out"
        )
    return generate_text(
        model,
        tokenizer,
        ids,
        max_new_tokens,
        settings,
        stop=(*stop, END),
        generator=generator,
        next_token_logits=next_token_logits,
    )


def answer(
    model: GPT,
    tokenizer: Tokenizer,
    history: list[Message],
    max_new_tokens: int = 32,
    settings: SamplingSettings = GREEDY,
    generator: torch.Generator | None = None,
) -> str:
    """The whole reply to the last message of `history` (greedy unless `settings` say otherwise)."""
    pieces = stream_answer(model, tokenizer, history, max_new_tokens, settings, generator=generator)
    return "".join(pieces)


@dataclass
class ChatHistory:
    """A chat in progress: the turns so far (`make chat` adds one user and one assistant turn
    per line of input)."""

    messages: list[Message] = field(default_factory=list)

    def ask(self, text: str) -> list[Message]:
        self.messages.append(Message("user", text))
        return list(self.messages)

    def record(self, reply: str) -> None:
        self.messages.append(Message("assistant", reply))
