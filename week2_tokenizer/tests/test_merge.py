"""Encoding one pre-token: the heap method equals the simple loop, and is not quadratic."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from week2_tokenizer import train_bpe
from week2_tokenizer.merge import merge_heap, merge_simple


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
