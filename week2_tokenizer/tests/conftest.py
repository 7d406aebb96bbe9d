"""Shared fixtures for week 2: the corpus, GPT-2's tokenizer files, a small trained tokenizer."""

from __future__ import annotations

import os
import sys

import pytest

os.environ.setdefault(
    "COURSE_DATA_MIRROR",
    str(__import__("pathlib").Path(__file__).resolve().parents[3] / "shared" / "data"),
)

sys.path.insert(0, os.path.dirname(__file__))

from shared.data import fetch, read_text  # noqa: E402
from week2_tokenizer import Tokenizer, train_bpe  # noqa: E402


@pytest.fixture(scope="session")
def shakespeare() -> str:
    return read_text(fetch("tinyshakespeare.txt"))


@pytest.fixture(scope="session")
def gpt2() -> Tokenizer:
    return Tokenizer.from_gpt2()


@pytest.fixture(scope="session")
def tiktoken_gpt2():
    """tiktoken's GPT-2 encoding built offline from the same files (no download)."""
    from reference import tiktoken_gpt2

    return tiktoken_gpt2(fetch("gpt2/encoder.json"))


@pytest.fixture(scope="session")
def small_bpe(shakespeare) -> Tokenizer:
    """A 400-token tokenizer trained on the first 100k characters (with two special tokens)."""
    return train_bpe(
        shakespeare[:100_000], 400, special_tokens=["<|endoftext|>", "<|pad|>"], progress=False
    )
