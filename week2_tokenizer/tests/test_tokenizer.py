"""Encoding and decoding: exact round trips, special tokens, streaming, errors."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.errors import CourseError
from week2_tokenizer import Tokenizer

SPECIALS = ["<|endoftext|>", "<|pad|>"]

# Arbitrary Unicode (emoji, CJK, combining marks, whitespace runs) with special tokens mixed in.
unicode_text = st.lists(
    st.one_of(
        st.text(max_size=30),
        st.text(alphabet=st.sampled_from(list(" \t\n\r\u00a0")), max_size=6),
        st.sampled_from(["😀👍🏽", "日本語の文", "e\u0301\u0308", "'s 've", "123 4567", *SPECIALS]),
    ),
    max_size=12,
).map("".join)


@pytest.mark.task("2.1")
@pytest.mark.task("2.2")
@pytest.mark.task("2.3")
@pytest.mark.task("2.4")
@pytest.mark.task("2.5")
@settings(max_examples=120, deadline=None)
@given(text=unicode_text)
def test_round_trip_trained(small_bpe, text):
    assert small_bpe.decode(small_bpe.encode(text)) == text
    assert small_bpe.decode(small_bpe.encode(text, allowed_special="none")) == text


@pytest.mark.task("2.1")
@pytest.mark.task("2.5")
@settings(max_examples=120, deadline=None)
@given(text=unicode_text)
def test_round_trip_gpt2(gpt2, text):
    assert gpt2.decode(gpt2.encode(text)) == text


@pytest.mark.task("2.1")
@pytest.mark.task("2.2")
@pytest.mark.task("2.3")
@pytest.mark.task("2.4")
@pytest.mark.task("2.5")
def test_special_tokens_become_their_ids(small_bpe):
    eot, pad = small_bpe.special_tokens["<|endoftext|>"], small_bpe.special_tokens["<|pad|>"]
    assert (eot, pad) == (398, 399) and small_bpe.eot_id == eot
    ids = small_bpe.encode("to be<|endoftext|><|pad|>or")
    assert ids == small_bpe.encode("to be") + [eot, pad] + small_bpe.encode("or")
    plain = small_bpe.encode("<|endoftext|>", allowed_special="none")
    assert eot not in plain and small_bpe.decode(plain) == "<|endoftext|>"
    only_pad = small_bpe.encode("<|endoftext|><|pad|>", allowed_special={"<|pad|>"})
    assert only_pad[-1] == pad and eot not in only_pad


@pytest.mark.task("2.5")
def test_longest_special_token_wins_where_two_overlap():
    tokenizer = Tokenizer.bytes_only(["<|a|>", "<|a|>b", "b"])
    a, ab, b = (tokenizer.special_tokens[s] for s in ["<|a|>", "<|a|>b", "b"])
    assert tokenizer.encode("<|a|>b<|a|>c") == [ab, a, ord("c")]
    assert tokenizer.encode("xb") == [ord("x"), b]


@pytest.mark.task("2.5")
def test_bytes_only_is_one_token_per_byte():
    tokenizer = Tokenizer.bytes_only()
    assert tokenizer.vocab_size == 257 and tokenizer.eot_id == 256 and tokenizer.merges == []
    text = "naïve 😀"
    assert tokenizer.encode(text) == list(text.encode("utf-8"))


@pytest.mark.task("2.1")
def test_decode_replaces_a_cut_character_and_decode_bytes_is_exact():
    tokenizer = Tokenizer.bytes_only()
    ids = list("é".encode())[:1]
    assert tokenizer.decode(ids) == "\ufffd" and tokenizer.decode_bytes(ids) == b"\xc3"


@pytest.mark.task("2.1")
@pytest.mark.task("2.2")
@pytest.mark.task("2.3")
@pytest.mark.task("2.4")
@pytest.mark.parametrize("bad", [999, -1, "3"])
def test_unknown_ids_are_a_clear_error(small_bpe, bad):
    with pytest.raises(CourseError, match=f"token id {bad!r} is not in the vocabulary"):
        small_bpe.decode([1, 2, bad])


@pytest.mark.task("2.2")
@pytest.mark.task("2.3")
@pytest.mark.task("2.4")
def test_allowed_special_errors(small_bpe):
    with pytest.raises(CourseError, match="'<|nope|>' is not a special token"):
        small_bpe.encode("x", allowed_special={"<|nope|>"})
    with pytest.raises(CourseError, match="use 'all', 'none'"):
        small_bpe.encode("x", allowed_special="some")


def lines_of(text: str, cuts: list[int]) -> list[str]:
    points = sorted({min(c, len(text)) for c in cuts})
    return [text[a:b] for a, b in zip([0, *points], [*points, len(text)], strict=True)]


stream_text = st.lists(
    st.sampled_from(
        [
            "to",
            " be",
            "  ",
            "\n",
            "\n\n",
            " ",
            ",",
            "'s",
            "9",
            "é",
            "<|endoftext|>",
            "<|pad|>",
            "<|",
            "|>",
            "ab",
        ]
    ),
    max_size=60,
).map("".join)


@pytest.mark.task("2.2")
@pytest.mark.task("2.3")
@pytest.mark.task("2.4")
@pytest.mark.task("2.5")
@settings(max_examples=150, deadline=None)
@given(text=stream_text, cuts=st.lists(st.integers(0, 200), max_size=20))
def test_encode_iterable_equals_encode(small_bpe, monkeypatch_module, text, cuts):
    for allowed in ("all", "none"):
        streamed = list(small_bpe.encode_iterable(lines_of(text, cuts), allowed_special=allowed))
        assert streamed == small_bpe.encode(text, allowed_special=allowed)


@pytest.fixture(scope="module")
def monkeypatch_module():
    """Encode after every few characters, so every chunk boundary is exercised."""
    from week2_tokenizer import tokenizer as module

    saved = module.STREAM_CHARS
    module.STREAM_CHARS = 4
    yield
    module.STREAM_CHARS = saved


def test_encode_iterable_on_a_file_of_lines(gpt2, shakespeare, tmp_path):
    text = shakespeare[:300_000]
    lines = text.splitlines(keepends=True)
    streamed = list(gpt2.encode_iterable(iter(lines)))
    assert streamed == gpt2.encode(text)


@pytest.mark.task("2.2")
@pytest.mark.task("2.3")
@pytest.mark.task("2.4")
@pytest.mark.task("2.5")
def test_encode_iterable_gpt4_pattern():
    from week2_tokenizer import tokenizer as module
    from week2_tokenizer import train_bpe

    text = "Hello, world!\n\nIt's 12345 o'clock...\r\n  ok  <|endoftext|> end.\n" * 20
    tok = train_bpe(text, 300, pattern="gpt4", progress=False)
    saved = module.STREAM_CHARS
    module.STREAM_CHARS = 3
    try:
        for size in (1, 2, 5, 7):
            pieces = [text[i : i + size] for i in range(0, len(text), size)]
            assert list(tok.encode_iterable(pieces)) == tok.encode(text)
    finally:
        module.STREAM_CHARS = saved


@pytest.mark.task("2.2")
@pytest.mark.task("2.3")
@pytest.mark.task("2.4")
@pytest.mark.task("2.5")
def test_repr_and_token_text(small_bpe):
    assert "vocab_size=400" in repr(small_bpe)
    assert small_bpe.token_text(small_bpe.encode(" the")[0]) in (" the", " th", " t")


def reference_encode(tokenizer: Tokenizer, text: str) -> list[int]:
    """Every pre-token on its own, by the heap: no cache, no batch, no parts."""
    from week2_tokenizer.merge import merge_heap
    from week2_tokenizer.pretokenize import pretokenize

    byte_ids, table = tokenizer._byte_ids, tokenizer._table
    return [
        token
        for piece in pretokenize(text, tokenizer.pattern)
        for token in merge_heap([byte_ids[b] for b in piece.encode()], table)
    ]


@pytest.mark.task("2.5")
@settings(max_examples=60, deadline=None)
@given(
    words=st.lists(
        st.one_of(
            st.sampled_from([" to", " be", ",", "\n", "  ", "'s", " 42", "é"]),
            st.text(alphabet=st.sampled_from(list("abc-")), min_size=40, max_size=120),
        ),
        max_size=12,
    )
)
def test_long_pieces_between_short_ones(small_bpe, words):
    """Pre-tokens of LONG_PIECE characters or more are encoded where they come, never cached."""
    text = "".join(words)
    assert small_bpe.encode(text, allowed_special="none") == reference_encode(small_bpe, text)
    assert not any(len(piece) >= 48 for piece in small_bpe._cache)
