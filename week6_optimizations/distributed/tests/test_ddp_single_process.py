"""In one process: the strategy's pieces, exact sharded evaluation, and a world of one."""

import math

import numpy as np
import pytest
import torch

from shared.errors import CourseError, run_cli
from shared.runs import read_metrics
from week2_tokenizer import Tokenizer
from week3_model import GPT, GPTConfig
from week4_training.data import BatchSampler, encode_split
from week4_training.evaluate import evaluate
from week4_training.parallel import SingleProcess
from week4_training.trainer import Trainer
from week6_optimizations.distributed.cli import main
from week6_optimizations.distributed.launch import ProcessInfo
from week6_optimizations.distributed.strategy import process_group

MEASURED = ("tokens_per_s", "train_seconds")


def deterministic_rows(run_dir):
    rows = read_metrics(run_dir / "metrics.jsonl")
    return [{k: v for k, v in row.items() if k not in MEASURED} for row in rows]


class OneRankOf(SingleProcess):
    """Rank `rank` of `world_size`, seen alone: its all-reduce returns its own share."""

    def __init__(self, rank: int, world_size: int) -> None:
        self.rank, self.world_size = rank, world_size
        self.shares: list[torch.Tensor] = []

    def all_reduce_sum(self, tensor):
        self.shares.append(tensor.clone())
        return tensor

    def on_main(self, work):
        return work() if self.is_main else None


@pytest.mark.parametrize("world_size, batch_size", [(2, 3), (3, 2), (5, 4)])
def test_sharded_evaluation_is_the_single_process_figure_bit_for_bit(world_size, batch_size):
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=257, block_size=8, n_layer=1, n_head=2, n_embd=16))
    split = encode_split(Tokenizer.bytes_only(), "Now is the winter of our discontent. " * 6)
    alone = evaluate(model, split, block_size=8, batch_size=batch_size)
    ranks = [OneRankOf(r, world_size) for r in range(world_size)]
    for rank in ranks:
        evaluate(model, split, block_size=8, batch_size=batch_size, parallel=rank)
    shares = torch.stack([rank.shares[0] for rank in ranks])
    assert ((shares != 0).sum(0) == 1).all()  # every batch evaluated by exactly one rank
    total = math.fsum(shares.sum(0).tolist())  # what the all-reduce gives every rank
    assert total / alone.n_tokens == alone.loss


def test_each_rank_draws_its_own_reproducible_stream():
    tokens = np.arange(5000) % 251
    draws = [
        BatchSampler(tokens, 8, 4, seed=7, rank=r).next_batch(torch.device("cpu"))[0]
        for r in range(3)
    ]
    assert torch.equal(
        draws[0], BatchSampler(tokens, 8, 4, seed=7).next_batch(torch.device("cpu"))[0]
    )
    assert not torch.equal(draws[0], draws[1]) and not torch.equal(draws[1], draws[2])
    again = BatchSampler(tokens, 8, 4, seed=7, rank=2).next_batch(torch.device("cpu"))[0]
    assert torch.equal(draws[2], again)
    seed8_rank1 = BatchSampler(tokens, 8, 4, seed=8, rank=0).next_batch(torch.device("cpu"))[0]
    assert not torch.equal(draws[1], seed8_rank1)  # no (seed + rank) aliasing


def test_the_strategy_in_a_world_of_one():
    with process_group(ProcessInfo(), torch.device("cpu"), "gloo") as parallel:
        assert (parallel.rank, parallel.world_size, parallel.is_main) == (0, 1, True)
        assert parallel.device("auto") == torch.device("cpu")
        assert torch.equal(
            parallel.all_reduce_sum(torch.tensor([1.5, 2.0])), torch.tensor([1.5, 2.0])
        )
        assert parallel.any(True) and not parallel.any(False)
        assert parallel.gather({"a": 1}) == [{"a": 1}]
        assert parallel.main_first(lambda: 7) == 7
        with pytest.raises(CourseError, match="broken"):
            parallel.on_main(lambda: (_ for _ in ()).throw(CourseError("broken")))
        model = parallel.wrap(torch.nn.Linear(2, 1))
        with parallel.no_sync(model):
            model(torch.ones(1, 2)).sum().backward()
        assert model.module.weight.grad is not None
    assert not torch.distributed.is_initialized()


def test_a_world_of_one_trains_exactly_like_week_4(workspace, capsys):
    cfg = workspace.config("run.name=week4")
    Trainer(cfg, progress=False, log=lambda _: None).run()
    argv = ["train", "--config", str(workspace.config_file), "run.name=world1"]
    assert run_cli(main, argv) == 0
    out = capsys.readouterr().out
    assert "1 process(es), backend gloo" in out and "done: step 4" in out
    assert deterministic_rows(workspace.runs / "world1") == deterministic_rows(
        workspace.runs / "week4"
    )


def test_a_rank_other_than_0_writes_and_prints_nothing(workspace, capsys):
    cfg = workspace.config("run.name=rank1")
    result = Trainer(cfg, parallel=OneRankOf(1, 1)).run()
    assert result.step == 4 and result.last_eval is not None
    assert not (workspace.runs / "rank1").exists()
    captured = capsys.readouterr()
    assert captured.out == "" and "val loss" not in captured.err


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--dist-backend", "nccl"], "nccl needs CUDA GPUs"),
        (["run.backend=mlx"], "run.backend=mlx trains in one process"),
        (["train.batch_size=0"], "train.batch_size"),
        (["--resume", "{missing}"], "holds no last.pt"),
    ],
)
def test_user_errors_are_one_line_and_exit_2(workspace, extra, message, capsys, tmp_path):
    extra = [a.format(missing=tmp_path) for a in extra]
    assert run_cli(main, ["train", "--config", str(workspace.config_file), *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0], err


def test_other_ranks_exit_2_silently(workspace, monkeypatch, capsys):
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "oops")
    assert run_cli(main, ["train", "--config", str(workspace.config_file)]) == 2
    assert capsys.readouterr().err == ""
    assert run_cli(main, ["fly"]) == 2  # argparse's own usage error
