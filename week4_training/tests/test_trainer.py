import json
import math
import shutil

import pytest
import torch

from shared.config import config_from_dict
from shared.errors import CourseError
from shared.runs import read_metrics
from week4_training.checkpoint import read_checkpoint
from week4_training.resume import resume_command
from week4_training.trainer import Trainer, TrainingDiverged

MEASURED = ("tokens_per_s", "train_seconds")  # wall-clock figures: never identical

# A test that trains runs every task of the week (batches, schedule, parameter groups,
# accumulation, the step, the checkpoint), so it carries the mark of each: `make check WEEK=4`.


def quiet(cfg, **kwargs) -> Trainer:
    return Trainer(cfg, progress=False, log=lambda _: None, **kwargs)


def deterministic_rows(run_dir):
    rows = read_metrics(run_dir / "metrics.jsonl")
    return [{k: v for k, v in row.items() if k not in MEASURED} for row in rows]


def resume_config(run_dir, *overrides):
    saved = read_checkpoint(run_dir / "last.pt")["config"]
    return config_from_dict(saved, overrides)


@pytest.mark.task("4.1")
@pytest.mark.task("4.2")
@pytest.mark.task("4.3")
@pytest.mark.task("4.4")
@pytest.mark.task("4.5")
@pytest.mark.task("4.6")
def test_a_run_writes_its_folder(config_factory):
    result = quiet(config_factory()).run()
    files = {p.name for p in result.run_dir.iterdir()}
    assert {"config.yaml", "metrics.jsonl", "checkpoint.pt", "last.pt"} <= files
    rows = read_metrics(result.run_dir / "metrics.jsonl")
    evals = [r for r in rows if "val_loss" in r]
    assert [r["step"] for r in evals] == [0, 4, 8]
    assert [r["step"] for r in rows if "loss" in r] == list(range(1, 9))
    assert evals[-1]["val_loss"] < evals[0]["val_loss"]
    assert math.isclose(evals[0]["val_loss"], math.log(257), rel_tol=0.05)  # uniform at init
    assert result.best_val_loss == min(r["val_loss"] for r in evals)
    assert "vocab_size: 257" in (result.run_dir / "config.yaml").read_text()


@pytest.mark.task("4.1")
@pytest.mark.task("4.2")
@pytest.mark.task("4.3")
@pytest.mark.task("4.4")
@pytest.mark.task("4.5")
@pytest.mark.task("4.6")
@pytest.mark.parametrize("dropout", [0.0, 0.2])
def test_resumed_run_writes_the_same_metrics_as_an_uninterrupted_one(config_factory, dropout):
    drop = f"model.dropout={dropout}"
    full = quiet(config_factory(drop, "run.name=full")).run()
    half = quiet(config_factory(drop, "run.name=half", "train.max_iters=4")).run()
    assert half.step == 4
    resumed = quiet(resume_config(half.run_dir, "train.max_iters=8"), resume=half.run_dir).run()
    assert resumed.step == 8
    assert deterministic_rows(resumed.run_dir) == deterministic_rows(full.run_dir)
    full_state = read_checkpoint(full.run_dir / "last.pt")["model"]
    resumed_state = read_checkpoint(resumed.run_dir / "last.pt")["model"]
    assert all(torch.equal(full_state[k], resumed_state[k]) for k in full_state)


@pytest.mark.task("4.1")
@pytest.mark.task("4.2")
@pytest.mark.task("4.3")
@pytest.mark.task("4.4")
@pytest.mark.task("4.5")
@pytest.mark.task("4.6")
def test_a_stopped_run_saves_last_pt_and_resumes_identically(config_factory, capsys):
    full = quiet(config_factory("run.name=full", "train.grad_accum_steps=2")).run()
    cfg = config_factory("run.name=stopped", "train.grad_accum_steps=2")
    stopped = quiet(cfg).run(should_stop=lambda step: step == 6)
    assert stopped.interrupted and stopped.step == 6
    captured = capsys.readouterr()
    assert f"make train RESUME={stopped.run_dir}" in captured.out + captured.err
    assert read_checkpoint(stopped.run_dir / "last.pt")["step"] == 6
    # a row logged after the checkpoint is dropped on resume and written again
    with open(stopped.run_dir / "metrics.jsonl", "a") as handle:
        handle.write(json.dumps({"step": 7, "loss": 99.0}) + "\n")
    resumed = quiet(resume_config(stopped.run_dir), resume=stopped.run_dir).run()
    assert deterministic_rows(resumed.run_dir) == deterministic_rows(full.run_dir)


