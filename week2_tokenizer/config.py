"""The `tokenizer` section of a run config, and the one function that turns it into a Tokenizer.

tokenizer:
  kind: bpe            # bpe (trained here) | bytes (256 byte tokens, no merges) | gpt2
  vocab_size: 1024     # bpe only: 256 bytes + merges + special tokens
  path: null           # bpe only: default runs/tokenizers/bpe_<vocab_size>.json
  pattern: gpt2        # bpe only: the pre-tokenizer, gpt2 or gpt4
  special_tokens: ["<|endoftext|>"]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from shared.config import check, register_section
from shared.data import corpus_path, read_text, split_text
from shared.errors import CourseError
from shared.paths import RUNS_DIR
from week2_tokenizer.tokenizer import Tokenizer
from week2_tokenizer.train import train_bpe

GPT2_VOCAB_SIZE = 50257  # 256 bytes + 50,000 merges + <|endoftext|>


@register_section("tokenizer")
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


def default_tokenizer_path(vocab_size: int, pattern: str = "gpt2") -> Path:
    """runs/tokenizers/bpe_<vocab>.json (bpe_<vocab>_gpt4.json with GPT-4's pattern)."""
    suffix = "" if pattern == "gpt2" else f"_{pattern}"
    return RUNS_DIR / "tokenizers" / f"bpe_{vocab_size}{suffix}.json"


def tokenizer_path(cfg: TokenizerConfig) -> Path:
    return Path(cfg.path) if cfg.path else default_tokenizer_path(cfg.vocab_size, cfg.pattern)


def load_or_train_tokenizer(cfg: TokenizerConfig, corpus: str) -> Tokenizer:
    """The run's tokenizer: built (bytes), read from GPT-2's files (gpt2), or for bpe loaded from
    its path, or else trained on the TRAINING split of `corpus` and saved there."""
    if cfg.kind == "bytes":
        return Tokenizer.bytes_only(cfg.special_tokens, cfg.pattern)
    if cfg.kind == "gpt2":
        return Tokenizer.from_gpt2()
    path = tokenizer_path(cfg)
    if path.is_file():
        tokenizer = Tokenizer.load(path)
        if tokenizer.vocab_size != cfg.vocab_size:
            raise CourseError(
                f"{path}: holds a tokenizer of vocab_size {tokenizer.vocab_size}, but the config "
                f"asks for tokenizer.vocab_size={cfg.vocab_size}; change one, or point "
                "tokenizer.path elsewhere"
            )
        return tokenizer
    train_text, _ = split_text(read_text(corpus_path(corpus)))
    print(f"tokenizer: {path} not found; training BPE with vocab_size {cfg.vocab_size} on {corpus}")
    tokenizer = train_bpe(train_text, cfg.vocab_size, cfg.special_tokens, cfg.pattern)
    if tokenizer.vocab_size < cfg.vocab_size:
        raise CourseError(
            f"corpus {corpus}: its training split runs out of pairs to merge at "
            f"{tokenizer.vocab_size} tokens; set tokenizer.vocab_size to at most that"
        )
    tokenizer.save(path)
    print(f"tokenizer: saved {path}")
    return tokenizer
