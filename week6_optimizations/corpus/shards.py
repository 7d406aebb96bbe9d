"""Token shards: a split's token stream cut into files of at most `shard_tokens` tokens.

Each document is written as `[eot] + encode(text)`, GPT-2's separator first, so every token of
its text is a target exactly once (as week 4 encodes a split), and a document is never cut:
a shard closes before the document that would overflow it. The files are raw arrays (uint16
when every id fits, else uint32, week 4's `token_dtype`), read back as memory maps. Each shard's
record (documents, bytes, tokens, SHA-256) goes into the manifest, so a run can check that the
shards are the ones that were written, and bits per byte can divide by the bytes they hold.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from shared.atomic import atomic_path


@dataclass(frozen=True)
class ShardRecord:
    """One shard file as the manifest lists it."""

    file: str  # the name inside the corpus folder: train_00000.bin
    documents: int
    bytes: int  # UTF-8 bytes of its documents' text: each one a target
    tokens: int
    sha256: str

    def to_json(self) -> dict:
        return asdict(self)


class ShardWriter:
    """Collects one split's documents as tokens and writes a shard each time one fills up."""

    def __init__(self, folder: Path, split: str, dtype: np.dtype, shard_tokens: int) -> None:
        self.folder = folder
        self.split = split
        self.dtype = dtype
        self.shard_tokens = shard_tokens
        self.records: list[ShardRecord] = []
        self._pending: list[np.ndarray] = []
        self._tokens = self._bytes = 0

    def add(self, tokens: np.ndarray, n_bytes: int) -> None:
        """Add one document's tokens (`[eot] + ids`) and the UTF-8 size of its text."""
        if self._pending and self._tokens + len(tokens) > self.shard_tokens:
            self.flush()
        self._pending.append(tokens.astype(self.dtype, copy=False))
        self._tokens += len(tokens)
        self._bytes += n_bytes

    def flush(self) -> None:
        """Write what is pending as the next shard (atomically: a whole file or none)."""
        if not self._pending:
            return
        data = np.concatenate(self._pending).tobytes()
        name = f"{self.split}_{len(self.records):05d}.bin"
        with atomic_path(self.folder / name) as tmp:
            tmp.write_bytes(data)
        digest = hashlib.sha256(data).hexdigest()
        self.records.append(
            ShardRecord(name, len(self._pending), self._bytes, self._tokens, digest)
        )
        self._pending, self._tokens, self._bytes = [], 0, 0