@pytest.mark.task("4.1")
@pytest.mark.task("4.2")
@pytest.mark.task("4.3")
@pytest.mark.task("4.4")
@pytest.mark.task("4.5")
@pytest.mark.task("4.6")
def test_a_nan_loss_stops_the_run_and_keeps_the_last_good_checkpoint(config_factory):
    trainer = quiet(config_factory())

    def poison(step: int) -> bool:
        if step == 5:
            with torch.no_grad():
                trainer.backend.model.ln_f.weight.fill_(math.nan)
        return False

    with pytest.raises(TrainingDiverged, match="at step 6"):
        trainer.run(should_stop=poison)
    saved = read_checkpoint(trainer.run_dir / "last.pt")
    assert saved["step"] == 4
    assert all(torch.isfinite(t).all() for t in saved["model"].values())


@pytest.mark.task("4.1")
@pytest.mark.task("4.2")
@pytest.mark.task("4.3")
@pytest.mark.task("4.4")
@pytest.mark.task("4.5")
@pytest.mark.task("4.6")
def test_float16_runs_log_the_scale(config_factory):
    result = quiet(config_factory("train.dtype=float16", "train.max_iters=2")).run()
    rows = [r for r in read_metrics(result.run_dir / "metrics.jsonl") if "loss" in r]
    assert all("scale" in r and "skipped" in r for r in rows)
    assert read_checkpoint(result.run_dir / "last.pt")["scaler"]["scale"] > 0


@pytest.mark.task("4.1")
@pytest.mark.task("4.2")
@pytest.mark.task("4.3")
@pytest.mark.task("4.4")
@pytest.mark.task("4.5")
@pytest.mark.task("4.6")
def test_an_existing_run_is_refused_unless_overwrite(config_factory):
    cfg = config_factory("train.max_iters=1")
    first = quiet(cfg).run()
    marker = first.run_dir / "notes.txt"
    marker.write_text("mine")
    with pytest.raises(CourseError, match="already exists"):
        quiet(cfg)
    assert marker.read_text() == "mine"
    quiet(cfg, overwrite=True).run()
    assert not marker.exists()


def test_resume_needs_last_pt(config_factory, tmp_path):
    (tmp_path / "empty_run").mkdir()
    with pytest.raises(CourseError, match="no last.pt"):
        quiet(config_factory(), resume=tmp_path / "empty_run")


@pytest.mark.task("4.1")
@pytest.mark.task("4.2")
@pytest.mark.task("4.3")
@pytest.mark.task("4.4")
@pytest.mark.task("4.5")
@pytest.mark.task("4.6")
def test_resume_refuses_another_tokenizer_or_model_shape(config_factory):
    run_dir = quiet(config_factory("train.max_iters=1")).run().run_dir
    more = "train.max_iters=2"  # a finished run is refused as finished, before these checks
    with pytest.raises(CourseError, match="tokenizer"):
        quiet(resume_config(run_dir, more, "tokenizer.special_tokens=[]"), resume=run_dir)
    with pytest.raises(CourseError, match="another shape"):
        quiet(resume_config(run_dir, more, "model.n_embd=32"), resume=run_dir)


def test_vocab_size_too_small_for_the_tokenizer(config_factory):
    with pytest.raises(CourseError, match="smaller than the tokenizer"):
        quiet(config_factory("model.vocab_size=100"))


@pytest.mark.task("4.1")
@pytest.mark.task("4.2")
@pytest.mark.task("4.3")
@pytest.mark.task("4.4")
@pytest.mark.task("4.5")
@pytest.mark.task("4.6")
def test_samples_are_written(config_factory):
    trainer = quiet(config_factory("train.max_iters=1"))
    trainer.run()
    text = trainer.write_samples().read_text()
    assert text.startswith("# step 1")
    silent = quiet(config_factory("run.name=nos", "train.max_iters=1", "train.sample_tokens=0"))
    assert silent.write_samples() is None


