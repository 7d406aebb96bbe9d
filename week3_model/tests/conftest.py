"""Small models for fast tests: every test builds what it needs from `make_config`."""

from __future__ import annotations

import pytest
import torch

from week3_model import GPT, GPTConfig


def small_config(**changes) -> GPTConfig:
    settings = dict(
        vocab_size=61, block_size=16, n_layer=2, n_head=4, n_embd=32, dropout=0.0, bias=True
    )
    settings.update(changes)
    return GPTConfig(**settings)


@pytest.fixture
def make_config():
    return small_config


@pytest.fixture(scope="module")
def frozen_model() -> GPT:
    """One small model per test module, for tests that only read it (hypothesis reuses it)."""
    torch.manual_seed(1)
    return GPT(small_config()).eval()


@pytest.fixture
def model() -> GPT:
    torch.manual_seed(0)
    return GPT(small_config()).eval()
