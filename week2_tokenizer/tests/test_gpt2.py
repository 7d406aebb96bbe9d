"""GPT-2 parity: the course's encoder gives tiktoken's ids, token for token."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.errors import CourseError
from week2_tokenizer import Tokenizer, pieces

sys.path.insert(0, str(Path(__file__).parent))
from reference import letter_probe, unassigned_in_pythons_unicode  # noqa: E402


def test_gpt2_vocab(gpt2):
    assert gpt2.vocab_size == 50257 and gpt2.eot_id == 50256 and len(gpt2.merges) == 50000


@pytest.mark.task("2.1")
@pytest.mark.task("2.5")
def test_whole_of_tiny_shakespeare_matches_tiktoken(gpt2, tiktoken_gpt2, shakespeare):
    ids = gpt2.encode(shakespeare)
    assert ids == tiktoken_gpt2.encode_ordinary(shakespeare)
    assert gpt2.decode(ids) == shakespeare


# Characters Python's own table assigns; the ones it does not are the next test's.
assigned = st.characters(blacklist_categories=("Cn", "Cs"))


@pytest.mark.task("2.5")
@settings(max_examples=150, deadline=None)
@given(
    text=st.lists(
        st.one_of(
            st.text(assigned, max_size=40),
            st.sampled_from(["<|endoftext|>", " hello", "  world", "'ll", "\n\n "]),
        ),
        max_size=8,
    ).map("".join)
)
def test_generated_text_matches_tiktoken(gpt2, tiktoken_gpt2, text):
    assert gpt2.encode(text) == tiktoken_gpt2.encode(text, allowed_special="all")
    assert gpt2.encode(text, allowed_special="none") == tiktoken_gpt2.encode_ordinary(text)


@contextmanager
def one_batch() -> Iterator[None]:
    """Every new pre-token into `merge_batch`, however few (normally under FEW go one by one)."""
    saved, pieces.FEW = pieces.FEW, 0
    try:
        yield
    finally:
        pieces.FEW = saved


@settings(max_examples=100, deadline=None)
@given(
    text=st.lists(
        st.one_of(st.text(assigned, max_size=60), st.sampled_from([" hello", "  world", "'ll"])),
        max_size=8,
    ).map("".join)
)
def test_generated_text_matches_tiktoken_in_one_batch(gpt2, tiktoken_gpt2, text):
    gpt2._cache.clear()
    with one_batch():
        assert gpt2.encode(text, allowed_special="none") == tiktoken_gpt2.encode_ordinary(text)


# Only the pieces the fast paths hand to merge_simple (task 2.5) grade it.
@pytest.mark.parametrize(
    "text",
    [
        pytest.param("abcdefghijklmnopqrstuvwxyz" * 200, marks=pytest.mark.task("2.5")),
        "0" * 5000,
        pytest.param("a1" * 2500, marks=pytest.mark.task("2.5")),
    ],
)
def test_a_long_piece_matches_tiktoken(gpt2, tiktoken_gpt2, text):
    assert gpt2.encode(text) == tiktoken_gpt2.encode_ordinary(text)


@pytest.mark.task("2.5")
def test_a_cold_cache_gives_the_warm_ids(gpt2, tiktoken_gpt2, shakespeare):
    text = shakespeare[:200_000]
    gpt2._cache.clear()
    cold = gpt2.encode(text)
    assert cold == gpt2.encode(text) == tiktoken_gpt2.encode_ordinary(text)
    word = next(iter(gpt2._cache))
    assert list(gpt2._cache[word]) == gpt2.encode_piece(word)


def test_code_points_newer_than_pythons_unicode_match_tiktoken(gpt2, tiktoken_gpt2):
    """`regex` and tiktoken's Rust regex each ship a Unicode table; only the pinned `regex`
    version has tiktoken's (README: Unicode tables)."""
    import regex

    points = unassigned_in_pythons_unicode()
    text = letter_probe(points)
    if gpt2.encode(text, allowed_special="none") != tiktoken_gpt2.encode_ordinary(text):
        bad = [
            c
            for c in points
            if gpt2.encode(chr(c) + "'s") != tiktoken_gpt2.encode_ordinary(chr(c) + "'s")
        ]
        pytest.fail(
            f"{len(bad)} code points (the first U+{bad[0]:04X}) split differently from "
            f"tiktoken: regex {regex.__version__} has another Unicode table; install the "
            "version pyproject.toml pins"
        )


def test_missing_or_wrong_gpt2_files(tmp_path):
    with pytest.raises(CourseError, match="GPT-2 tokenizer file not found"):
        Tokenizer.from_gpt2(tmp_path / "encoder.json", tmp_path / "vocab.bpe")
    (tmp_path / "encoder.json").write_text("[1, 2]")
    (tmp_path / "vocab.bpe").write_text("#version\na b\n")
    with pytest.raises(CourseError, match="not GPT-2's encoder.json"):
        Tokenizer.from_gpt2(tmp_path / "encoder.json", tmp_path / "vocab.bpe")
