"""The launcher of `make train NPROC=N`: NPROC checked, torchrun's report hidden, errors last."""

from __future__ import annotations

import sys

import pytest
import torch

from shared.errors import CourseError, run_cli
from week6_optimizations.distributed import torchrun
from week6_optimizations.distributed.cli import build_parser, main, train_arguments
from week6_optimizations.distributed.torchrun import (
    StderrRelay,
    check_nproc,
    parse_nproc,
    torchrun_command,
)

# What torchrun's stderr held when rank 0 refused a config (abridged, as torch 2.13 prints it).
RANK_ERROR = b"error: tiny.yaml: train.lr: must be a positive number, got -1.0\n"
TORCHRUN_REPORT = (
    b"E1202 00:00:32.117000 5266 .venv/lib/python3.11/site-packages/torch/distributed/elastic/"
    b"multiprocessing/api.py:1002] failed (exitcode: 2) local_rank: 0 (pid: 5270) of binary\n"
    b"Traceback (most recent call last):\n"
    b'  File "<frozen runpy>", line 198, in _run_module_as_main\n'
    b'  File ".../torch/distributed/launcher/api.py", line 383, in launch_agent\n'
    b"    raise ChildFailedError(\n"
    b"torch.distributed.elastic.multiprocessing.errors.ChildFailedError: \n"
    b"============================================================\n"
    b"week6_optimizations.distributed FAILED\n"
    b"Root Cause (first observed failure):\n"
    b"[0]:\n"
    b"  rank      : 0 (local_rank: 0)\n"
    b"  exitcode  : 2 (pid: 5270)\n"
    b"============================================================\n"
)
PROGRESS = b"\rddp:   0%|          | 0/4 [00:00<?, ?it/s]\rddp:  25%|##5       | 1/4"


@pytest.mark.parametrize("value", ["0", "-1", "abc", "", "1.5", "2 3"])
def test_nproc_that_is_not_a_positive_integer_is_one_line(value):
    with pytest.raises(CourseError, match=f"^NPROC={value}: the number of processes must be"):
        parse_nproc(value)
    assert parse_nproc("2") == 2 and parse_nproc(" 3 ") == 3


def test_nproc_beyond_the_machine_is_refused(monkeypatch):
    monkeypatch.setattr(torchrun, "cpu_cores", lambda: 4)
    check_nproc(4, torch.device("cpu"))
    with pytest.raises(CourseError, match=r"^NPROC=5: at most 4 process\(es\) .* NPROC=4 or"):
        check_nproc(5, torch.device("cpu"))
    with pytest.raises(CourseError, match="NPROC=2: at most 1 .*cannot share|share the MPS"):
        check_nproc(2, torch.device("mps"))
    with pytest.raises(CourseError, match="run.device=cuda:1 names one GPU"):
        check_nproc(2, torch.device("cuda", 1))


def test_the_launch_command_is_torchrun_of_the_train_command():
    args = build_parser().parse_args(
        ["launch", "--nproc", "2", "--config", "c.yaml", "--overwrite", "yes", "train.max_iters=5"]
    )
    argv = train_arguments(args)
    expected = ["--config", "c.yaml", "--overwrite", "1", "--dist-backend", "auto"]
    assert argv == [*expected, "train.max_iters=5"]
    again = build_parser().parse_args(["train", *argv])
    assert (again.config, again.overwrite, again.overrides) == (
        "c.yaml",
        True,
        ["train.max_iters=5"],
    )
    command = torchrun_command(2, argv)
    assert command[1:6] == [
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "-m",
    ]
    assert command[6:8] == ["week6_optimizations.distributed", "train"] and command[8:] == argv


def relayed(stream: bytes, chunk: int) -> tuple[bytes, StderrRelay]:
    """Feed `stream` to a relay `chunk` bytes at a time; return what it wrote and the relay."""
    written = []
    relay = StderrRelay(written.append)
    for start in range(0, len(stream), chunk):
        relay.feed(stream[start : start + chunk])
    relay.finish()
    return b"".join(written), relay


@pytest.mark.parametrize("chunk", [1, 7, 4096])
def test_torchruns_report_is_hidden_and_the_ranks_error_kept_for_last(chunk):
    out, relay = relayed(
        b"step 0: val loss 5.5\n" + PROGRESS + b"\n" + RANK_ERROR + TORCHRUN_REPORT, chunk
    )
    assert out == b"step 0: val loss 5.5\n" + PROGRESS + b"\n"
    assert relay.errors == [RANK_ERROR]
    assert (
        relay.summary() == "torchrun: rank 0 failed first (exit code 2); its report is hidden here"
    )
    assert relay.root_cause_code() == 2


def test_a_progress_bar_passes_at_once():
    written = []
    relay = StderrRelay(written.append)
    relay.feed(PROGRESS[:20])
    relay.feed(PROGRESS[20:])
    assert b"".join(written) == PROGRESS  # nothing held back: the bar redraws live


def test_a_ranks_own_traceback_is_shown_as_it_is():
    bug = (
        b"Traceback (most recent call last):\n"
        b'  File "week4_training/trainer.py", line 9, in run\n'
        b"    1 / 0\n"
        b"ZeroDivisionError: division by zero\n"
    )
    out, relay = relayed(bug + TORCHRUN_REPORT, chunk=5)
    assert out == bug and relay.errors == []
    assert "rank 0 failed first" in relay.summary()


def test_torchruns_log_line_inside_a_progress_bar_is_dropped():
    log = (
        b"W1202 00:09:05.683000 9764 .venv/lib/python3.11/site-packages/torch/distributed/elastic/"
        b"multiprocessing/api.py:1028] Sending process 9841 closing signal SIGINT\n"
    )
    written = []
    relay = StderrRelay(written.append)
    for chunk in (PROGRESS, log, b"\rddp: 50%\n"):
        relay.feed(chunk)
    relay.finish()
    assert b"".join(written) == PROGRESS + b"\rddp: 50%\n"


def test_a_bad_nproc_is_refused_before_anything_runs(tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text(f"tokenizer:\n  kind: bytes\nrun:\n  name: x\n  out_dir: {tmp_path}\n")
    assert run_cli(main, ["launch", "--nproc", "abc", "--config", str(config)]) == 2
    assert capsys.readouterr().err.startswith("error: NPROC=abc: the number of processes")
    assert not (tmp_path / "x").exists()


def fake_torchrun(stderr: bytes, code: int) -> list[str]:
    """A command that prints `stderr` as torchrun would and exits with `code` (no torch)."""
    script = f"import sys; sys.stderr.buffer.write({stderr!r}); sys.exit({code})"
    return [sys.executable, "-c", script]


def test_a_failed_launch_ends_with_the_ranks_error_and_its_exit_code():
    written = []
    code = torchrun.run_torchrun(fake_torchrun(RANK_ERROR + TORCHRUN_REPORT, 1), written.append)
    assert code == 2  # the rank's own exit code, not torchrun's 1
    lines = b"".join(written).decode().splitlines()
    assert lines == [
        "torchrun: rank 0 failed first (exit code 2); its report is hidden here",
        RANK_ERROR.decode().strip(),
    ]
    assert torchrun.run_torchrun(fake_torchrun(b"fine\n", 0), written.append) == 0
