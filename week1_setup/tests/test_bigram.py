"""The byte-bigram baseline: exact arithmetic, and the entropy of a source it can learn."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from week1_setup.bigram import ByteBigram


@pytest.mark.task("1.2", "1.3")
def test_bits_are_exactly_minus_log2_of_the_smoothed_counts():
    model = ByteBigram(smoothing=1.0).fit(b"abab")
    # Pairs seen: ab twice, ba once. Row 'a': count(a,b)=2 of 2; row 'b': count(b,a)=1 of 1.
    p_first = (1 + 2) / (4 + 256)  # unigram: 'a' seen twice in 4 bytes
    p_b_after_a = (2 + 1) / (2 + 256)
    p_a_after_b = (1 + 1) / (1 + 256)
    expected = -math.log2(p_first) - 2 * math.log2(p_b_after_a) - math.log2(p_a_after_b)
    assert model.total_bits(b"abab") == pytest.approx(expected, rel=1e-12)


@pytest.mark.task("1.2", "1.3")
@given(st.binary(min_size=2, max_size=200), st.floats(0.01, 5))
@settings(max_examples=40, deadline=None)
def test_every_row_is_a_probability_distribution(data, k):
    model = ByteBigram(smoothing=k).fit(data)
    assert np.allclose(np.exp2(model.log2_transition()).sum(axis=1), 1.0)
    assert np.exp2(model.log2_unigram()).sum() == pytest.approx(1.0)


def _markov_source(transitions: np.ndarray, length: int, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    states = np.empty(length, dtype=np.int64)
    states[0] = 0
    cumulative = transitions.cumsum(axis=1)
    draws = rng.random(length)
    for t in range(1, length):
        states[t] = np.searchsorted(cumulative[states[t - 1]], draws[t], side="right")
    return bytes((ord("a") + states).astype(np.uint8))


def _entropy_rate(transitions: np.ndarray) -> float:
    """H = sum_i pi_i * H(row i), with pi the stationary distribution (left eigenvector for 1)."""
    values, vectors = np.linalg.eig(transitions.T)
    pi = np.real(vectors[:, np.argmin(abs(values - 1))])
    pi /= pi.sum()
    row_entropy = -(transitions * np.log2(transitions)).sum(axis=1)
    return float(pi @ row_entropy)


@pytest.mark.task("1.2", "1.3")
def test_on_a_markov_source_it_reaches_the_entropy_rate():
    transitions = np.array(
        [
            [0.7, 0.1, 0.1, 0.1],
            [0.25, 0.25, 0.25, 0.25],
            [0.5, 0.3, 0.1, 0.1],
            [0.05, 0.05, 0.1, 0.8],
        ]
    )
    model = ByteBigram(smoothing=0.1).fit(_markov_source(transitions, 60_000, seed=1))
    held_out = _markov_source(transitions, 60_000, seed=2)
    assert model.bits_per_byte(held_out) == pytest.approx(_entropy_rate(transitions), abs=0.01)


@pytest.mark.task("1.2", "1.3")
def test_uniform_random_bytes_cost_eight_bits():
    # 65,536 pairs need many samples: with ~90 per pair the estimation overhead is ~0.01 bits.
    rng = np.random.default_rng(0)
    train, test = (rng.integers(0, 256, 6_000_000, dtype=np.uint8).tobytes() for _ in range(2))
    assert ByteBigram(smoothing=1.0).fit(train).bits_per_byte(test) == pytest.approx(8.0, abs=0.02)


@pytest.mark.task("1.2", "1.3")
def test_sampling_is_seeded():
    model = ByteBigram().fit(b"to be or not to be, that is the question")
    assert model.sample(50, seed=3) == model.sample(50, seed=3)
    assert model.sample(50, seed=3) != model.sample(50, seed=4)
    assert model.sample(5, seed=3, start=ord("t"))[0] == ord("t")


def test_bad_arguments():
    with pytest.raises(ValueError, match="smoothing must be positive"):
        ByteBigram(smoothing=0)
    with pytest.raises(ValueError, match="empty"):
        ByteBigram().bits_per_byte(b"")
    assert ByteBigram().total_bits(b"") == 0.0
