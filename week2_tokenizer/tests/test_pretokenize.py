"""Pre-tokenization: the patterns, special-token splitting, and cuts that change nothing."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.errors import CourseError
from week2_tokenizer.pretokenize import (
    ASCII_FORMS,
    FAST_FORMS,
    GPT2_FAST,
    GPT2_PATTERN,
    GPT4_PATTERN,
    compile_pattern,
    count_pretokens,
    iter_chunks,
    pretokenize,
    safe_cut,
    split_on_specials,
)

sys.path.insert(0, str(Path(__file__).parent))
from reference import cl100k_pattern  # noqa: E402


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


@settings(max_examples=300, deadline=None)
@given(
    text=st.lists(
        st.one_of(
            st.text(max_size=8),
            st.sampled_from(["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'", " '", "''s"]),
            st.sampled_from([" ", "  ", "\n", "a", " ab", "9", " 12", "!", " ?!", "é", "日本"]),
        ),
        max_size=30,
    ).map("".join)
)
def test_the_fast_form_of_gpt2_cuts_the_same_pieces(text):
    """What runs for "gpt2" is GPT-2's pattern with its alternatives reordered: same pieces."""
    assert compile_pattern("gpt2").pattern == FAST_FORMS[GPT2_PATTERN] != GPT2_PATTERN
    assert compile_pattern("gpt2").findall(text) == regex.compile(GPT2_PATTERN).findall(text)


def test_the_fast_form_of_gpt2_on_shakespeare(shakespeare):
    assert shakespeare.isascii()  # so this runs the ASCII form (Python's `re`)
    assert pretokenize(shakespeare, "gpt2") == regex.compile(GPT2_PATTERN).findall(shakespeare)
    assert ASCII_FORMS[GPT2_FAST].findall(shakespeare) == compile_pattern("gpt2").findall(
        shakespeare
    )


def test_gpt2_ascii_classes_are_regex_s():
    """Each of the 128 ASCII characters is a letter, digit, space or other alike in both forms."""
    classes = [(r"\p{L}", "[A-Za-z]"), (r"\p{N}", "[0-9]"), (r"\s", "[\t\n\x0b\x0c\r ]")]
    for c in map(chr, range(128)):
        for unicode_class, ascii_class in classes:
            assert bool(regex.fullmatch(unicode_class, c)) == bool(re.fullmatch(ascii_class, c)), c


ascii_text = st.lists(
    st.one_of(
        st.text(alphabet=st.characters(max_codepoint=127), max_size=8),
        st.sampled_from(["'s", "'ll", "'", " '", "  ", "\n\n ", " 12", "a1", "\x1c", "\x0b "]),
    ),
    max_size=30,
).map("".join)


@settings(max_examples=400, deadline=None)
@given(text=ascii_text)
def test_gpt2_ascii_form_cuts_the_same_pieces(text):
    """Python's `re` with ASCII classes, on ASCII text, against `regex` with GPT-2's own pattern."""
    assert ASCII_FORMS[GPT2_FAST].findall(text) == regex.compile(GPT2_PATTERN).findall(text)
    assert pretokenize(text, "gpt2") == regex.compile(GPT2_PATTERN).findall(text)


def test_bad_pattern_is_a_clear_error():
    with pytest.raises(CourseError, match="not a valid regex"):
        compile_pattern("(unclosed")


# ------------------------------------------------------------------ GPT-4's pattern is cl100k's


def test_gpt4_pattern_is_cl100k_base_character_for_character():
    assert cl100k_pattern() == GPT4_PATTERN


def test_gpt4_keeps_trailing_whitespace_in_one_piece():
    """The alternative the course once lacked: `\\s++$`, whitespace that ends the text."""
    assert pretokenize("ok \n ", "gpt4") == ["ok", " \n "]
    assert pretokenize("ok \n x", "gpt4") == ["ok", " \n", " x"]


# Every string of at most SHORT bytes over this alphabet is one tiktoken token, so tiktoken's
# tokens of a text that short are exactly its pre-tokens: the splits of its Rust regex engine.
ALPHABET = ["a", "B", "s", "1", "'", ".", " ", "\n", "\r", "\t"]
SHORT = 5


