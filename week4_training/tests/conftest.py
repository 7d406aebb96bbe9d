"""Fixtures for week 4: a few KB of text, a byte-level tokenizer, a tiny model, a tiny config."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch

import week2_tokenizer  # noqa: F401 - registers the tokenizer section
import week3_model  # noqa: F401 - registers the model section
import week4_training.config  # noqa: F401 - registers the train section
from shared.config import config_from_dict

# Tiny models gain nothing from threads, and on a busy machine OpenMP threads waiting for each
# other make every step hundreds of times slower: the tests run single-threaded.
torch.set_num_threads(1)

WORDS = (  # noqa: SIM905 - a sentence reads better than a list of 28 quoted words
    "the king queen lord speak love night day sword crown death heart blood fair sweet "
    "come go now here there what why thou thee thy my good noble"
).split()


def make_text(n_lines: int = 300, seed: int = 0) -> str:
    """Deterministic play-like text: speaker names and short lines (about 30 bytes a line)."""
    rng = random.Random(seed)
    lines = []
    for i in range(n_lines):
        if i % 5 == 0:
            lines.append(rng.choice(["KING:", "QUEEN:", "LORD:"]))
        words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 7)))
        lines.append(words.capitalize() + ".")
    return "\n".join(lines) + "\n"


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Token caches go to a temporary folder, never the repository's data/."""
    cache = tmp_path / "data_cache"
    monkeypatch.setenv("COURSE_DATA_DIR", str(cache))
    return cache


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    path = tmp_path / "corpus.txt"
    path.write_text(make_text(), encoding="utf-8")
    return path


def tiny_config(corpus: Path, out_dir: Path, *overrides: str):
    """A run config for a model of a few thousand parameters, byte tokenizer, 8-step runs."""
    values = {
        "data": {"corpus": str(corpus)},
        "tokenizer": {"kind": "bytes"},
        "model": {"block_size": 16, "n_layer": 1, "n_head": 2, "n_embd": 16},
        "train": {
            "batch_size": 4,
            "max_iters": 8,
            "lr": 3e-3,
            "min_lr": 3e-4,
            "warmup_iters": 2,
            "lr_decay_iters": 8,
            "eval_interval": 4,
            "log_interval": 1,
            "sample_tokens": 20,
        },
        "run": {"name": "test", "out_dir": str(out_dir), "device": "cpu"},
    }
    return config_from_dict(values, overrides)


@pytest.fixture
def config_factory(corpus: Path, tmp_path: Path):
    def make(*overrides: str):
        return tiny_config(corpus, tmp_path / "runs", *overrides)

    return make


@pytest.fixture
def config_file(corpus: Path, tmp_path: Path) -> Path:
    """The tiny config as a YAML file, as `make train CFG=...` would read it."""
    path = tmp_path / "tiny.yaml"
    path.write_text(tiny_config(corpus, tmp_path / "runs").to_yaml())
    return path
