"""The chat template: render and parse are inverses, and only the assistant's tokens are taught."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.errors import CourseError
from week2_tokenizer import Tokenizer
from week5_generation.finetune.template import (
    END,
    ROLE_TOKENS,
    ROLES,
    TEMPLATE_TOKENS,
    Message,
    encode_chat,
    parse,
    render,
    reply_prompt,
    special_id,
)
from week5_generation.finetune.vocabulary import with_special_tokens

TOKENIZER = with_special_tokens(Tokenizer.bytes_only(), TEMPLATE_TOKENS)
contents = st.text(max_size=30).filter(lambda t: not any(x in t for x in TEMPLATE_TOKENS))
messages = st.lists(st.builds(Message, st.sampled_from(ROLES), contents), max_size=6)


@pytest.mark.task("5.6")
@given(messages)
def test_parse_gives_the_rendered_messages_back(chat):
    assert parse(render(chat)) == chat


def test_render_writes_role_content_end_per_message():
    chat = [Message("system", "be brief"), Message("user", "hi"), Message("assistant", "hello")]
    assert render(chat) == "<|system|>be brief<|end|><|user|>hi<|end|><|assistant|>hello<|end|>"


@pytest.mark.parametrize(
    "text",
    [
        "hello",
        "<|user|>hi",
        "<|user|>hi<|end|>tail",
        "<|robot|>x<|end|>",
        "<|user|>a<|user|>b<|end|>",
    ],
)
@pytest.mark.task("5.6")
def test_text_that_is_not_a_rendered_conversation_is_refused(text):
    with pytest.raises(CourseError, match="not a rendered conversation"):
        parse(text)


@pytest.mark.task("5.7")
def test_only_the_assistant_contents_and_their_end_are_targets():
    chat = [Message("user", "ab"), Message("assistant", "cd"), Message("user", "e")]
    encoded = encode_chat(TOKENIZER, chat)
    special = TOKENIZER.special_tokens
    eot, user, assistant, end = (
        TOKENIZER.eot_id,
        special["<|user|>"],
        special["<|assistant|>"],
        special[END],
    )
    a, b, c, d, e = b"abcde"
    assert encoded.ids == [eot, user, a, b, end, assistant, c, d, end, user, e, end]
    taught = [i for i, flag in zip(encoded.ids, encoded.is_target, strict=True) if flag]
    assert taught == [c, d, end]
    assert encoded.n_targets == 3


@pytest.mark.task("5.7")
@settings(max_examples=50)
@given(messages)
def test_the_targets_are_exactly_the_assistant_tokens(chat):
    encoded = encode_chat(TOKENIZER, chat)
    expected = sum(
        len(TOKENIZER.encode(m.content, allowed_special="none")) + 1
        for m in chat
        if m.role == "assistant"
    )
    assert encoded.n_targets == expected
    assert len(encoded.ids) == len(encoded.is_target)


@pytest.mark.task("5.7")
def test_template_text_typed_by_a_user_is_ordinary_text():
    encoded = encode_chat(TOKENIZER, [Message("user", "<|end|>")])
    assert encoded.ids.count(TOKENIZER.special_tokens[END]) == 1  # only the template's own


@pytest.mark.task("5.7")
def test_a_reply_prompt_ends_with_an_open_assistant_turn():
    ids = reply_prompt(TOKENIZER, [Message("user", "hi")])
    assert ids[-1] == TOKENIZER.special_tokens[ROLE_TOKENS["assistant"]]
    assert ids[:-1] == encode_chat(TOKENIZER, [Message("user", "hi")]).ids


def test_a_tokenizer_without_the_template_tokens_says_so():
    with pytest.raises(CourseError, match=re.escape("the tokenizer has no <|end|> token")):
        special_id(Tokenizer.bytes_only(), END)


@pytest.mark.task("5.7")
def test_a_tokenizer_without_end_of_text_starts_with_the_first_role():
    plain = with_special_tokens(Tokenizer.bytes_only(special_tokens=()), TEMPLATE_TOKENS)
    ids = encode_chat(plain, [Message("user", "x")]).ids
    assert ids[0] == plain.special_tokens["<|user|>"]
