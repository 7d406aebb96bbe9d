"""The `shards` corpus format: how week 4 trains on a prepared corpus (`data.corpus: <name>`).

Week 4 finds the corpus folder, reads `format` from its manifest and asks the
`tiny_gpt.corpus_format` table (pyproject.toml) for its reader: this module's `shards_format`.
It gives week 4 the two things a run takes from its data: the tokenizer the shards were encoded
with, and the train and validation splits as `TokenSplit`s whose tokens are `ShardedTokens` and
whose `n_bytes` are the validation shards' byte counts, the denominator of bits per byte.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from shared.errors import CourseError
from week2_tokenizer import Tokenizer
from week2_tokenizer.config import expected_vocab_size
from week4_training.data import TokenData, TokenSplit
from week6_optimizations.corpus.manifest import Manifest
from week6_optimizations.corpus.tokens import ShardedTokens, check_shard

if TYPE_CHECKING:
    from week2_tokenizer.config import TokenizerConfig


def describe_tokenizer(kind: str, vocab_size: int, specials: list[str]) -> str:
    return f"tokenizer.kind={kind}, vocab_size {vocab_size}, special tokens {specials}"


def prepare_again(folder: Path) -> str:
    return f"prepare it again: make prepare DATA=<files> NAME={folder.name} OVERWRITE=1"


class ShardsFormat:
    """The reader of corpora that `make prepare` writes (week6_optimizations/corpus/)."""

    def tokenizer(self, folder: Path, cfg: TokenizerConfig) -> Tokenizer:
        manifest = Manifest.read(folder)
        record: dict[str, Any] = manifest.document["tokenizer"]
        path = folder / str(record.get("file", "tokenizer.json"))
        try:
            tokenizer = Tokenizer.load(path)
        except (OSError, ValueError) as error:
            again = prepare_again(folder)
            raise CourseError(f"{path}: not a readable tokenizer ({error}); {again}") from None
        if tokenizer.sha256 != record["sha256"]:
            raise CourseError(
                f"{path}: not the tokenizer the corpus was encoded with (its SHA-256 differs "
                f"from the manifest's); {prepare_again(folder)}"
            )
        specials = list(dict.fromkeys(cfg.special_tokens))
        wanted = (cfg.kind, expected_vocab_size(cfg), specials)
        prepared = (str(record.get("kind")), tokenizer.vocab_size, list(tokenizer.special_tokens))
        if wanted != prepared:
            raise CourseError(
                f"corpus {folder.name} was prepared with {describe_tokenizer(*prepared)}, but the "
                f"config asks for {describe_tokenizer(*wanted)}; use the tokenizer section it was "
                f"prepared with, or prepare it again with this config (CFG=..., OVERWRITE=1)"
            )
        return tokenizer

    def token_data(
        self, folder: Path, tokenizer: Tokenizer, log: Callable[[str], None] | None = None
    ) -> TokenData:
        manifest = Manifest.read(folder)
        if tokenizer.sha256 != manifest.document["tokenizer"]["sha256"]:
            raise CourseError(
                f"corpus {folder.name} was encoded with another tokenizer than this run's "
                f"(SHA-256 {manifest.document['tokenizer']['sha256'][:12]}... against "
                f"{tokenizer.sha256[:12]}...); train on it with its own tokenizer"
            )
        dtype = np.dtype(manifest.document["dtype"])
        splits = {}
        for split in ("train", "val"):
            records = manifest.shards(split)
            if log is not None and split == "train":
                log(f"checking the {len(records)} training shards of {folder.name} (SHA-256)")
            for record in records:
                check_shard(
                    folder / record.file, record.tokens, dtype, record.sha256, prepare_again(folder)
                )
            tokens = ShardedTokens(
                [folder / r.file for r in records], [r.tokens for r in records], dtype
            )
            splits[split] = TokenSplit(tokens, manifest.split_bytes(split))  # type: ignore[arg-type]
        return TokenData(train=splits["train"], val=splits["val"], folder=folder, rebuilt=False)


shards_format = ShardsFormat()
