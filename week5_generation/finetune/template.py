"""The chat template: how a conversation becomes one token sequence, and which tokens are taught.

    [eot] <|user|> Who says this? ... <|end|> <|assistant|> PETRUCHIO <|end|>
                   `-- context ------------'              `-- targets ------'

Each message is a role token, its content and the end-of-turn token `<|end|>`. The role and end
tokens are *special*: one id each, never produced by encoding ordinary text, so a user who types
"<|end|>" cannot close a turn (contents are encoded with `allowed_special="none"`). The sequence
starts with the end-of-text token where the tokenizer has one, the context from which the base
model learned to start a document.

A model learns to answer when the loss counts only the assistant's tokens: its contents and the
`<|end|>` that closes them (so that it learns to stop). Everything else, the system and user
turns and the `<|assistant|>` tag itself, is context: seen, never predicted. To generate, the
conversation so far is encoded with an open `<|assistant|>` turn at the end, and the model writes
until it emits `<|end|>`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import regex

from shared.errors import CourseError

if TYPE_CHECKING:
    from week2_tokenizer import Tokenizer

ROLES = ("system", "user", "assistant")
ROLE_TOKENS = {role: f"<|{role}|>" for role in ROLES}
END = "<|end|>"
TEMPLATE_TOKENS = (*ROLE_TOKENS.values(), END)

_TURN = regex.compile(
    "(" + "|".join(regex.escape(t) for t in ROLE_TOKENS.values()) + ")(.*?)" + regex.escape(END),
    regex.DOTALL,
)


@dataclass(frozen=True)
class Message:
    """One turn of a conversation: who speaks (system, user or assistant) and what they say."""

    role: str
    content: str


@dataclass
class EncodedChat:
    """A conversation as ids, and for each id whether the loss predicts it (an assistant token)."""

    ids: list[int]
    is_target: list[bool]

    @property
    def n_targets(self) -> int:
        return sum(self.is_target)


def render(messages: list[Message]) -> str:
    """The conversation as the text the template writes: role token, content, end token, ..."""
    return "".join(f"{ROLE_TOKENS[m.role]}{m.content}{END}" for m in messages)


def parse(text: str) -> list[Message]:
    """The messages of a rendered conversation (the inverse of `render`)."""
    # BEGIN TASK 5.6 [Fine-tuning]: read the turns back: role token, content, end token, repeated
    messages, position = [], 0
    for match in _TURN.finditer(text):
        if match.start() != position:
            break
        tag, content = match.group(1), match.group(2)
        if any(token in content for token in TEMPLATE_TOKENS):
            break
        role = next(r for r, t in ROLE_TOKENS.items() if t == tag)
        messages.append(Message(role, content))
        position = match.end()
    if position != len(text):
        raise CourseError(
            f"not a rendered conversation from offset {position}: {text[position:][:40]!r}"
        )
    return messages
    # END TASK 5.6


def special_id(tokenizer: Tokenizer, token: str) -> int:
    """The id of a template token; a tokenizer without it has not been prepared for chat."""
    if token not in tokenizer.special_tokens:
        raise CourseError(
            f"the tokenizer has no {token} token: it was not prepared for the chat template "
            "(fine-tuning adds the template's tokens)"
        )
    return tokenizer.special_tokens[token]


def encode_chat(
    tokenizer: Tokenizer, messages: list[Message], *, open_reply: bool = False
) -> EncodedChat:
    """The conversation as ids with its target mask; `open_reply` ends it with an open
    `<|assistant|>` turn, the prompt from which a model generates its answer."""
    # BEGIN TASK 5.7 [Fine-tuning]: ids of role, content, end per message; targets = assistant's
    ids: list[int] = [] if tokenizer.eot_id is None else [tokenizer.eot_id]
    is_target = [False] * len(ids)
    end = special_id(tokenizer, END)
    for message in messages:
        taught = message.role == "assistant"
        content = tokenizer.encode(message.content, allowed_special="none")
        ids += [special_id(tokenizer, ROLE_TOKENS[message.role]), *content, end]
        is_target += [False, *([taught] * len(content)), taught]
    if open_reply:
        ids.append(special_id(tokenizer, ROLE_TOKENS["assistant"]))
        is_target.append(False)
    return EncodedChat(ids, is_target)
    # END TASK 5.7


def reply_prompt(tokenizer: Tokenizer, messages: list[Message]) -> list[int]:
    """The ids a model continues to answer the last message of `messages`."""
    return encode_chat(tokenizer, messages, open_reply=True).ids
