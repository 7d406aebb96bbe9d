"""Fine-tuning data: one JSON object per line, in one of two shapes, checked line by line.

    {"prompt": "Who says this?\\n\\nKiss me, Kate.", "completion": "PETRUCHIO"}
    {"messages": [{"role": "system", "content": "..."}, {"role": "user", "content": "..."},
                  {"role": "assistant", "content": "..."}]}

A prompt/completion line is the conversation [user: prompt, assistant: completion]. A line that
cannot be used is an error naming `file:line` and what is wrong, found before any training: a
run that stops at example 9,000 because of a typo wastes the 8,999 before it. Blank lines are
skipped. The file is read as bytes and decoded as UTF-8 here, so the error can say where a bad
byte is whatever the machine's locale.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.errors import CourseError
from week5_generation.finetune.template import ROLES, TEMPLATE_TOKENS, Message


@dataclass(frozen=True)
class Conversation:
    """The messages of one line, and where it came from (its 1-based line number)."""

    messages: tuple[Message, ...]
    line: int
    text: str  # the line as written: the held-out split hashes it


class DataFormatError(CourseError):
    """A line of a fine-tuning file is not usable."""


def _content(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a string, got {type(value).__name__}")
    reserved = [token for token in TEMPLATE_TOKENS if token in value]
    if reserved:
        raise ValueError(f"{what} holds {reserved[0]}, a token the chat template reserves")
    return value


def _messages(document: Any) -> tuple[Message, ...]:
    """The conversation of one parsed line (ValueError says what is wrong with it)."""
    if not isinstance(document, dict):
        raise ValueError(f"expected a JSON object, got {type(document).__name__}")
    if "messages" in document:
        turns = document["messages"]
        if not isinstance(turns, list) or not turns:
            raise ValueError('"messages" must be a non-empty list')
        messages = []
        for i, turn in enumerate(turns):
            if not isinstance(turn, dict) or "role" not in turn or "content" not in turn:
                raise ValueError(f'messages[{i}] must be an object with "role" and "content"')
            if turn["role"] not in ROLES:
                raise ValueError(
                    f"messages[{i}]: unknown role {turn['role']!r} (allowed: {', '.join(ROLES)})"
                )
            messages.append(Message(turn["role"], _content(turn["content"], f"messages[{i}]")))
        answers = [m for m in messages if m.role == "assistant"]
        if not answers:
            raise ValueError("no assistant message: nothing to learn from this line")
        if any(not m.content.strip() for m in answers):
            raise ValueError("an assistant message is empty")
        return tuple(messages)
    missing = [key for key in ("prompt", "completion") if key not in document]
    if missing:
        raise ValueError(
            f'missing field "{missing[0]}" (a line has prompt and completion, or messages)'
        )
    prompt = _content(document["prompt"], '"prompt"')
    completion = _content(document["completion"], '"completion"')
    if not completion.strip():
        raise ValueError('"completion" is empty')
    return (Message("user", prompt), Message("assistant", completion))


def read_conversations(path: str | Path) -> list[Conversation]:
    """Every conversation of a JSONL file; the first bad line is a `DataFormatError`."""
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(f"{path}: fine-tuning data not found (a .jsonl file)")
    conversations = []
    for number, raw in enumerate(path.read_bytes().splitlines(), start=1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise DataFormatError(
                f"{path}:{number}: not UTF-8 (bad byte at column {error.start + 1})"
            ) from None
        if not line.strip():
            continue
        try:
            document = json.loads(line)
        except json.JSONDecodeError as error:
            raise DataFormatError(
                f"{path}:{number}: not JSON ({error.msg}, column {error.colno})"
            ) from None
        try:
            messages = _messages(document)
        except ValueError as error:
            raise DataFormatError(f"{path}:{number}: {error}") from None
        conversations.append(Conversation(messages, number, line))
    if not conversations:
        raise DataFormatError(f"{path}: no examples in the file (one JSON object per line)")
    return conversations
