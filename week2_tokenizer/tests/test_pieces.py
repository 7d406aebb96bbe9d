"""Long pieces in parts: cutting at junctions and at checked boundaries changes no id, and the
memory follows a window, not the piece."""

from __future__ import annotations

import random
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from week2_tokenizer import Tokenizer, train_bpe
from week2_tokenizer import pieces as module
from week2_tokenizer.merge import merge_heap, merge_simple


def whole(tokenizer: Tokenizer, text: str) -> list[int]:
    """The reference: the heap over all of the piece's bytes at once."""
    return merge_heap([tokenizer._byte_ids[b] for b in text.encode()], tokenizer._table)


def in_parts(tokenizer: Tokenizer, text: str) -> list[int]:
    out: list[int] = []
    tokenizer._pieces.encode_long(text.encode(), out)
    return out


@contextmanager
def small_windows() -> Iterator[None]:
    """Windows of a few bytes, so that one piece crosses many of them, and batches of 3 parts,
    however few there are."""
    saved = module.WINDOW, module.RUN_WINDOW, module.BATCH, module.FEW
    module.WINDOW, module.RUN_WINDOW, module.BATCH, module.FEW = 7, 16, 3, 0
    try:
        yield
    finally:
        module.WINDOW, module.RUN_WINDOW, module.BATCH, module.FEW = saved


# Runs where every neighbouring pair is some merge's junction (so only the checked boundaries
# cut them), words, digits, CJK and emoji (whose bytes cut inside characters).
runs = st.lists(
    st.one_of(
        st.text(alphabet=st.sampled_from(list("aaab")), min_size=1, max_size=30),
        st.text(alphabet=st.sampled_from(list("0123456789")), min_size=1, max_size=30),
        st.text(alphabet=st.sampled_from(list("ACGT")), min_size=1, max_size=30),
        st.sampled_from(["-" * 40, "0" * 33, "abcdefghijklmnopqrstuvwxyz", "thequickbrownfox"]),
        st.sampled_from(["日本語の文", "😀👍🏽", "é", "ß"]),
    ),
    min_size=1,
    max_size=12,
).map("".join)


@pytest.mark.task("2.5")
@settings(max_examples=150, deadline=None)
@given(text=runs)
def test_parts_give_the_ids_of_the_whole_piece(gpt2, text):
    expected = whole(gpt2, text)
    with small_windows():
        assert in_parts(gpt2, text) == expected
    assert in_parts(gpt2, text) == expected
    if len(text.encode()) < 400:
        assert expected == merge_simple([gpt2._byte_ids[b] for b in text.encode()], gpt2._table)


@pytest.fixture(scope="module")
def abc_tokenizer() -> Tokenizer:
    return train_bpe("aaaabab abcabc aabbcc cacbab " * 3, 300, special_tokens=[], progress=False)


@pytest.mark.task("2.2")
@pytest.mark.task("2.3")
@pytest.mark.task("2.4")
@pytest.mark.task("2.5")
@settings(max_examples=100, deadline=None)
@given(text=st.text(alphabet=st.sampled_from(list("aaabbc")), min_size=1, max_size=300))
def test_parts_of_a_trained_tokenizer(abc_tokenizer, text):
    """Another merge table: few symbols, so `aa`, `ab`, `ba`... are all merges."""
    assert abc_tokenizer._pieces.spines.usable
    with small_windows():
        assert in_parts(abc_tokenizer, text) == whole(abc_tokenizer, text)


@pytest.mark.parametrize(
    "kind",
    [
        pytest.param("alphabet", marks=pytest.mark.task("2.5")),  # parts go through merge_simple
        *["lowercase", "digits", "dna", "aaaa", "zeros"],
        pytest.param("base64ish", marks=pytest.mark.task("2.5")),
    ],
)
def test_a_20_kb_piece_without_whitespace(gpt2, kind):
    rng = random.Random(kind)
    n = 20_000
    text = {
        "alphabet": ("abcdefghijklmnopqrstuvwxyz" * 800)[:n],
        "lowercase": "".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=n)),
        "digits": "".join(rng.choices("0123456789", k=n)),
        "dna": "".join(rng.choices("ACGT", k=n)),
        "aaaa": "a" * n,
        "zeros": "0" * n,
        "base64ish": "".join(rng.choices("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop+/", k=n)),
    }[kind]
    assert in_parts(gpt2, text) == whole(gpt2, text)
    assert gpt2.encode(text) == whole(gpt2, text)


def test_a_table_out_of_order_is_merged_whole():
    """Merge 0 uses "ab", which merge 1 makes: the checks assume the opposite, so are off."""
    merges = [(b"ab", b"c"), (b"a", b"b"), (b"c", b"a"), (b"c", b"c")]
    tokenizer = Tokenizer.from_merges(merges, [])
    assert not tokenizer._pieces.spines.usable
    text = "abcc" * 50 + "abc" * 40  # every neighbouring pair is a junction: one run
    assert tokenizer.encode(text) == whole(tokenizer, text) == tokenizer.encode_piece(text)


@pytest.mark.task("2.5")
def test_a_boundary_is_final_only_if_no_merge_can_cross_it(gpt2):
    """`is_final` by hand: after "aa" (a token) in "aaaa", the second "aa" could join it."""
    spines, aa = gpt2._pieces.spines, gpt2.encode("aa")[0]
    assert len(gpt2.encode("aa")) == 1 and len(gpt2.encode("aaaa")) == 1
    assert not spines.is_final(b"aaaa", 2, aa)  # ("aa", "aa") -> "aaaa"
    assert spines.is_final(b"aa!", 2, aa)  # no token "aa" + "!..." in GPT-2


@pytest.mark.task("2.5")
def test_memory_follows_the_window_not_the_piece(gpt2):
    """1 MB without whitespace: measured 6.5 bytes per input byte, 4.3 of them the ids (a list of
    538,460 ints); the heap over the whole piece took over 100."""
    text = ("abcdefghijklmnopqrstuvwxyz" * 40_000)[:1_000_000]
    gpt2.encode("warm up: build the encoder's tables first")
    tracemalloc.start()
    try:
        ids = gpt2.encode(text)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(ids) == 538_460 and gpt2.decode(ids) == text
    assert peak / len(text) < 10


def test_what_only_long_pieces_need_is_built_when_one_comes(shakespeare):
    """A fresh tokenizer encodes ordinary text without the junction table and the spines (they
    are for pieces of LONG_PIECE bytes or more), and builds both for the first long run."""
    tokenizer = Tokenizer.from_gpt2()
    tokenizer.encode(shakespeare[:20_000])
    assert {"joins", "spines"}.isdisjoint(vars(tokenizer._pieces))
    run = "0123456789" * 20  # one pre-token, no junction cut inside: merged as a run
    assert tokenizer.encode(run) == whole(tokenizer, run)
    assert {"joins", "spines"} <= set(vars(tokenizer._pieces))
