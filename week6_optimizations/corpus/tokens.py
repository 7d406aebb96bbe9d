"""A prepared corpus as training data: its shards as one token stream, never all in memory.

`ShardedTokens` is what week 4's `BatchSampler` and evaluation already take, an array-like of
tokens: `len()`, and `tokens[a:b]`, which reads only those tokens from the shard files
(stitching two shards where a window crosses a boundary). The sampler's rule is unchanged,
uniform random windows over the whole stream from its seeded generator, so batches are drawn
across shards, resume is exact and each process of a multi-process run draws its own stream, as
on tiny shakespeare. Windows are read from the files, not memory-mapped, so the process holds
only the batch: its memory stays the same whatever the corpus size (the operating system's
file cache keeps what it can, outside it).

Before a run reads them, every shard is checked against the manifest: its size, and its SHA-256
(a few seconds per gigabyte), so a shard changed after preparation is an error, never trained on.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np

from shared.errors import CourseError

HASH_CHUNK = 1 << 24  # bytes read at a time while hashing a shard


class ShardedTokens:
    """The concatenation of `files`, raw arrays of `dtype` of `lengths` tokens, read lazily."""

    def __init__(self, files: Sequence[Path], lengths: Sequence[int], dtype: np.dtype) -> None:
        self.files = list(files)
        self.dtype = np.dtype(dtype)
        self.starts = np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)])
        self._handles: dict[int, BinaryIO] = {}

    def __len__(self) -> int:
        return int(self.starts[-1])

    def _read(self, index: int, start: int, stop: int) -> np.ndarray:
        """Tokens `start` to `stop` of shard `index`, read from the file (not mapped: a memory
        map would keep every page it ever touched resident, and random windows touch them all)."""
        if index not in self._handles:
            self._handles[index] = self.files[index].open("rb")
        handle = self._handles[index]
        handle.seek(start * self.dtype.itemsize)
        data = handle.read((stop - start) * self.dtype.itemsize)
        return np.frombuffer(data, dtype=self.dtype)

    def __getitem__(self, key: slice) -> np.ndarray:
        """Tokens `key.start` to `key.stop` (a slice with no step), as one array."""
        if not isinstance(key, slice) or key.step not in (None, 1):
            raise TypeError("ShardedTokens takes a slice of consecutive tokens")
        start, stop, _ = key.indices(len(self))
        if stop <= start:
            return np.zeros(0, dtype=self.dtype)
        first = int(np.searchsorted(self.starts, start, side="right")) - 1
        last = int(np.searchsorted(self.starts, stop, side="left")) - 1
        pieces = []
        for i in range(first, last + 1):
            offset = int(self.starts[i])
            length = int(self.starts[i + 1]) - offset
            pieces.append(self._read(i, max(start - offset, 0), min(stop - offset, length)))
        return pieces[0] if len(pieces) == 1 else np.concatenate(pieces)

    def __array__(self, dtype: np.dtype | None = None, copy: bool | None = None) -> np.ndarray:
        """The whole stream in memory (evaluation takes the validation split this way)."""
        whole = self[0 : len(self)]
        return whole.astype(dtype) if dtype is not None else np.array(whole)

    def close(self) -> None:
        for handle in self._handles.values():
            handle.close()
        self._handles.clear()

    def __del__(self) -> None:
        self.close()


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