@pytest.fixture(scope="module")
def tiktoken_cl100k_splits():
    import tiktoken

    strings = [""]
    ranks = {}
    for _ in range(SHORT):
        strings = [s + c for s in strings for c in ALPHABET]
        ranks.update((s.encode(), len(ranks)) for s in strings)
    ranks.update((bytes([b]), len(ranks)) for b in range(256) if bytes([b]) not in ranks)
    encoding = tiktoken.Encoding(
        "cl100k-splits", pat_str=cl100k_pattern(), mergeable_ranks=ranks, special_tokens={}
    )
    return lambda text: [encoding.decode_single_token_bytes(t) for t in encoding.encode(text)]


@settings(max_examples=400, deadline=None)
@given(text=st.text(alphabet=st.sampled_from(ALPHABET), max_size=SHORT))
def test_gpt4_splits_equal_tiktokens(tiktoken_cl100k_splits, text):
    assert [p.encode() for p in pretokenize(text, "gpt4")] == tiktoken_cl100k_splits(text)


@pytest.fixture(scope="module")
def gpt4_pair():
    """A small BPE trained with the gpt4 pattern, and tiktoken running the same merges with
    cl100k's pattern: their ids agree only where their pre-tokens do."""
    import tiktoken

    from week2_tokenizer import train_bpe

    text = "It's 2024: 12345 cats\r\n\r\n  said 'HELLO'...\n\tnaïve 日本語 ok  \n" * 30
    tokenizer = train_bpe(text, 420, special_tokens=[], pattern="gpt4", progress=False)
    ranks = {token: i for i, token in tokenizer.vocab.items()}
    encoding = tiktoken.Encoding(
        "gpt4-course", pat_str=cl100k_pattern(), mergeable_ranks=ranks, special_tokens={}
    )
    return tokenizer, encoding


@pytest.mark.task("2.2")
@pytest.mark.task("2.3")
@pytest.mark.task("2.4")
@pytest.mark.task("2.5")
@settings(max_examples=150, deadline=None)
@given(
    text=st.lists(
        st.one_of(
            st.text(max_size=12),
            st.text(alphabet=st.sampled_from(list(" \t\r\n")), max_size=5),
            st.sampled_from(["It's", " 12345", "cats", "...", "'LL", "日本", "\r\n"]),
        ),
        max_size=10,
    ).map("".join)
)
def test_gpt4_ids_equal_tiktokens_on_longer_text(gpt4_pair, text):
    tokenizer, encoding = gpt4_pair
    assert tokenizer.encode(text) == encoding.encode_ordinary(text)


# ------------------------------------------------------------------ patterns from files


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        (r"(a+)+$", "has capturing groups"),
        (r"(?:a+)+$|.|\s", "took over"),  # the 6-minute pattern, without its group
        (r"\p{L}+", "so encoding would drop text"),
    ],
)
def test_an_unsafe_pattern_is_refused_before_it_runs(pattern, message):
    with pytest.raises(CourseError, match=message):
        compile_pattern(pattern)


@pytest.mark.task("2.1")
@pytest.mark.task("2.5")
def test_a_checked_pattern_still_cannot_drop_text_or_hang():
    """The probes cannot foresee every text: the same checks run on every encode."""
    from week2_tokenizer import Tokenizer

    dropping = Tokenizer.bytes_only([], pattern=r"[^Q]+")  # passes the probes, which hold no Q
    assert dropping.decode(dropping.encode("plain text")) == "plain text"
    with pytest.raises(CourseError, match="covers 2 of the 3 characters"):
        dropping.encode("aQb")
    slow = Tokenizer.bytes_only([], pattern=r"(?:Q+)+$|[^Q]+|Q")
    with pytest.raises(CourseError, match="took over 1.1 s on 5001 characters"):
        slow.encode("Q" * 5000 + "!")


@pytest.mark.task("2.1")
@pytest.mark.task("2.5")
def test_a_custom_pattern_that_passes_the_check_works():
    from week2_tokenizer import Tokenizer

    tokenizer = Tokenizer.bytes_only([], pattern=r"\S+|\s+")
    text = "two  words\r\n"
    assert pretokenize(text, r"\S+|\s+") == ["two", "  ", "words", "\r\n"]
    assert tokenizer.decode(tokenizer.encode(text)) == text


def test_an_empty_special_token_is_refused():
    with pytest.raises(CourseError, match="must be a non-empty string"):
        split_on_specials("abc", [""])
