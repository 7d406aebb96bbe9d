import os
import random

import numpy as np
import pytest
import torch

from shared.errors import CourseError
from week2_tokenizer import Tokenizer
from week4_training.checkpoint import (
    latest_run,
    load_checkpoint,
    read_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from week4_training.trainer import Trainer


def test_an_interrupted_write_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    target = tmp_path / "last.pt"
    save_checkpoint(target, {"step": 1})
    real_save = torch.save

    def crash_midway(obj, handle):
        real_save({"half": "written"}, handle)
        handle.flush()
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(torch, "save", crash_midway)
    with pytest.raises(OSError, match="simulated"):
        save_checkpoint(target, {"step": 2})
    monkeypatch.undo()
    assert read_checkpoint(target)["step"] == 1
    assert os.listdir(tmp_path) == ["last.pt"]  # no stray temporary file


def test_rng_state_round_trip():
    state = rng_state()
    expected = (random.random(), np.random.rand(), torch.rand(1))
    set_rng_state(state)
    assert (random.random(), np.random.rand()) == expected[:2]
    assert torch.equal(torch.rand(1), expected[2])


@pytest.fixture
def trained_run(config_factory):
    trainer = Trainer(config_factory("train.max_iters=4"), progress=False, log=lambda _: None)
    trainer.run()
    return trainer


def test_load_checkpoint_from_a_run_folder_or_a_file(trained_run):
    run_dir = trained_run.run_dir
    loaded = load_checkpoint(run_dir)
    assert loaded.path == run_dir / "checkpoint.pt"
    assert not loaded.model.training
    assert loaded.step == 4 and loaded.best_val_loss == trained_run.best_val_loss
    assert loaded.tokenizer.sha256 == trained_run.tokenizer.sha256
    assert loaded.config.model.vocab_size == 257
    x = torch.randint(257, (1, 16))
    trained_run.model.eval()
    torch.testing.assert_close(loaded.model(x)[0], trained_run.model(x)[0], rtol=0, atol=0)
    from_file = load_checkpoint(run_dir / "last.pt", tokenizer=trained_run.tokenizer)
    assert from_file.path == run_dir / "last.pt"


def test_load_checkpoint_refuses_another_tokenizer(trained_run):
    other = Tokenizer.bytes_only(special_tokens=())
    with pytest.raises(CourseError, match="tokenizer"):
        load_checkpoint(trained_run.run_dir, tokenizer=other)


def test_unreadable_and_missing_checkpoints_are_clear_errors(tmp_path):
    with pytest.raises(CourseError, match="not found"):
        load_checkpoint(tmp_path)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(CourseError, match="not a readable checkpoint"):
        load_checkpoint(junk)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(2)}, foreign)
    with pytest.raises(CourseError, match="not a tiny-gpt-course checkpoint"):
        read_checkpoint(foreign)
    save_checkpoint(foreign, {})
    document = torch.load(foreign, weights_only=True)
    torch.save({**document, "version": 99}, foreign)
    with pytest.raises(CourseError, match="version 99"):
        read_checkpoint(foreign)


def test_latest_run_is_the_most_recent_checkpoint(tmp_path):
    with pytest.raises(CourseError, match="no run"):
        latest_run(tmp_path)
    for i, name in enumerate(["b", "a", "c"]):
        save_checkpoint(tmp_path / name / "checkpoint.pt", {})
        os.utime(tmp_path / name / "checkpoint.pt", (1000 + i, 1000 + i))
    (tmp_path / "no_checkpoint").mkdir()
    assert latest_run(tmp_path) == tmp_path / "c"
