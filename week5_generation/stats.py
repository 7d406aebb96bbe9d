"""Cheap statistics that flag a degenerate sampler before anyone reads a single sample.

All of them count token n-grams of the *generated* tokens (prompts excluded):

- distinct-n = (number of different n-grams) / (number of n-grams), pooled over all samples.
  1.0: no n-gram ever repeats; near 0: the same few n-grams over and over. (Li et al., 2016.)
- repetition rate = the fraction of a sample's 4-grams that already occurred earlier in the
  *same* sample, pooled over samples. Greedy decoding stuck in a loop ("the king, the king, ...")
  drives it towards 1; natural text of this length stays near 0.
- mean length = the mean number of generated tokens per sample (a sample is shorter than the
  limit when it produced an end-of-text token or hit a stop string).
"""

from __future__ import annotations

from collections.abc import Sequence

REPETITION_N = 4


def ngrams(tokens: Sequence[int], n: int) -> list[tuple[int, ...]]:
    """All contiguous n-grams of `tokens`, in order (none if there are fewer than n tokens)."""
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


def distinct_n(samples: Sequence[Sequence[int]], n: int) -> float:
    """Distinct n-grams over all n-grams, pooled across samples; 0.0 when there are none."""
    grams = [gram for sample in samples for gram in ngrams(sample, n)]
    return len(set(grams)) / len(grams) if grams else 0.0


def repetition_rate(samples: Sequence[Sequence[int]], n: int = REPETITION_N) -> float:
    """Fraction of n-grams that repeat an earlier n-gram of the same sample; 0.0 when none."""
    repeats = total = 0
    for sample in samples:
        seen: set[tuple[int, ...]] = set()
        for gram in ngrams(sample, n):
            repeats += gram in seen
            seen.add(gram)
            total += 1
    return repeats / total if total else 0.0


def mean_length(samples: Sequence[Sequence[int]]) -> float:
    """Mean number of tokens per sample; 0.0 for no samples."""
    return sum(len(s) for s in samples) / len(samples) if samples else 0.0


def sample_statistics(samples: Sequence[Sequence[int]]) -> dict[str, float]:
    """The four numbers the evaluation report shows for a set of token samples."""
    return {
        "distinct_1": distinct_n(samples, 1),
        "distinct_2": distinct_n(samples, 2),
        "repetition": repetition_rate(samples),
        "mean_length": mean_length(samples),
    }
