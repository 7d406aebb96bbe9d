import math
import os
import random
import re
from pathlib import Path

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


def minimal(step: int) -> dict:
    """The smallest payload `read_checkpoint` accepts: every entry sampling needs, all empty."""
    empty_tokenizer = {"sha256": "", "json": "{}"}
    return {
        "model": {},
        "config": {},
        "tokenizer": empty_tokenizer,
        "step": step,
        "best_val_loss": 1.0,
    }


def test_an_interrupted_write_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    target = tmp_path / "last.pt"
    save_checkpoint(target, minimal(1))
    real_save = torch.save

    def crash_midway(obj, handle):
        real_save({"half": "written"}, handle)
        handle.flush()
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(torch, "save", crash_midway)
    with pytest.raises(OSError, match="simulated"):
        save_checkpoint(target, minimal(2))
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


@pytest.mark.task("4.1")
@pytest.mark.task("4.2")
@pytest.mark.task("4.3")
@pytest.mark.task("4.4")
@pytest.mark.task("4.5")
@pytest.mark.task("4.6")
def test_load_checkpoint_from_a_run_folder_or_a_file(trained_run):
    run_dir = trained_run.run_dir
    loaded = load_checkpoint(run_dir)
    assert loaded.path == run_dir / "checkpoint.pt"
    assert not loaded.model.training
    assert loaded.step == 4 and loaded.best_val_loss == trained_run.state.best_val_loss
    assert loaded.tokenizer.sha256 == trained_run.setup.tokenizer.sha256
    assert loaded.config.model.vocab_size == 257
    x = torch.randint(257, (1, 16))
    trained_run.backend.model.eval()
    torch.testing.assert_close(loaded.model(x)[0], trained_run.backend.model(x)[0], rtol=0, atol=0)
    from_file = load_checkpoint(run_dir / "last.pt", tokenizer=trained_run.setup.tokenizer)
    assert from_file.path == run_dir / "last.pt"


@pytest.mark.task("4.1")
@pytest.mark.task("4.2")
@pytest.mark.task("4.3")
@pytest.mark.task("4.4")
@pytest.mark.task("4.5")
@pytest.mark.task("4.6")
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


def _damaged(run_dir, tmp_path, change) -> Path:
    """A copy of the run's checkpoint.pt with `change(document)` applied."""
    document = torch.load(run_dir / "checkpoint.pt", weights_only=True)
    change(document)
    target = tmp_path / "damaged.pt"
    torch.save(document, target)
    return target


def _set(key, value):
    return lambda document: document.__setitem__(key, value)


def _nan_weight(document):
    document["model"]["ln_f.weight"][0] = math.nan


@pytest.mark.task("4.1")
@pytest.mark.task("4.2")
@pytest.mark.task("4.3")
@pytest.mark.task("4.4")
@pytest.mark.task("4.5")
@pytest.mark.task("4.6")
@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("config"), "damaged checkpoint: it has no 'config' entry"),
        (lambda d: d.pop("model"), "damaged checkpoint: it has no 'model' entry"),
        (_set("step", "12"), "'step' is a str, not int"),
        (_set("step", 1.5), "'step' is a float, not int"),
        (_set("best_val_loss", None), "'best_val_loss' is a NoneType, not float or int"),
        (_set("tokenizer", {"sha256": "x"}), "its tokenizer record lacks sha256 or json"),
        (_set("world_size", "2"), "'world_size' is not a positive integer"),
        (_nan_weight, "weights hold NaN or infinite values (ln_f.weight)"),
    ],
)
def test_a_damaged_checkpoint_is_one_clear_error(trained_run, tmp_path, change, message):
    damaged = _damaged(trained_run.run_dir, tmp_path, change)
    with pytest.raises(CourseError, match=re.escape(f"{damaged}: ")) as caught:
        load_checkpoint(damaged)
    assert message in str(caught.value)


@pytest.mark.task("4.1")
@pytest.mark.task("4.2")
@pytest.mark.task("4.3")
@pytest.mark.task("4.4")
@pytest.mark.task("4.5")
@pytest.mark.task("4.6")
def test_resuming_needs_the_training_state_too(trained_run, tmp_path):
    damaged = _damaged(trained_run.run_dir, tmp_path, lambda d: d.pop("optimizer"))
    read_checkpoint(damaged)  # enough to sample from
    with pytest.raises(CourseError, match="it has no 'optimizer' entry"):
        read_checkpoint(damaged, resume=True)


@pytest.mark.task("4.1")
@pytest.mark.task("4.2")
@pytest.mark.task("4.3")
@pytest.mark.task("4.4")
@pytest.mark.task("4.5")
@pytest.mark.task("4.6")
@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"sha256": "x", "json": "{not json"}, "the embedded tokenizer is not valid JSON"),
        ({"sha256": "x", "json": '{"format": "other"}'}, "the embedded tokenizer: 'format'"),
    ],
)
def test_a_bad_embedded_tokenizer_is_one_clear_error(trained_run, tmp_path, record, message):
    damaged = _damaged(trained_run.run_dir, tmp_path, _set("tokenizer", record))
    with pytest.raises(CourseError, match=re.escape(f"{damaged}: {message}")):
        load_checkpoint(damaged)


@pytest.mark.task("4.1")
@pytest.mark.task("4.2")
@pytest.mark.task("4.3")
@pytest.mark.task("4.4")
@pytest.mark.task("4.5")
@pytest.mark.task("4.6")
def test_a_bad_embedded_config_names_the_file(trained_run, tmp_path):
    def bad_layers(document):
        document["config"]["model"]["n_layer"] = -1

    damaged = _damaged(trained_run.run_dir, tmp_path, bad_layers)
    with pytest.raises(CourseError, match=re.escape(f"{damaged}: model.n_layer")):
        load_checkpoint(damaged)
