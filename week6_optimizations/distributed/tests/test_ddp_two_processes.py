"""Two gloo processes started by torchrun on 127.0.0.1, against one process doing the same work.

Each launch takes a few seconds (two interpreters import PyTorch), so the runs are made once per
module and every test reads them.
"""

from __future__ import annotations

import pytest
import torch

from shared.errors import CourseError, run_cli
from shared.runs import read_metrics
from week4_training.checkpoint import read_checkpoint
from week4_training.data import BatchSampler
from week4_training.trainer import Trainer
from week6_optimizations.distributed.cli import main

MEASURED = ("tokens_per_s", "train_seconds")
RUN_FILES = {
    ".run.lock",  # shared.runs: marks a run folder, and its lock keeps a second run out
    "config.yaml",
    "metrics.jsonl",
    "checkpoint.pt",
    "last.pt",
    "samples.txt",
    "curves.png",
}


def deterministic_rows(run_dir):
    rows = read_metrics(run_dir / "metrics.jsonl")
    return [{k: v for k, v in row.items() if k not in MEASURED} for row in rows]


class UnionSampler:
    """One process's batches: rank 0's and rank 1's micro-batches, stacked."""

    def __init__(self, samplers: list[BatchSampler]) -> None:
        self.samplers = samplers

    def next_batch(self, device):
        xs, ys = zip(*(s.next_batch(device) for s in self.samplers), strict=True)
        return torch.cat(xs), torch.cat(ys)

    def state_dict(self) -> dict:
        return self.samplers[0].state_dict()


def union_run(workspace, name: str, *overrides: str):
    """The reference: one process whose every micro-batch is the union of the two ranks'."""
    trainer = Trainer(workspace.config(f"run.name={name}", *overrides), progress=False, log=print)
    cfg = trainer.cfg
    trainer.setup.sampler = UnionSampler(
        [
            BatchSampler(
                trainer.setup.data.train.tokens,
                cfg.model.block_size,
                cfg.train.batch_size,
                cfg.run.seed,
                rank,
            )
            for rank in range(2)
        ]
    )
    trainer.run()
    return workspace.runs / name


@pytest.fixture(scope="module")
def runs(workspace):
    """Four torchrun launches: accumulation off and on, and a run resumed half way."""
    config = ("--config", str(workspace.config_file))
    launches = {
        "plain": config + ("run.name=plain",),
        "accum": config + ("run.name=accum", "train.grad_accum_steps=2"),
        "half": config + ("run.name=half", "train.grad_accum_steps=2", "train.max_iters=2"),
        "resumed": ("--resume", str(workspace.runs / "half"), "train.max_iters=4"),
    }
    done = {}
    for name, args in launches.items():
        done[name] = workspace.torchrun(2, *args)
        assert done[name].returncode == 0, done[name].stderr[-3000:]
    return done


def max_parameter_difference(a, b) -> float:
    first, second = read_checkpoint(a / "last.pt")["model"], read_checkpoint(b / "last.pt")["model"]
    return max(float((first[k] - second[k]).abs().max()) for k in first)


@pytest.mark.parametrize("name, accum", [("plain", 1), ("accum", 2)])
def test_two_processes_train_like_one_process_on_the_union_batch(workspace, runs, name, accum):
    reference = union_run(workspace, f"union_{name}", f"train.grad_accum_steps={accum}")
    difference = max_parameter_difference(workspace.runs / name, reference)
    print(f"accumulation {accum}: max |parameter difference| = {difference:.3g}")
    assert difference < 1e-5
    two, one = deterministic_rows(workspace.runs / name), deterministic_rows(reference)
    assert [r["step"] for r in two] == [r["step"] for r in one]
    assert two[0]["val_loss"] == pytest.approx(one[0]["val_loss"], rel=1e-6)  # same weights at 0
    for a, b in zip(two, one, strict=True):
        for key in a:
            assert a[key] == pytest.approx(b[key], rel=1e-4, abs=1e-6), (a["step"], key)


def test_the_ranks_draw_different_batches(workspace, runs):
    # if rank 1 drew rank 0's batches, two processes would train like one of batch_size 3
    alone = Trainer(workspace.config("run.name=alone"), progress=False, log=print)
    alone.run()
    assert max_parameter_difference(workspace.runs / "plain", workspace.runs / "alone") > 1e-4


def test_a_resumed_two_process_run_writes_the_same_metrics(workspace, runs):
    resumed = workspace.runs / "half"
    assert "resuming" in runs["resumed"].stdout
    assert deterministic_rows(resumed) == deterministic_rows(workspace.runs / "accum")
    assert max_parameter_difference(resumed, workspace.runs / "accum") == 0.0
    saved = read_checkpoint(resumed / "last.pt")
    assert saved["world_size"] == 2 and len(saved["ranks"]) == 2


def test_only_rank_0_writes_and_prints(workspace, runs):
    for name in ("plain", "accum"):
        run_dir = workspace.runs / name
        assert {p.name for p in run_dir.iterdir()} == RUN_FILES
        steps = [(r["step"], "val_loss" in r) for r in read_metrics(run_dir / "metrics.jsonl")]
        assert len(steps) == len(set(steps)) == 4 + 3  # each row once: one writer
        assert runs[name].stdout.count("done: step 4") == 1
        assert runs[name].stdout.count("2 process(es), backend gloo") == 1


def test_a_two_process_run_resumes_only_with_two(workspace, runs, capsys):
    argv = ["train", "--resume", str(workspace.runs / "accum")]
    assert run_cli(main, argv) == 2
    assert "written by a run of 2 process(es)" in capsys.readouterr().err
    with pytest.raises(CourseError, match="NPROC=2"):
        Trainer(workspace.config(), resume=workspace.runs / "accum")


def test_a_user_error_under_torchrun_is_one_line_from_rank_0(workspace):
    done = workspace.torchrun(2, "--config", str(workspace.config_file), "train.lr=-1", retry=False)
    assert done.returncode != 0  # torchrun reports its workers' exit code 2 as a failure
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "train.lr" in errors[0], done.stderr[-2000:]
    assert "exitcode  : 2" in done.stderr
