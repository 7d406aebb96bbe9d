"""Pre-tokenization: the patterns, special-token splitting, and cuts that change nothing."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from week2_tokenizer.pretokenize import (
    compile_pattern,
    count_pretokens,
    iter_chunks,
    pretokenize,
    safe_cut,
    split_on_specials,
)


def test_gpt2_pattern():
    assert pretokenize("Hello world's  end!!\n\n 42", "gpt2") == [
        "Hello",
        " world",
        "'s",
        " ",
        " end",
        "!!",
        "\n\n",
        " 42",
    ]


def test_gpt4_pattern():
    assert pretokenize("It's 12345 ok.\n\nBye", "gpt4") == [
        "It",
        "'s",
        " ",
        "123",
        "45",
        " ok",
        ".\n\n",
        "Bye",
    ]


def test_specials_are_cut_out():
    assert split_on_specials("a<|eot|>b<|eot|>", ["<|eot|>"]) == ["a", "b", ""]
    assert pretokenize("hi<|eot|> there", "gpt2", ["<|eot|>"]) == ["hi", " there"]


def test_newline_is_not_a_safe_cut():
    assert pretokenize("a \nb", "gpt2") != pretokenize("a \n", "gpt2") + pretokenize("b", "gpt2")
    assert safe_cut("a \nb") == 1  # between "a" and " "


text_pieces = st.lists(
    st.sampled_from(["a", "b", " ", "  ", "\n", "\r\n", ".", "!?", "'s", "9", "é", "<|x|>", "\t"]),
    max_size=40,
).map("".join)


@settings(max_examples=200, deadline=None)
@given(text=text_pieces, limit=st.integers(0, 80), gpt4=st.booleans())
def test_safe_cut_changes_no_pretoken(text, limit, gpt4):
    pattern = "gpt4" if gpt4 else "gpt2"
    cut = safe_cut(text, ["<|x|>"], limit=limit)
    assert 0 <= cut <= max(limit, 0)
    if cut:
        whole = pretokenize(text, pattern, ["<|x|>"])
        parts = pretokenize(text[:cut], pattern, ["<|x|>"]) + pretokenize(
            text[cut:], pattern, ["<|x|>"]
        )
        assert parts == whole


@settings(max_examples=50, deadline=None)
@given(text=text_pieces, size=st.integers(1, 12))
def test_chunks_count_like_the_whole(text, size):
    chunks = list(
        iter_chunks([text[i : i + 5] for i in range(0, len(text), 5)], ["<|x|>"], size=size)
    )
    assert "".join(chunks) == text
    assert count_pretokens(chunks, "gpt2", ["<|x|>"], processes=1) == count_pretokens(
        text, "gpt2", ["<|x|>"]
    )


def test_bad_pattern_is_a_clear_error():
    import pytest

    from shared.errors import CourseError

    with pytest.raises(CourseError, match="not a valid regex"):
        compile_pattern("(unclosed")
