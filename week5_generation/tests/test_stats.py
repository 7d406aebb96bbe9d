"""Sample statistics on hand-counted examples."""

from __future__ import annotations

from week5_generation.stats import (
    distinct_n,
    mean_length,
    ngrams,
    repetition_rate,
    sample_statistics,
)


def test_ngrams_are_contiguous_and_in_order():
    assert ngrams([1, 2, 3], 2) == [(1, 2), (2, 3)]
    assert ngrams([1], 2) == []


def test_distinct_n_counts_unique_ngrams_over_all_ngrams_pooled():
    samples = [[1, 2, 1, 2], [1, 3]]
    assert distinct_n(samples, 1) == 3 / 6  # {1, 2, 3} of 6 tokens
    assert distinct_n(samples, 2) == 3 / 4  # (1,2) (2,1) (1,2) (1,3): 3 distinct of 4
    assert distinct_n([[5]], 2) == 0.0


def test_repetition_rate_counts_4grams_seen_earlier_in_the_same_sample():
    loop = [1, 2, 3, 4] * 3  # 9 four-grams; the first 4 are new, the next 5 repeat
    assert repetition_rate([loop]) == 5 / 9
    assert repetition_rate([[1, 2, 3, 4], [1, 2, 3, 4]]) == 0.0  # across samples is no repeat
    assert repetition_rate([[1, 2]]) == 0.0


def test_mean_length_and_the_summary():
    assert mean_length([[1, 2, 3], [4]]) == 2.0
    assert mean_length([]) == 0.0
    summary = sample_statistics([[1, 1, 1, 1, 1]])
    assert summary == {
        "distinct_1": 1 / 5,
        "distinct_2": 1 / 4,
        "repetition": 1 / 2,
        "mean_length": 5.0,
    }
