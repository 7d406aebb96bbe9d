"""The `tokenizer` section of a run config, and the one function that turns it into a Tokenizer.

tokenizer:
  kind: bpe            # bpe (trained here) | bytes (256 byte tokens, no merges) | gpt2
  vocab_size: 1024     # bpe only: 256 bytes + merges + special tokens
  path: null           # bpe only: default runs/tokenizers/bpe_<vocab_size>.json (see provenance.py)
  pattern: gpt2        # bpe only: the pre-tokenizer, gpt2 or gpt4
  special_tokens: ["<|endoftext|>"]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from shared.config import check
from shared.errors import CourseError
from week2_tokenizer.pretokenize import resolve_pattern
from week2_tokenizer.provenance import (
    TrainedOn,
    default_tokenizer_path,
    train_recorded,
    training_data,
)
from week2_tokenizer.tokenizer import Tokenizer

GPT2_VOCAB_SIZE = 50257  # 256 bytes + 50,000 merges + <|endoftext|>


@dataclass
class TokenizerConfig:
    """Which tokenizer a run uses. The model's vocab_size is read from the tokenizer itself."""

    kind: Literal["bpe", "bytes", "gpt2"] = "bpe"
    vocab_size: int = 1024
    path: str | None = None
    pattern: Literal["gpt2", "gpt4"] = "gpt2"
    special_tokens: list[str] = field(default_factory=lambda: ["<|endoftext|>"])

    def __post_init__(self) -> None:
        check(all(self.special_tokens), "special_tokens", "a list of non-empty strings")
        minimum = 256 + len(set(self.special_tokens))
        check(
            self.vocab_size >= minimum, "vocab_size", f"at least 256 + special tokens = {minimum}"
        )
        check(self.path is None or bool(self.path), "path", "a file path or null")


def expected_vocab_size(cfg: TokenizerConfig) -> int:
    """The vocabulary size this config gives, known without building the tokenizer."""
    if cfg.kind == "bytes":
        return 256 + len(set(cfg.special_tokens))
    if cfg.kind == "gpt2":
        return GPT2_VOCAB_SIZE
    return cfg.vocab_size


def tokenizer_path(cfg: TokenizerConfig, trained_on: TrainedOn | None = None) -> Path:
    """`tokenizer.path`, or the default file for this vocab size, pattern and training data."""
    if cfg.path:
        return Path(cfg.path)
    return default_tokenizer_path(cfg.vocab_size, cfg.pattern, trained_on, cfg.special_tokens)


def load_or_train_tokenizer(cfg: TokenizerConfig, corpus: str) -> Tokenizer:
    """The run's tokenizer: built (bytes), read from GPT-2's files (gpt2), or for bpe loaded from
    its path if it was trained on what this run asks for, or else trained on the TRAINING split
    of `corpus` and saved there."""
    if cfg.kind == "bytes":
        return Tokenizer.bytes_only(cfg.special_tokens, cfg.pattern)
    if cfg.kind == "gpt2":
        return Tokenizer.from_gpt2()
    source, wanted = training_data(corpus, "train")
    path = tokenizer_path(cfg, wanted)
    if path.is_file():
        return reuse(Tokenizer.load(path), path, cfg, source, wanted)
    print(f"tokenizer: {path} not found; training BPE with vocab_size {cfg.vocab_size} on {corpus}")
    tokenizer = train(cfg, source, wanted)
    tokenizer.save(path)
    print(f"tokenizer: saved {path}")
    return tokenizer


def train(cfg: TokenizerConfig, source: str | Path, wanted: TrainedOn) -> Tokenizer:
    specials = list(cfg.special_tokens)
    return train_recorded(
        source, wanted, cfg.vocab_size, specials, cfg.pattern, "tokenizer.vocab_size"
    )


def reuse(
    tokenizer: Tokenizer, path: Path, cfg: TokenizerConfig, source: str | Path, wanted: TrainedOn
) -> Tokenizer:
    """`tokenizer`, read from `path`, if it is what the config asks for; otherwise refused, since
    the file is the user's. A file from before tokenizers recorded their training data is checked
    by training again: the same merges, and it is kept (its record added, its identity the same).
    """
    fix = "point tokenizer.path elsewhere, or move the file away, to train one for this run"
    if tokenizer.vocab_size != cfg.vocab_size:
        raise CourseError(
            f"{path}: holds a tokenizer of vocab_size {tokenizer.vocab_size}, but the config "
            f"asks for tokenizer.vocab_size={cfg.vocab_size}; change one, or {fix}"
        )
    if tokenizer.pattern != resolve_pattern(cfg.pattern):
        raise CourseError(
            f"{path}: its pre-tokenizer pattern is not tokenizer.pattern={cfg.pattern}; {fix}"
        )
    if list(tokenizer.special_tokens) != list(dict.fromkeys(cfg.special_tokens)):
        raise CourseError(
            f"{path}: has special tokens {list(tokenizer.special_tokens)}, but the config asks "
            f"for tokenizer.special_tokens={cfg.special_tokens}; {fix}"
        )
    if tokenizer.trained_on is not None:
        if tokenizer.trained_on.same_data(wanted):
            return tokenizer
        raise CourseError(
            f"{path}: was trained on {tokenizer.trained_on.describe()}, but this run asks for "
            f"{wanted.describe()}; {fix}"
        )
    print(f"tokenizer: {path} does not record its training data; training again to check it")
    fresh = train(cfg, source, wanted)
    if fresh.sha256 != tokenizer.sha256:
        raise CourseError(
            f"{path}: records no training data, and training on {wanted.describe()} gives other "
            f"merges, so it was trained on something else; {fix}"
        )
    fresh.save(path)
    print(f"tokenizer: {path} has the same merges; recorded what it was trained on")
    return fresh
