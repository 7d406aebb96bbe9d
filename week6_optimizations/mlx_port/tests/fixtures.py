"""Fixtures for the MLX port's tests: tiny configs, paired PyTorch / MLX models, a tiny corpus.

conftest.py brings them in where MLX is installed."""

from __future__ import annotations

import mlx.core as mx
import pytest
import torch

from shared.config import config_from_dict
from week3_model import GPT, GPTConfig
from week6_optimizations.mlx_port.convert import load_weights_into, state_dict_to_mlx
from week6_optimizations.mlx_port.model import MLXGPT


def tiny_config(**changes) -> GPTConfig:
    values = dict(vocab_size=61, block_size=16, n_layer=2, n_head=2, n_embd=16)
    values.update(changes)
    return GPTConfig(**values)


def paired_models(config: GPTConfig, seed: int = 0) -> tuple[GPT, MLXGPT]:
    """A PyTorch GPT and an MLX GPT holding the same (converted) weights, both in eval mode."""
    torch.manual_seed(seed)
    torch_model = GPT(config).eval()
    mlx_model = MLXGPT(config)
    load_weights_into(mlx_model, state_dict_to_mlx(torch_model.state_dict(), config), "test")
    mlx_model.eval()
    return torch_model, mlx_model


def corpus_text() -> str:
    """400 short repetitive lines (14,990 bytes): the tests' corpus."""
    names, words = ["ROMEO", "JULIET", "NURSE", "FRIAR"], ["light", "night", "rose", "name"]
    lines = [f"{names[i % 4]}: the {words[i // 4 % 4]} of line {i} is here.\n" for i in range(400)]
    return "".join(lines)


def trained_torch_model(config, steps: int = 60, seed: int = 0) -> tuple[GPT, torch.Tensor]:
    """A PyTorch GPT after `steps` AdamW steps on a small repetitive text (byte tokens), and
    that text's first four windows."""
    data = torch.tensor(list(corpus_text().encode()), dtype=torch.long)
    torch.manual_seed(seed)
    model = GPT(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.1)
    generator = torch.Generator().manual_seed(seed)
    T = config.block_size
    for _ in range(steps):
        starts = torch.randint(0, len(data) - T - 1, (8,), generator=generator).tolist()
        x = torch.stack([data[i : i + T] for i in starts])
        y = torch.stack([data[i + 1 : i + T + 1] for i in starts])
        _, loss = model(x, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval(), data[: 4 * T + 1]


@pytest.fixture
def seeded_mlx():
    mx.random.seed(0)


@pytest.fixture
def corpus(tmp_path, monkeypatch):
    """A small text file and a private token cache; returns the text file's path."""
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "cache"))
    path = tmp_path / "corpus.txt"
    path.write_text(corpus_text(), encoding="utf-8")
    return path


def run_config(corpus_path, out_dir, **train_changes):
    """A byte-tokenizer run config for a tiny MLX run under `out_dir`."""
    import week2_tokenizer  # noqa: F401
    import week4_training.config  # noqa: F401

    train = dict(
        batch_size=4,
        max_iters=8,
        warmup_iters=2,
        lr_decay_iters=8,
        eval_interval=4,
        log_interval=2,
        lr=3e-3,
        min_lr=3e-4,
        sample_tokens=12,
    )
    train.update(train_changes)
    return config_from_dict(
        {
            "data": {"corpus": str(corpus_path)},
            "tokenizer": {"kind": "bytes"},
            "model": dict(block_size=16, n_layer=2, n_head=2, n_embd=16, dropout=0.1),
            "train": train,
            "run": {"name": "mlx", "out_dir": str(out_dir), "backend": "mlx", "seed": 3},
        }
    )
