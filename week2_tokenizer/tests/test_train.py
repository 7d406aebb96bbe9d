"""The fast trainer learns exactly the merges of the recount-everything reference."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.errors import CourseError
from week2_tokenizer import train_bpe
from week2_tokenizer.pretokenize import GPT2_PATTERN, GPT4_PATTERN, count_pretokens
from week2_tokenizer.train import PairCounts, PairPositions, learn_merges, merge_word

sys.path.insert(0, str(Path(__file__).parent))
from reference import reference_merges  # noqa: E402

small_text = st.text(alphabet=st.sampled_from(list("aab bcd\n'!é9")), max_size=200)

# The lesson's index (Tasks 2.2 and 2.3 inside it, 2.4 around it) and the fast one (2.4 around).
BOTH_INDEXES = [
    pytest.param(
        PairCounts,
        marks=[pytest.mark.task("2.2"), pytest.mark.task("2.3"), pytest.mark.task("2.4")],
        id="PairCounts",
    ),
    pytest.param(PairPositions, marks=pytest.mark.task("2.4"), id="PairPositions"),
]


def lesson_merges(
    text: str, n_merges: int, specials: list[str], pattern: str
) -> list[tuple[bytes, bytes]]:
    """train_bpe's merges, learned by the lesson's PairCounts instead of the fast index."""
    counts = count_pretokens(text, pattern, specials, processes=1)
    pretoken_counts = {piece.encode("utf-8"): n for piece, n in counts.items()}
    return learn_merges(pretoken_counts, n_merges, progress=False, index=PairCounts)


@pytest.mark.task("2.2")
@pytest.mark.task("2.3")
@pytest.mark.task("2.4")
@settings(max_examples=200, deadline=None)
@given(text=small_text, extra=st.integers(0, 60), gpt4=st.booleans())
def test_trainer_equals_reference(text, extra, gpt4):
    pattern = GPT4_PATTERN if gpt4 else GPT2_PATTERN
    text = text or "x"
    expected = reference_merges(text, extra, [], pattern)
    tokenizer = train_bpe(text, 256 + extra, special_tokens=[], pattern=pattern, progress=False)
    assert tokenizer.merges == expected
    assert lesson_merges(text, extra, [], pattern) == expected


@pytest.mark.task("2.2")
@pytest.mark.task("2.3")
@pytest.mark.task("2.4")
@settings(max_examples=80, deadline=None)
@given(parts=st.lists(small_text, min_size=1, max_size=4), extra=st.integers(0, 40))
def test_trainer_equals_reference_with_specials(parts, extra):
    specials = ["<|endoftext|>", "<|end|>"]
    text = "<|endoftext|>".join(parts) + "<|end|>"
    expected = reference_merges(text, extra, specials, GPT2_PATTERN)
    tokenizer = train_bpe(text, 256 + extra + 2, special_tokens=specials, progress=False)
    assert tokenizer.merges == expected
    assert tokenizer.vocab_size == 256 + len(expected) + 2
    assert lesson_merges(text, extra, specials, GPT2_PATTERN) == expected


@pytest.mark.parametrize("index", BOTH_INDEXES)
def test_ties_go_to_the_greatest_pair(index):
    # Every pair below occurs exactly twice, so only tie-breaking decides the order.
    merges = learn_merges({b"ab": 2, b"cd": 2, b"zy": 2, b"zb": 2}, 4, False, index)
    assert merges == [(b"z", b"y"), (b"z", b"b"), (b"c", b"d"), (b"a", b"b")]
    # A longer left token beats its own prefix: (b"ab", ...) > (b"a", ...).
    merges = learn_merges({b"abx": 2, b"ab": 3, b"az": 2}, 3, False, index)
    assert merges == [(b"a", b"b"), (b"ab", b"x"), (b"a", b"z")]


@pytest.mark.parametrize("index", BOTH_INDEXES)
def test_overlapping_runs_merge_left_first(index):
    # aaa -> aa a (never a aa), and aaaaa -> aa aa a -> aaaa a
    assert learn_merges({b"aaa": 1}, 5, False, index) == [(b"a", b"a"), (b"aa", b"a")]
    merges = learn_merges({b"aaaaa": 1}, 5, False, index)
    assert merges == [(b"a", b"a"), (b"aa", b"aa"), (b"aaaa", b"a")]


@pytest.mark.task("2.3")
def test_merge_word_does_not_overlap():
    assert merge_word([1, 1, 1], 1, 1, 9) == [9, 1]
    assert merge_word([1, 1, 1, 1], 1, 1, 9) == [9, 9]
    assert merge_word([2, 1, 2, 1], 1, 2, 9) == [2, 9, 1]


@pytest.mark.task("2.4")
def test_shakespeare_first_merges_and_size(shakespeare):
    tokenizer = train_bpe(
        shakespeare[:200_000], 300, special_tokens=["<|endoftext|>"], progress=False
    )
    assert tokenizer.vocab_size == 300
    assert tokenizer.merges == reference_merges(
        shakespeare[:200_000], 43, ["<|endoftext|>"], GPT2_PATTERN
    )
    assert tokenizer.eot_id == 299


@pytest.mark.task("2.2")
@pytest.mark.task("2.3")
@pytest.mark.task("2.4")
def test_shakespeare_1000_merges_are_the_lessons(shakespeare):
    """The fast index and the lesson's PairCounts agree on the whole corpus."""
    counts = count_pretokens(shakespeare, "gpt2", ["<|endoftext|>"], processes=1)
    pretoken_counts = {piece.encode("utf-8"): n for piece, n in counts.items()}
    fast = learn_merges(pretoken_counts, 1000, progress=False)
    assert fast == learn_merges(pretoken_counts, 1000, progress=False, index=PairCounts)


