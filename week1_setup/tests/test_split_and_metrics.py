"""The split rule and the two reported numbers, which every later week uses."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from week1_setup.metrics import bits_per_byte, perplexity
from week1_setup.split import split_text


def test_split_is_the_last_ten_percent_of_characters():
    text = "".join(chr(ord("a") + i % 26) for i in range(1000)) + "é" * 10
    train, val = split_text(text)
    assert train + val == text
    assert len(val) == len(text) - int(len(text) * 0.9)
    assert val.endswith("é" * 10)


@given(st.text(min_size=0, max_size=300))
def test_the_split_loses_nothing_and_keeps_the_order(text):
    train, val = split_text(text)
    assert train + val == text and len(train) == int(len(text) * 0.9)


@pytest.mark.task("1.1")
def test_perplexity_and_bits_per_byte():
    assert perplexity(0.0) == 1.0
    assert perplexity(math.log(65)) == pytest.approx(65)
    # A uniform choice among 256 byte values costs exactly 8 bits per byte.
    assert bits_per_byte(1000 * math.log(256), 1000) == pytest.approx(8.0)
    with pytest.raises(ValueError, match="n_bytes must be positive"):
        bits_per_byte(1.0, 0)
