"""Small models for week 6's tests, with weights large enough that sampling is sensitive.

GPT-2's initialisation (std 0.02) gives nearly uniform next-token distributions, under which a
wrong context could still yield the same tokens; std 0.3 makes the logits decisive, so a
generation test fails if the context differs.
"""

from __future__ import annotations

import pytest
import torch

from week3_model import GPT, GPTConfig


def tiny_gpt(
    position: str = "learned",
    attention: str = "naive",
    block_size: int = 16,
    seed: int = 0,
    dropout: float = 0.0,
) -> GPT:
    torch.manual_seed(seed)
    config = GPTConfig(
        vocab_size=40,
        block_size=block_size,
        n_layer=2,
        n_head=2,
        n_embd=16,
        dropout=dropout,
        position=position,
        attention=attention,
    )
    model = GPT(config)
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.dim() >= 2:
                parameter.normal_(0.0, 0.3)
    return model.eval()


@pytest.fixture(scope="session", autouse=True)
def one_thread():
    """These models are tiny: one thread is fastest, and on a busy machine several threads
    waiting for each other slow every forward pass down by an order of magnitude."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def make_gpt():
    return tiny_gpt