@pytest.mark.task("2.4")
def test_training_from_a_file_in_chunks_equals_training_from_text(tmp_path, monkeypatch):
    from week2_tokenizer import pretokenize

    text = ("the quick brown fox, jumps over the lazy dog.\n" * 40 + "<|endoftext|>\n") * 30
    path = tmp_path / "corpus.txt"
    path.write_text(text, encoding="utf-8")
    monkeypatch.setattr(pretokenize, "CHUNK_CHARS", 997)  # many chunks, two processes
    from_file = train_bpe(path, 320, progress=False, processes=2)
    monkeypatch.setattr(pretokenize, "CHUNK_CHARS", 1 << 20)
    from_text = train_bpe(text, 320, progress=False, processes=1)
    assert from_file.merges == from_text.merges


@pytest.mark.task("2.2")
@pytest.mark.task("2.3")
@pytest.mark.task("2.4")
def test_runs_out_of_pairs():
    tokenizer = train_bpe("abab", 1000, special_tokens=[], progress=False)
    assert tokenizer.merges == [(b"a", b"b"), (b"ab", b"ab")]
    assert tokenizer.vocab_size == 258
    assert lesson_merges("abab", 1000, [], GPT2_PATTERN) == tokenizer.merges


@pytest.mark.parametrize(
    ("source", "vocab_size", "message"),
    [
        ("text", 256, "at least 256 bytes + 1 special token(s) = 257"),
        ("", 300, "training text is empty"),
    ],
)
def test_training_errors(source, vocab_size, message):
    with pytest.raises(CourseError, match=re.escape(message)):
        train_bpe(source, vocab_size, progress=False)


def test_training_file_errors(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("caf\xe9 ok".encode("latin-1"))
    with pytest.raises(CourseError, match="empty"):
        train_bpe(empty, 300, progress=False)
    with pytest.raises(CourseError, match="not UTF-8"):
        train_bpe(latin1, 300, progress=False)
    with pytest.raises(CourseError, match="not found"):
        train_bpe(tmp_path / "missing.txt", 300, progress=False)


def test_an_empty_special_token_is_refused():
    """An empty special token matched between every byte: id 256 after each one."""
    with pytest.raises(CourseError, match="special token '': a special token must be a non-empty"):
        train_bpe("some text", 300, special_tokens=["<|endoftext|>", ""], progress=False)


@pytest.mark.task("2.4")
def test_stopping_short_is_refused_with_the_size_reached():
    from week2_tokenizer.train import require_vocab_size

    tokenizer = train_bpe("abab", 1000, special_tokens=[], progress=False)
    with pytest.raises(CourseError, match=r"--vocab-size 1000 is more than abab gives: .* at 258"):
        require_vocab_size(tokenizer, 1000, "--vocab-size", "abab")
    require_vocab_size(tokenizer, 258, "--vocab-size", "abab")


@pytest.mark.task("2.4")
def test_a_file_is_read_as_its_bytes(tmp_path, monkeypatch):
    """CRLF stays CRLF: the tokenizer learns the file's real bytes, across block boundaries too."""
    from week2_tokenizer import pretokenize

    text = "line one,\r\nline two é\r\n" * 50
    path = tmp_path / "crlf.txt"
    path.write_bytes(text.encode("utf-8"))
    monkeypatch.setattr(pretokenize, "CHUNK_CHARS", 7)  # blocks that cut "\r\n" and "é"
    assert "".join(pretokenize.read_file_chunks(path)) == text
    from_file = train_bpe(path, 300, special_tokens=[], progress=False, processes=1)
    assert from_file.merges == train_bpe(text, 300, special_tokens=[], progress=False).merges
    assert any(b"\r\n" in left + right for left, right in from_file.merges)


@pytest.mark.parametrize("block", [4, 5, 1 << 20])
def test_not_utf8_names_the_byte_offset(tmp_path, monkeypatch, block):
    from week2_tokenizer import pretokenize

    path = tmp_path / "latin1.txt"
    path.write_bytes("naïve ".encode() + "café".encode("latin-1"))  # 0xe9 at byte 10
    monkeypatch.setattr(pretokenize, "CHUNK_CHARS", block)
    with pytest.raises(
        CourseError, match=r"latin1.txt: not UTF-8 text \(bad byte 0xe9 at byte off"
    ):
        list(pretokenize.read_file_chunks(path))
    with pytest.raises(CourseError, match="at byte offset 10"):
        list(pretokenize.read_file_chunks(path))
    path.write_bytes("ok é".encode()[:-1])  # the file ends inside a character
    with pytest.raises(CourseError, match=r"bad byte 0xc3 at byte offset 3"):
        list(pretokenize.read_file_chunks(path))
