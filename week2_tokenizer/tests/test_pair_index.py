"""The fast pair index learns exactly the merges of a trainer that recounts everything.

These tests drive `PairPositions` themselves (not through `learn_merges`), so they grade no
workbook task and hold in a learner's edition too.
"""

from __future__ import annotations

import hashlib
import random
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from week2_tokenizer.pair_index import PairPositions, descending_key, smallest_typecode
from week2_tokenizer.pretokenize import count_pretokens

sys.path.insert(0, str(Path(__file__).parent))
from reference import recount_merges  # noqa: E402

Merges = list[tuple[bytes, bytes]]


def fast_merges(pretoken_counts: dict[bytes, int], n_merges: int) -> Merges:
    """The merge loop of `learn_merges`, on the fast index."""
    tokens = [bytes([b]) for b in range(256)]
    pairs = PairPositions(list(pretoken_counts), list(pretoken_counts.values()), tokens)
    merges: Merges = []
    while len(merges) < n_merges and (pair := pairs.best()) is not None:
        merges.append((tokens[pair[0]], tokens[pair[1]]))
        pairs.merge(pair)
    return merges


# Few letters, so runs ("aaaa"), repeats and equal counts (ties) are everywhere; weights up to
# 2**33 need every width of the weight array.
words = st.binary(max_size=12).map(lambda raw: bytes(b"ab c"[b % 4] for b in raw))
weights = st.one_of(st.integers(1, 4), st.sampled_from([255, 256, 70_000, 2**33]))


@settings(max_examples=300, deadline=None)
@given(pretoken_counts=st.dictionaries(words, weights, max_size=8), extra=st.integers(0, 40))
def test_fast_index_equals_recounting(pretoken_counts, extra):
    assert fast_merges(pretoken_counts, extra) == recount_merges(pretoken_counts, extra)


@pytest.mark.parametrize(
    ("pretoken_counts", "merges"),
    [
        ({b"aaaa": 1}, [(b"a", b"a"), (b"aa", b"aa")]),  # aaaa -> aa aa -> aaaa
        ({b"aaa": 1}, [(b"a", b"a"), (b"aa", b"a")]),  # left first: aa a, never a aa
        ({b"aaaaa": 1}, [(b"a", b"a"), (b"aa", b"aa"), (b"aaaa", b"a")]),
        ({b"abab": 1}, [(b"a", b"b"), (b"ab", b"ab")]),  # neighbouring occurrences
        ({b"xabab": 2, b"ab": 1}, [(b"a", b"b"), (b"x", b"ab"), (b"xab", b"ab")]),
    ],
)
def test_overlapping_and_neighbouring_occurrences(pretoken_counts, merges):
    assert fast_merges(pretoken_counts, 10) == merges == recount_merges(pretoken_counts, 10)


def test_ties_go_to_the_greatest_pair():
    merges = fast_merges({b"ab": 2, b"cd": 2, b"zy": 2, b"zb": 2}, 4)
    assert merges == [(b"z", b"y"), (b"z", b"b"), (b"c", b"d"), (b"a", b"b")]
    merges = fast_merges({b"abx": 2, b"ab": 3, b"az": 2}, 3)
    assert merges == [(b"a", b"b"), (b"ab", b"x"), (b"a", b"z")]


def test_a_long_word_without_whitespace_equals_recounting():
    """20 kB of one pre-token: letters, digits and symbols mixed, and runs of one letter."""
    rng = random.Random(16)
    parts = [
        rng.choice(
            [b"a" * rng.randint(2, 9), bytes(rng.choices(b"abcd12.!", k=rng.randint(1, 30)))]
        )
        for _ in range(2000)
    ]
    word = b"".join(parts)[:20_000]
    assert len(word) == 20_000
    assert fast_merges({word: 1}, 150) == recount_merges({word: 1}, 150)


def test_shakespeare_first_1000_merges_are_unchanged(shakespeare):
    """The sha256 of repr(merges) as the course learned them before the fast index, when it
    recounted every touched word: (b" ", b"t"), (b"h", b"e"), ..., (b" m", b"ist")."""
    counts = count_pretokens(shakespeare, "gpt2", ["<|endoftext|>"], processes=1)
    merges = fast_merges({piece.encode("utf-8"): n for piece, n in counts.items()}, 1000)
    assert merges[:2] == [(b" ", b"t"), (b"h", b"e")] and merges[-1] == (b" m", b"ist")
    digest = hashlib.sha256(repr(merges).encode()).hexdigest()
    assert digest == "d1f601e29c9179c1744062cf935486dce700c1dc932dc9749777b644ccd0241b"


def test_rare_pairs_wait_below_the_level_and_are_still_chosen():
    """Late pairs seen once wait outside the heap, yet come out once nothing rarer is left."""
    pretoken_counts = {b"ab" * 20: 50, b"xy": 1, b"qr": 1}
    tokens = [bytes([b]) for b in range(256)]
    pairs = PairPositions(list(pretoken_counts), list(pretoken_counts.values()), tokens)
    merges = []
    while (pair := pairs.best()) is not None:
        merges.append((tokens[pair[0]], tokens[pair[1]]))
        pairs.merge(pair)
    assert merges == recount_merges(pretoken_counts, 100)
    assert (b"x", b"y") in merges and pairs.level <= 1


def test_descending_key_reverses_byte_order():
    words = [b"", b"a", b"ab", b"b", b"\xff", b"\x00\xff"]
    assert sorted(words, key=descending_key) == sorted(words, reverse=True)


@pytest.mark.parametrize(
    ("largest", "code"), [(0, "B"), (255, "B"), (256, "H"), (2**16, "I"), (2**32, "Q")]
)
def test_weights_take_the_smallest_array_type(largest, code):
    assert smallest_typecode(largest) == code
