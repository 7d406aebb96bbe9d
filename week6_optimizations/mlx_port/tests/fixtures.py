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


@pytest.fixture
def seeded_mlx():
    mx.random.seed(0)


@pytest.fixture
def corpus(tmp_path, monkeypatch):
    """A small text file and a private token cache; returns the text file's path."""
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "cache"))
    names, words = ["ROMEO", "JULIET", "NURSE", "FRIAR"], ["light", "night", "rose", "name"]
    lines = [f"{names[i % 4]}: the {words[i // 4 % 4]} of line {i} is here.\n" for i in range(400)]
    path = tmp_path / "corpus.txt"
    path.write_text("".join(lines), encoding="utf-8")
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
