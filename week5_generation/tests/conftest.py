"""Small models, tokenizers and checkpoints built in the test itself (nothing from runs/)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import week5_generation.config  # noqa: F401 - registers the `sample` section
from shared.config import config_from_dict
from week2_tokenizer import Tokenizer
from week3_model import GPT, GPTConfig

CORPUS = (
    "ROMEO:\nBut soft, what light through yonder window breaks?\n"
    "JULIET:\nO Romeo, Romeo, wherefore art thou Romeo? Café, naïve, ☃.\n"
) * 8


@pytest.fixture(autouse=True, scope="session")
def one_thread():
    """Tiny models run one small op after another: extra threads only add overhead (much of it
    on a busy machine), so the tests use one."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny_config(vocab_size: int, **changes) -> GPTConfig:
    settings = dict(
        vocab_size=vocab_size, block_size=16, n_layer=1, n_head=2, n_embd=16, dropout=0.0
    )
    settings.update(changes)
    return GPTConfig(**settings)


def tiny_model(vocab_size: int, seed: int = 0, **changes) -> GPT:
    torch.manual_seed(seed)
    return GPT(tiny_config(vocab_size, **changes)).eval()


@pytest.fixture
def byte_tokenizer() -> Tokenizer:
    return Tokenizer.bytes_only()  # ids 0-255 are bytes, 256 is <|endoftext|>


@pytest.fixture
def model(byte_tokenizer) -> GPT:
    return tiny_model(byte_tokenizer.vocab_size)


def save_course_checkpoint(
    run_dir: Path, tokenizer: Tokenizer, corpus: Path | None = None, block_size: int = 16, **sample
) -> Path:
    """A checkpoint in week 4's format, holding a random tiny model (no training needed)."""
    from week4_training.checkpoint import BEST, save_checkpoint, tokenizer_record

    model = tiny_model(tokenizer.vocab_size, block_size=block_size)
    values = {
        "model": json.loads(json.dumps(vars(model.config))),
        "train": {"batch_size": 4},
        "run": {"name": run_dir.name, "seed": 7},
    }
    if corpus is not None:
        values["data"] = {"corpus": str(corpus)}
    if sample:
        values["sample"] = sample
    config = config_from_dict(values)
    save_checkpoint(
        run_dir / BEST,
        {
            "model": model.state_dict(),
            "config": config.to_dict(),
            "tokenizer": tokenizer_record(tokenizer),
            "step": 3,
            "best_val_loss": 5.0,
        },
    )
    return run_dir


@pytest.fixture
def corpus(tmp_path) -> Path:
    path = tmp_path / "corpus.txt"
    path.write_text(CORPUS, encoding="utf-8")
    return path


@pytest.fixture
def runs_dir(tmp_path, monkeypatch) -> Path:
    """An empty runs/ folder that the commands use instead of the repository's."""
    from shared import paths

    runs = tmp_path / "runs"
    runs.mkdir()
    monkeypatch.setattr(paths, "RUNS_DIR", runs)
    return runs


@pytest.fixture
def make_checkpoint(runs_dir, byte_tokenizer, corpus):
    """make_checkpoint("name", **sample_section) -> runs/<name> holding a tiny checkpoint."""

    def make(name: str, **sample) -> Path:
        return save_course_checkpoint(runs_dir / name, byte_tokenizer, corpus, **sample)

    return make


@pytest.fixture
def checkpoint(runs_dir, byte_tokenizer, corpus) -> Path:
    return save_course_checkpoint(runs_dir / "tiny", byte_tokenizer, corpus)
