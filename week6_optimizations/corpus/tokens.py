"""A prepared corpus as training data: its shards as one token stream, never all in memory.

`ShardedTokens` is what week 4's `BatchSampler` and evaluation already take, an array-like of
tokens: `len()`, and `tokens[a:b]`, which reads only those tokens from the memory-mapped shard
files (stitching two shards where a window crosses a boundary). The sampler's rule is unchanged,
uniform random windows over the whole stream from its seeded generator, so batches are drawn
across shards, resume is exact and each process of a multi-process run draws its own stream, as
on tiny shakespeare; only the pages of the shards a batch touches are read, so memory stays
bounded whatever the corpus size.

Before a run reads them, every shard is checked against the manifest: its size, and its SHA-256
(a few seconds per gigabyte), so a shard changed after preparation is an error, never trained on.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from shared.errors import CourseError

HASH_CHUNK = 1 << 24  # bytes read at a time while hashing a shard


class ShardedTokens:
    """The concatenation of `files`, raw arrays of `dtype` of `lengths` tokens, read lazily."""

    def __init__(self, files: Sequence[Path], lengths: Sequence[int], dtype: np.dtype) -> None:
        self.files = list(files)
        self.dtype = np.dtype(dtype)
        self.starts = np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)])
        self._maps: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return int(self.starts[-1])

    def _shard(self, index: int) -> np.ndarray:
        if index not in self._maps:
            self._maps[index] = np.memmap(self.files[index], dtype=self.dtype, mode="r")
        return self._maps[index]

    def __getitem__(self, key: slice) -> np.ndarray:
        """Tokens `key.start` to `key.stop` (a slice with no step), as one array."""
        if not isinstance(key, slice) or key.step not in (None, 1):
            raise TypeError("ShardedTokens takes a slice of consecutive tokens")
        start, stop, _ = key.indices(len(self))
        if stop <= start:
            return np.zeros(0, dtype=self.dtype)
        first = int(np.searchsorted(self.starts, start, side="right")) - 1
        last = int(np.searchsorted(self.starts, stop, side="left")) - 1
        pieces = [
            self._shard(i)[max(start - self.starts[i], 0) : stop - self.starts[i]]
            for i in range(first, last + 1)
        ]
        return pieces[0] if len(pieces) == 1 else np.concatenate(pieces)

    def __array__(self, dtype: np.dtype | None = None, copy: bool | None = None) -> np.ndarray:
        """The whole stream in memory (evaluation takes the validation split this way)."""
        whole = self[0 : len(self)]
        return whole.astype(dtype) if dtype is not None else np.array(whole)


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, read in chunks (memory stays flat for any size)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def check_shard(path: Path, tokens: int, dtype: np.dtype, sha256: str, again: str) -> None:
    """Refuse a shard that is missing, of another size, or changed since it was written."""
    if not path.is_file():
        raise CourseError(f"{path}: the shard is missing; {again}")
    expected = tokens * np.dtype(dtype).itemsize
    size = path.stat().st_size
    if size != expected:
        raise CourseError(
            f"{path}: {size:,} bytes, but the manifest lists {tokens:,} tokens ({expected:,} "
            f"bytes); {again}"
        )
    if file_sha256(path) != sha256:
        raise CourseError(
            f"{path}: its SHA-256 no longer matches the manifest (the shard changed after "
            f"preparation); {again}"
        )