@pytest.mark.task("4.1")
@pytest.mark.task("4.2")
@pytest.mark.task("4.3")
@pytest.mark.task("4.4")
@pytest.mark.task("4.5")
@pytest.mark.task("4.6")
def test_resuming_a_finished_run_says_so_and_how_to_go_on(config_factory):
    run_dir = quiet(config_factory()).run().run_dir
    with pytest.raises(CourseError) as caught:
        quiet(resume_config(run_dir), resume=run_dir)
    message = str(caught.value)
    assert f"{run_dir} is finished: it reached step 8 of train.max_iters=8" in message
    assert f'make train RESUME={run_dir} ARGS="train.max_iters=16"' in message
    assert "past train.lr_decay_iters=8 it trains at train.min_lr" in message


@pytest.mark.task("4.1")
@pytest.mark.task("4.2")
@pytest.mark.task("4.3")
@pytest.mark.task("4.4")
@pytest.mark.task("4.5")
@pytest.mark.task("4.6")
def test_a_resumed_run_rewrites_its_config_yaml(config_factory):
    run_dir = quiet(config_factory("train.max_iters=4")).run().run_dir
    quiet(resume_config(run_dir, "train.max_iters=6"), resume=run_dir).run()
    assert "max_iters: 6" in (run_dir / "config.yaml").read_text()
    quiet(resume_config(run_dir, "train.max_iters=8"), resume=run_dir).run()  # and resumes again


@pytest.mark.task("4.1")
@pytest.mark.task("4.2")
@pytest.mark.task("4.3")
@pytest.mark.task("4.4")
@pytest.mark.task("4.5")
@pytest.mark.task("4.6")
def test_a_last_pt_from_another_run_is_refused(config_factory):
    mine = quiet(config_factory("run.name=mine", "train.max_iters=4")).run().run_dir
    other = quiet(config_factory("run.name=other", "train.max_iters=4", "model.n_embd=32")).run()
    shutil.copyfile(other.run_dir / "last.pt", mine / "last.pt")
    with pytest.raises(CourseError, match=r"mine/last.pt belongs to another run: its model.n_embd"):
        quiet(resume_config(mine, "train.max_iters=8"), resume=mine)


@pytest.mark.task("4.1")
@pytest.mark.task("4.2")
@pytest.mark.task("4.3")
@pytest.mark.task("4.4")
@pytest.mark.task("4.5")
@pytest.mark.task("4.6")
def test_a_damaged_training_state_is_one_clear_error(config_factory):
    run_dir = quiet(config_factory("train.max_iters=4")).run().run_dir
    document = torch.load(run_dir / "last.pt", weights_only=True)
    document["sampler"] = {"generator": torch.zeros(3, dtype=torch.uint8)}
    torch.save(document, run_dir / "last.pt")
    with pytest.raises(CourseError, match="damaged checkpoint: its training state does not load"):
        quiet(resume_config(run_dir, "train.max_iters=8"), resume=run_dir)


@pytest.mark.task("4.1")
@pytest.mark.task("4.2")
@pytest.mark.task("4.3")
@pytest.mark.task("4.4")
@pytest.mark.task("4.5")
@pytest.mark.task("4.6")
def test_samples_come_from_the_best_checkpoint_and_move_no_random_stream(config_factory):
    trainer = quiet(config_factory("train.max_iters=4"))
    trainer.run()
    best_step = read_checkpoint(trainer.run_dir / "checkpoint.pt")["step"]
    first = trainer.write_samples().read_text()
    with torch.no_grad():  # the last weights become useless; the best ones are on disk
        for parameter in trainer.backend.model.parameters():
            parameter.zero_()
    state = torch.get_rng_state()
    assert trainer.write_samples().read_text() == first
    assert torch.equal(torch.get_rng_state(), state)
    assert first.startswith(f"# step {best_step} (checkpoint.pt, the best by validation loss)")


def test_the_resume_hint_of_a_multi_process_run_names_nproc(tmp_path):
    assert resume_command(tmp_path, 2) == f"make train RESUME={tmp_path} NPROC=2"
    assert "with the venv active: python -m week4_training train --resume" in resume_command(
        tmp_path
    )
