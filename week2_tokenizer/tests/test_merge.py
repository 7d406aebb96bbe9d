"""Encoding pre-tokens: the heap and the batch equal the simple loop; the heap is not quadratic."""

from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from week2_tokenizer import train_bpe
from week2_tokenizer.merge import SortedPairs, merge_batch, merge_heap, merge_simple


@pytest.mark.task("2.2")
@pytest.mark.task("2.3")
@pytest.mark.task("2.4")
@pytest.mark.task("2.5")
@settings(max_examples=150, deadline=None)
@given(text=st.text(alphabet=st.sampled_from(list("aaabbc")), min_size=1, max_size=120))
def test_heap_equals_simple(text):
    tokenizer = train_bpe(
        "aaaabab abcabc aabbcc cacbab " * 3 + text, 300, special_tokens=[], progress=False
    )
    ids = list(text.encode("utf-8"))
    assert merge_heap(ids, tokenizer._table) == merge_simple(ids, tokenizer._table)


@pytest.mark.task("2.5")
def test_heap_on_gpt2_merges_matches_simple(gpt2, shakespeare):
    text = shakespeare[:3000].replace(" ", "").replace("\n", "")
    ids = [gpt2._byte_ids[b] for b in text.encode("utf-8")]
    assert merge_heap(ids, gpt2._table) == merge_simple(ids, gpt2._table)


class CountingTable(dict):
    """A merge table that counts lookups: the work merge_heap does, free of timing noise."""

    lookups = 0

    def get(self, key, default=None):
        CountingTable.lookups += 1
        return super().get(key, default)


@pytest.mark.task("2.1")
@pytest.mark.parametrize("n", [10_000, 100_000])
def test_a_long_piece_costs_a_constant_number_of_lookups_per_byte(gpt2, n):
    """The quadratic loop would look up about n^2/2 pairs; the heap does at most 3 per merge."""
    text = ("abcdefghijklmnopqrstuvwxyz" * (n // 26 + 1))[:n]
    ids = [gpt2._byte_ids[b] for b in text.encode("utf-8")]
    table = CountingTable(gpt2._table)
    CountingTable.lookups = 0
    merged = merge_heap(ids, table)
    assert gpt2.decode(merged) == text
    assert CountingTable.lookups <= 3 * n


@pytest.mark.task("2.1")
def test_encoding_100k_characters_without_whitespace_is_fast(gpt2):
    text = ("abcdefghijklmnopqrstuvwxyz" * 4000)[:100_000]
    start = time.perf_counter()
    ids = gpt2.encode(text)
    assert time.perf_counter() - start < 10  # measured about 0.4 s; the quadratic loop: hours
    assert gpt2.decode(ids) == text


# ------------------------------------------------------------------ many pieces at once


def batch(pieces: list[list[int]], table) -> list[tuple[int, ...]]:
    ids = np.array([i for piece in pieces for i in piece], dtype=np.int64)
    lengths = np.array([len(piece) for piece in pieces], dtype=np.int64)
    width = 1 + max([*(i for pair in table for i in pair), *(m for _, m in table.values()), 255])
    return merge_batch(ids, lengths, SortedPairs(table, width))


@pytest.fixture(scope="module")
def abc_table():
    return train_bpe("aaaabab abcabc aabbcc cacbab " * 3, 300, special_tokens=[], progress=False)


@pytest.mark.task("2.5")
@settings(max_examples=150, deadline=None)
@given(texts=st.lists(st.text(alphabet=st.sampled_from(list("aaabbc")), max_size=40), max_size=30))
def test_batch_equals_simple(abc_table, texts):
    """Pieces of every length (none too) in one batch: each gets merge_simple's ids."""
    pieces = [list(text.encode()) for text in texts]
    expected = [tuple(merge_simple(piece, abc_table._table)) for piece in pieces]
    assert batch(pieces, abc_table._table) == expected


@pytest.mark.task("2.5")
def test_batch_on_gpt2_merges_matches_simple(gpt2, shakespeare):
    words = list(dict.fromkeys(gpt2._regex.findall(shakespeare[:50_000])))
    pieces = [[gpt2._byte_ids[b] for b in word.encode()] for word in words]
    expected = [tuple(merge_simple(piece, gpt2._table)) for piece in pieces]
    assert batch(pieces, gpt2._table) == expected


def test_sorted_pairs_answer_like_the_table(gpt2):
    """Hits and misses, pairs of bytes (the 256 x 256 table) and of merged tokens (the search)."""
    pairs = SortedPairs(gpt2._table, gpt2.vocab_size)
    rng = np.random.default_rng(0)
    known = np.array(list(gpt2._table)[::50], dtype=np.int64)
    for left, right in [
        (rng.integers(0, 256, 5000), rng.integers(0, 256, 5000)),
        (rng.integers(0, gpt2.vocab_size, 5000), rng.integers(0, gpt2.vocab_size, 5000)),
        (known[:, 0], known[:, 1]),
    ]:
        ranks, merged = pairs.lookup(left, right)
        for a, b, rank, token in zip(left.tolist(), right.tolist(), ranks, merged, strict=True):
            assert (rank, token) == gpt2._table.get((a, b), (pairs.no_rank, -1))


@pytest.mark.task("2.4")  # abc_table is trained (train_bpe)
def test_sorted_pairs_small_table_holds_every_pair_of_bytes(gpt2, abc_table):
    """All 65,536 pairs of ids below 256, each against the merge table (hits and misses)."""
    every = [(left, right) for left in range(256) for right in range(256)]
    left, right = np.array(every, dtype=np.int64).T
    for table, width in ((gpt2._table, gpt2.vocab_size), (abc_table._table, abc_table.vocab_size)):
        pairs = SortedPairs(table, width)
        ranks, merged = pairs.lookup(left, right)
        expected = [table.get(pair, (pairs.no_rank, -1)) for pair in every]
        assert list(zip(ranks.tolist(), merged.tolist(), strict=True)) == expected
