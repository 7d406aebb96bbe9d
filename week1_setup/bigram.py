"""A byte-bigram language model: the simplest model that learns anything, and the baseline.

It predicts the next byte from the current one alone, with probabilities from counts:

    p(b | a) = (count(a, b) + k) / (count(a) + 256 k)

The `k` (add-k, or Laplace, smoothing) gives every unseen pair a little probability, so a byte
pair absent from training does not cost infinitely many bits. The first byte of a text has no
predecessor and is predicted by the smoothed unigram frequencies.

Its cost on held-out text, in bits per byte, is the first number of the course. A model that
looks further back (week 3's GPT) must beat it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shared.data import corpus_path, read_text
from week1_setup.split import split_text

N_BYTES = 256


def _as_array(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype=np.uint8)


@dataclass
class ByteBigram:
    """Counts of byte pairs (256 x 256) and of single bytes, turned into log-probabilities."""

    smoothing: float = 0.1

    def __post_init__(self) -> None:
        if self.smoothing <= 0:
            raise ValueError(
                f"smoothing must be positive (add-k needs k > 0), got {self.smoothing}"
            )
        self.pair_counts = np.zeros((N_BYTES, N_BYTES), dtype=np.int64)
        self.byte_counts = np.zeros(N_BYTES, dtype=np.int64)

    def fit(self, data: bytes) -> ByteBigram:
        """Count every adjacent pair (a, b) and every byte of `data`."""
        # BEGIN TASK 1.2 [The byte-bigram model]: count data's byte pairs and bytes; return self
        seq = _as_array(data)
        pair_index = seq[:-1].astype(np.int64) * N_BYTES + seq[1:]
        self.pair_counts += np.bincount(pair_index, minlength=N_BYTES**2).reshape(N_BYTES, N_BYTES)
        self.byte_counts += np.bincount(seq, minlength=N_BYTES)
        return self
        # END TASK 1.2

    def log2_transition(self) -> np.ndarray:
        """log2 p(b | a) as a 256 x 256 matrix; each row is a distribution over the next byte."""
        # BEGIN TASK 1.3 [The byte-bigram model]: return log2 p(b | a) of the add-k smoothed counts
        counts = self.pair_counts + self.smoothing
        return np.log2(counts) - np.log2(counts.sum(axis=1, keepdims=True))
        # END TASK 1.3

    def log2_unigram(self) -> np.ndarray:
        counts = self.byte_counts + self.smoothing
        return np.log2(counts) - np.log2(counts.sum())

    def total_bits(self, data: bytes) -> float:
        """The bits needed to encode `data` under the model: -sum log2 p(byte | previous byte)."""
        seq = _as_array(data)
        if seq.size == 0:
            return 0.0
        first = -self.log2_unigram()[seq[0]]
        rest = -self.log2_transition()[seq[:-1], seq[1:]].sum()
        return float(first + rest)

    def bits_per_byte(self, data: bytes) -> float:
        if not data:
            raise ValueError("cannot score an empty text")
        return self.total_bits(data) / len(data)

    def sample(self, length: int, seed: int, start: int | None = None) -> bytes:
        """Draw `length` bytes from the model (seeded), to see what a bigram 'writes'."""
        rng = np.random.default_rng(seed)
        probs = np.exp2(self.log2_transition())
        current = (
            int(rng.choice(N_BYTES, p=np.exp2(self.log2_unigram()))) if start is None else start
        )
        out = [current]
        for _ in range(length - 1):
            current = int(rng.choice(N_BYTES, p=probs[current]))
            out.append(current)
        return bytes(out)


def bigram_baseline(
    corpus: str = "tinyshakespeare.txt", smoothing: float = 0.1
) -> dict[str, float]:
    """Train on the course's training split, score the validation split (week 4's split rule)."""
    train_text, val_text = split_text(read_text(corpus_path(corpus)))
    train, val = train_text.encode("utf-8"), val_text.encode("utf-8")
    model = ByteBigram(smoothing).fit(train)
    return {
        "train_bits_per_byte": model.bits_per_byte(train),
        "val_bits_per_byte": model.bits_per_byte(val),
        "train_bytes": len(train),
        "val_bytes": len(val),
    }
