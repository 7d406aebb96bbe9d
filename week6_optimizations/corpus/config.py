"""The `prepare` section of a config: how `make prepare` turns files into a corpus.

prepare:
  min_chars: 64             # documents shorter than this (in characters) are dropped
  val_fraction: 0.05        # the share of documents, chosen by hash, that are validation
  shard_tokens: 16777216    # tokens per shard file at most (2**24: 32 MiB of uint16)
  tokenizer_chars: 4000000  # BPE is trained on the first this-many characters of training text
  workers: 0                # encoding processes; 0: one per CPU core

The `tokenizer` section of the same config says which tokenizer (week 2): bpe is trained on the
training documents' first `tokenizer_chars` characters, bytes and gpt2 are built, and
`tokenizer.path` reuses a saved one.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.config import check


@dataclass
class PrepareConfig:
    """What `make prepare` keeps, where it splits, and how it writes the shards."""

    min_chars: int = 64
    val_fraction: float = 0.05
    shard_tokens: int = 2**24
    tokenizer_chars: int = 4_000_000
    workers: int = 0

    def __post_init__(self) -> None:
        check(self.min_chars >= 1, "min_chars", "a positive integer")
        check(0 < self.val_fraction < 1, "val_fraction", "a number between 0 and 1 (exclusive)")
        check(self.shard_tokens >= 1024, "shard_tokens", "an integer of at least 1024")
        check(self.tokenizer_chars >= 1, "tokenizer_chars", "a positive integer")
        check(self.workers >= 0, "workers", "0 (one per core) or a number of processes")
