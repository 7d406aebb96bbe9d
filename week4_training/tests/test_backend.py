"""The loop and its backend protocol: what the loop asks of a framework, and when.

A framework that trains nothing stands in for PyTorch here: its steps and evaluations are
made-up numbers, so what the tests see is the loop's own behaviour (the eval cadence, the best
checkpoint rule, the rows, stopping and resuming), the part every framework shares.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import pytest

import week4_training.cli as cli
from shared.registry import Registry
from shared.runs import read_metrics
from week4_training.backend import LoopState, RunSetup, SavedState
from week4_training.checkpoint import tokenizer_record
from week4_training.evaluate import EvalResult
from week4_training.torch_backend import PYTORCH
from week4_training.trainer import Trainer, TrainingDiverged

MEASURED = ("tokens_per_s", "train_seconds")
VAL_LOSSES = {0: 3.0, 4: 1.0, 8: 2.0}  # the best evaluation is at step 4, not the last one
# estimates (train.eval_iters) of the same weights: by these, the last step is the best
ESTIMATES = {0: 3.5, 4: 1.5, 8: 1.25}


class Ledger:
    """A framework whose backend trains nothing and writes down every call the loop makes."""

    last_file = "last.json"

    def __init__(self, nan_at: int | None = None) -> None:
        self.calls: list[tuple] = []
        self.nan_at = nan_at

    def check(self, cfg, parallel) -> None:
        self.calls.append(("check",))

    def read_last(self, run_dir: Path) -> SavedState:
        path = run_dir / self.last_file
        return SavedState(path=path, record=json.loads(path.read_text()), contents=None)

    def build(self, setup: RunSetup, saved: SavedState | None) -> LedgerBackend:
        self.calls.append(("build", saved is not None))
        return LedgerBackend(setup, self, trained=0 if saved is None else saved.record["step"])


class LedgerBackend:
    def __init__(self, setup: RunSetup, ledger: Ledger, trained: int) -> None:
        self.setup, self.ledger = setup, ledger
        self.trained = trained  # the steps its (imaginary) weights have taken
        self.last_path = setup.run_dir / ledger.last_file

    def describe(self) -> str:
        return "a run that trains nothing"

    def train_step(self, step: int, lr: float) -> dict[str, float]:
        self.ledger.calls.append(("step", step))
        self.trained = step + 1
        loss = math.nan if step == self.ledger.nan_at else 5.0 - step / 2
        return {"loss": loss, "grad_norm": 0.25}

    def evaluate(self, max_windows: int | None = None) -> EvalResult:
        if max_windows is None:
            self.ledger.calls.append(("evaluate",))
            return EvalResult.from_nats(VAL_LOSSES[self.trained] * 10, n_tokens=10, n_bytes=20)
        self.ledger.calls.append(("estimate", max_windows))
        nats = ESTIMATES[self.trained] * 4
        return EvalResult.from_nats(nats, n_tokens=4, n_bytes=8, exact=False)

    def save(self, state: LoopState, *, best: bool) -> None:
        self.ledger.calls.append(("save", state.step, best))
        record = {
            **state.record(),
            "config": self.setup.cfg.to_dict(),
            "tokenizer": tokenizer_record(self.setup.tokenizer),
        }
        self.last_path.write_text(json.dumps(record))

    def draw_samples(self, step: int, n_tokens: int) -> str:
        return f"# step {step}\n{'x' * n_tokens}\n"


def quiet(cfg, ledger: Ledger, **kwargs) -> Trainer:
    return Trainer(cfg, progress=False, log=lambda _: None, framework=ledger, **kwargs)


def deterministic_rows(run_dir: Path) -> list[dict]:
    rows = read_metrics(run_dir / "metrics.jsonl")
    return [{k: v for k, v in row.items() if k not in MEASURED} for row in rows]


@pytest.mark.task("4.2")
def test_the_loop_evaluates_saves_and_steps_in_its_order(config_factory):
    ledger = Ledger()
    result = quiet(config_factory(), ledger).run()
    steps = [("step", s) for s in range(4)]
    assert ledger.calls == [
        ("check",),
        ("build", False),
        ("evaluate",),
        ("save", 0, True),
        *steps,
        ("evaluate",),
        ("save", 4, True),
        *[("step", s) for s in range(4, 8)],
        ("evaluate",),
        ("save", 8, False),  # worse than step 4's: last only
    ]
    assert result.step == 8 and result.best_val_loss == 1.0 and not result.interrupted
    rows = read_metrics(result.run_dir / "metrics.jsonl")
    assert set(rows[1]) == {"step", "loss", "lr", "grad_norm", *MEASURED}
    assert list(rows[1])[:4] == ["step", "loss", "lr", "grad_norm"]
    assert [r["step"] for r in rows if "val_loss" in r] == [0, 4, 8]
    assert rows[1]["loss"] == 5.0 and rows[1]["grad_norm"] == 0.25


@pytest.mark.task("4.2")
def test_with_eval_iters_the_loop_estimates_and_ends_with_the_whole_split(config_factory):
    ledger = Ledger()
    cfg = config_factory("train.eval_iters=3")
    windows = 3 * cfg.train.batch_size
    result = quiet(cfg, ledger).run()
    evaluations = [call for call in ledger.calls if call[0] in ("estimate", "evaluate", "save")]
    assert evaluations == [
        ("estimate", windows),
        ("save", 0, True),
        ("estimate", windows),
        ("save", 4, True),
        ("estimate", windows),  # the last evaluation: the estimate judges it, as it judged all
        ("evaluate",),  # and the whole split is its logged figure
        ("save", 8, True),  # 1.25 < 1.5: estimates are compared with estimates only
    ]
    assert result.best_val_loss == 1.25 and result.last_eval is not None
    assert result.last_eval.exact and result.last_eval.loss == 2.0
    rows = [r for r in read_metrics(result.run_dir / "metrics.jsonl") if "val_loss" in r]
    assert [(r["val_loss"], r["val_exact"]) for r in rows] == [
        (3.5, False),
        (1.5, False),
        (2.0, True),
    ]


@pytest.mark.task("4.2")
def test_a_stop_saves_the_last_state_only_and_a_resume_continues_the_rows(config_factory, capsys):
    full = quiet(config_factory("run.name=full"), Ledger()).run()
    ledger = Ledger()
    cfg = config_factory("run.name=stopped")
    stopped = quiet(cfg, ledger).run(should_stop=lambda step: step == 6)
    assert stopped.interrupted and ledger.calls[-1] == ("save", 6, False)
    out = capsys.readouterr().out
    assert f"stopped at step 6; saved {stopped.run_dir / 'last.json'}" in out
    assert f"resume with: make train RESUME={stopped.run_dir}" in out
    again = Ledger()
    resumed = quiet(cfg, again, resume=stopped.run_dir)
    assert resumed.state == LoopState(step=6, last_eval_step=4, best_val_loss=1.0,
                                      train_seconds=stopped.train_seconds)  # fmt: skip
    resumed.run()
    assert again.calls[1] == ("build", True) and again.calls[2] == ("step", 6)
    assert deterministic_rows(resumed.run_dir) == deterministic_rows(full.run_dir)


@pytest.mark.task("4.2")
def test_a_nan_loss_from_any_backend_stops_the_run_naming_its_last_file(config_factory):
    trainer = quiet(config_factory(), Ledger(nan_at=5))
    with pytest.raises(TrainingDiverged, match="at step 6") as error:
        trainer.run()
    assert f"{trainer.run_dir / 'last.json'} (step 4)" in str(error.value)


@pytest.mark.task("4.2")
def test_samples_are_the_backends_text_and_none_for_zero_tokens(config_factory):
    trainer = quiet(config_factory("train.sample_tokens=3"), Ledger())
    trainer.run()
    assert trainer.write_samples().read_text() == "# step 8\nxxx\n"
    silent = quiet(config_factory("run.name=silent", "train.sample_tokens=0"), Ledger())
    assert silent.write_samples() is None


def test_the_loop_state_travels_through_a_checkpoint_record():
    state = LoopState(step=12, last_eval_step=10, best_val_loss=1.5, train_seconds=3.0)
    assert LoopState.from_record({**state.record(), "config": {}}) == state
    assert LoopState.from_record({"step": 1, "last_eval_step": 0, "best_val_loss": 2}) == (
        LoopState(step=1, last_eval_step=0, best_val_loss=2.0)  # older checkpoints: no seconds
    )


@pytest.mark.task("4.2")
def test_the_run_folder_says_which_framework_resumes_it(config_factory, tmp_path, monkeypatch):
    table = Registry("training backend")  # a private table with a stand-in entry
    ledger = table.register("ledger")(Ledger())
    monkeypatch.setattr(cli, "TRAINING_BACKENDS", table)
    run_dir = quiet(config_factory("train.max_iters=4"), ledger).run().run_dir
    assert cli.framework_of_run(run_dir) is ledger
    assert cli.framework_of_run(tmp_path) is PYTORCH  # nothing there: week 4's own
    assert cli.framework_named("ledger") is ledger and cli.framework_named("torch") is PYTORCH
    args = argparse.Namespace(config=None, resume=str(run_dir), overrides=["train.max_iters=8"])
    cfg = cli.train_config(args)
    assert cfg.train.max_iters == 8 and cfg.run.name == "test"
