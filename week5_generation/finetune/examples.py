"""From conversations to training batches: encode, fit the context, hold some out, mask the loss.

    conversation --template--> ids + is_target --fit to block_size + 1--> Example
    batch of examples --> x (B, T) ids, y (B, T) next ids where the next id is a target, else -1

The loss of week 3's GPT ignores targets of -1, so a position counts only when the token after
it is an assistant token: the prompt is context, never taught. Rows are padded on the right to
the longest example of the batch; padding targets are -1 too, and causal attention keeps padding
from touching the real positions before it.

An example longer than the context window (block_size + 1 ids: block_size inputs, each with its
next id) is cut from the left, dropping the oldest prompt tokens, when `finetune.overlong` is
`truncate`, and left out when it is `refuse`; an example whose last answer alone does not fit is
left out either way. The held-out split is decided by a hash of each line's text, so it does not
depend on the order of the lines, and adding lines never moves an old one to the other side.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor

from shared.errors import CourseError
from week4_training.data import BatchSampler, TokenData, TokenSplit, stream_seed, token_dtype
from week5_generation.finetune.jsonl import Conversation
from week5_generation.finetune.template import ROLE_TOKENS, encode_chat

if TYPE_CHECKING:
    from week2_tokenizer import Tokenizer


@dataclass(frozen=True)
class Example:
    """One conversation as ids and target flags, fitted to the context; `line` in its file."""

    ids: np.ndarray  # int64
    is_target: np.ndarray  # bool, same length
    line: int
    n_bytes: int  # UTF-8 bytes of the answers' text: the denominator of bits per byte

    @property
    def n_targets(self) -> int:
        return int(self.is_target.sum())


@dataclass
class FitCounts:
    """What fitting to the context did: examples kept whole, cut, and left out."""

    kept: int = 0
    truncated: int = 0
    refused: int = 0
    tokens_dropped: int = 0
    refused_lines: list[int] = field(default_factory=list)

    def describe(self, block_size: int) -> str:
        text = f"{self.kept + self.truncated} examples"
        if self.truncated:
            text += (
                f", {self.truncated} cut from the left to fit {block_size + 1} tokens "
                f"({self.tokens_dropped} prompt tokens dropped)"
            )
        if self.refused:
            lines = ", ".join(map(str, self.refused_lines[:5]))
            text += f", {self.refused} left out as longer than the context (lines {lines}"
            text += ", ...)" if self.refused > 5 else ")"
        return text


def held_out(line_text: str, fraction: float) -> bool:
    """Whether a line belongs to the held-out split: its SHA-256 decides, not its position."""
    digest = int.from_bytes(hashlib.sha256(line_text.encode("utf-8")).digest()[:8], "big")
    return digest / 2**64 < fraction


def fit_to_context(
    ids: list[int], is_target: list[bool], block_size: int, last_reply_start: int, truncate: bool
) -> tuple[list[int], list[bool]] | None:
    """The example cut to block_size + 1 ids from the left, or None if it cannot be used.

    `last_reply_start` is the index of the last `<|assistant|>` tag: everything from it on (the
    last answer) and one token before it must fit, or the answer would lose its context.
    """
    limit = block_size + 1
    if len(ids) <= limit:
        return ids, is_target
    drop = len(ids) - limit
    if not truncate or drop > last_reply_start - 1:
        return None
    return ids[drop:], is_target[drop:]


def encode_examples(
    tokenizer: Tokenizer, conversations: Sequence[Conversation], block_size: int, overlong: str
) -> tuple[list[Example], FitCounts]:
    """Every conversation that fits (see the module docstring), and the counts of what was done."""
    counts = FitCounts()
    assistant = tokenizer.special_tokens[ROLE_TOKENS["assistant"]]
    examples = []
    for conversation in conversations:
        chat = encode_chat(tokenizer, list(conversation.messages))
        last_reply = max(i for i, token in enumerate(chat.ids) if token == assistant)
        fitted = fit_to_context(
            chat.ids, chat.is_target, block_size, last_reply, truncate=overlong == "truncate"
        )
        if fitted is None:
            counts.refused += 1
            counts.refused_lines.append(conversation.line)
            continue
        ids, is_target = fitted
        if len(ids) < len(chat.ids):
            counts.truncated += 1
            counts.tokens_dropped += len(chat.ids) - len(ids)
        else:
            counts.kept += 1
        answers = [m.content for m in conversation.messages if m.role == "assistant"]
        examples.append(
            Example(
                np.asarray(ids, dtype=np.int64),
                np.asarray(is_target, dtype=bool),
                conversation.line,
                sum(len(a.encode("utf-8")) for a in answers),
            )
        )
    return examples, counts


def masked_batch(examples: Sequence[Example], pad_id: int = 0) -> tuple[Tensor, Tensor]:
    """(x, y), both (B, T) int64, T the longest example less one; y is -1 where not taught.

    A batch with no target at all is refused: its loss would be 0 / 0.
    """
    # BEGIN TASK 5.9 [Fine-tuning]: inputs, and their next ids as targets, -1 where not taught
    width = max(len(e.ids) for e in examples) - 1
    x = torch.full((len(examples), width), pad_id, dtype=torch.int64)
    y = torch.full((len(examples), width), -1, dtype=torch.int64)
    for row, example in enumerate(examples):
        ids, taught = torch.from_numpy(example.ids), torch.from_numpy(example.is_target)
        n = len(ids) - 1
        x[row, :n] = ids[:-1]
        y[row, :n] = torch.where(taught[1:], ids[1:], -1)
    if not bool((y >= 0).any()):
        raise CourseError(
            "a batch of prompts only (no assistant token to learn): nothing to train on"
        )
    return x, y
    # END TASK 5.9


def example_split(examples: Sequence[Example], tokenizer: Tokenizer) -> TokenSplit:
    """The examples' ids end to end, as week 4's token split: what `make train` reports counting."""
    dtype = token_dtype(tokenizer.vocab_size)
    tokens = (
        np.concatenate([e.ids for e in examples]).astype(dtype) if examples else np.zeros(0, dtype)
    )
    return TokenSplit(tokens, sum(e.n_bytes for e in examples))


@dataclass
class ExampleData(TokenData):
    """A fine-tuning set: week 4's token data (the examples' ids) and the examples themselves."""

    train_examples: list[Example] = field(default_factory=list)
    val_examples: list[Example] = field(default_factory=list)
    val_conversations: list[Conversation] = field(default_factory=list)  # as val_examples


class ExampleSampler(BatchSampler):
    """Seeded batches of whole examples, drawn with replacement (week 4's generator and state).

    Each batch is `batch_size` examples at uniformly random indexes; resuming restores the
    generator, so a resumed run draws the batches the uninterrupted run would have drawn.
    """

    def __init__(
        self,
        examples: Sequence[Example],
        batch_size: int,
        seed: int,
        rank: int = 0,
        pad_id: int = 0,
    ) -> None:
        if not examples:
            raise CourseError("no training examples left to fine-tune on")
        # not BatchSampler.__init__: there is no token stream here, only its generator's rule
        self.generator = torch.Generator().manual_seed(stream_seed(seed, rank))
        self.batch_size = batch_size
        self.examples = list(examples)  # each already fitted to the context (encode_examples)
        self.pad_id = pad_id

    def next_batch(self, device: torch.device) -> tuple[Tensor, Tensor]:
        picks = torch.randint(len(self.examples), (self.batch_size,), generator=self.generator)
        x, y = masked_batch([self.examples[i] for i in picks.tolist()], self.pad_id)
        return x.to(device), y.to(device)
