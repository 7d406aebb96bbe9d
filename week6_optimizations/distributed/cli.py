"""`python -m week6_optimizations.distributed launch|check|train`: `make train NPROC=N`.

    launch --nproc N [train arguments]   what `make train NPROC=N` runs: checks NPROC and the
                                         command once, then starts torchrun (see torchrun.py)
    check [train arguments]              the one-process check alone
    train [train arguments]              what each of the N processes runs, under torchrun

Every process runs `train`. It reads who it is from torchrun's variables, picks its
device, backend and threads, joins the others, and runs week 4's `train` command under the
DistributedDataParallel strategy: rank 0 prints, logs and writes the run folder. Without
torchrun it is one process (a world of one) and trains as `python -m week4_training train`.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Sequence
from pathlib import Path

import torch

from shared.config import Config
from shared.device import pick_device
from shared.errors import CourseError
from shared.runs import check_run_dir
from week4_training.cli import add_train_arguments, train_command, train_config
from week6_optimizations.distributed.launch import (
    BACKENDS,
    ProcessInfo,
    process_backend,
    process_device,
    threads_per_process,
)
from week6_optimizations.distributed.strategy import process_group
from week6_optimizations.distributed.torchrun import (
    check_nproc,
    parse_nproc,
    run_torchrun,
    torchrun_command,
)


def _distributed_config(args: argparse.Namespace) -> Config:
    """The run's config, refused if it cannot train under DDP."""
    cfg = train_config(args)
    if cfg.run.backend != "torch":
        raise CourseError(
            f"run.backend={cfg.run.backend} trains in one process without DDP; "
            "use make train without NPROC (or run.backend=torch)"
        )
    return cfg


def _checked_config(args: argparse.Namespace, world_size: int = 1) -> Config:
    """The config of a train command, with its run folder checked (nothing is written); the
    hints in its errors name NPROC=`world_size`."""
    cfg = _distributed_config(args)
    run_dir = args.resume or Path(cfg.run.out_dir) / cfg.run.name
    check_run_dir(
        run_dir, resume=bool(args.resume), overwrite=args.overwrite, world_size=world_size
    )
    return cfg


def _check(args: argparse.Namespace) -> int:
    """`launch` runs this once before torchrun, so a mistake in the config or the run folder is
    one line and exit 2 from one process, not N failures and torchrun's report."""
    _checked_config(args)
    return 0


def train_arguments(args: argparse.Namespace) -> list[str]:
    """The parsed train arguments as a command line again (what every rank is given)."""
    argv = ["--config", args.config]
    if args.resume:
        argv += ["--resume", args.resume]
    if args.overwrite:
        argv += ["--overwrite", "1"]  # with its value: a bare flag would take the next argument
    return [*argv, "--dist-backend", args.dist_backend, *args.overrides]


def _launch(args: argparse.Namespace) -> int:
    """`make train NPROC=N`: NPROC and the command checked once, then torchrun (torchrun.py)."""
    nproc = parse_nproc(args.nproc)
    cfg = _checked_config(args, world_size=nproc)
    check_nproc(nproc, pick_device(cfg.run.device))
    return run_torchrun(torchrun_command(nproc, train_arguments(args)))


def _train(args: argparse.Namespace) -> int:
    info = ProcessInfo.from_env()
    if info.launched:  # alone, PyTorch's own choice (every core) is already right
        torch.set_num_threads(threads_per_process(info))
    cfg = _distributed_config(args)
    device = process_device(pick_device(cfg.run.device), info)
    backend = process_backend(args.dist_backend, device)
    if info.rank == 0:
        train = cfg.train
        sequences = info.world_size * train.batch_size * train.grad_accum_steps
        print(
            f"{info.world_size} process(es), backend {backend}, {torch.get_num_threads()} "
            f"thread(s) each; global batch {sequences} sequences = {info.world_size} processes "
            f"x batch_size {train.batch_size} x grad_accum_steps {train.grad_accum_steps}"
        )
    with process_group(info, device, backend) as parallel:
        return train_command(args, parallel=parallel)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m week6_optimizations.distributed")
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="train on every process torchrun started")
    check = commands.add_parser("check", help="validate a train command before torchrun starts")
    launch = commands.add_parser("launch", help="check, then train on NPROC processes (torchrun)")
    launch.add_argument("--nproc", required=True, help="the number of processes (make's NPROC)")
    for command in (train, check, launch):
        add_train_arguments(command)
        command.add_argument(
            "--dist-backend",
            default="auto",
            choices=BACKENDS,
            help="collective backend: auto = nccl on CUDA GPUs, gloo on CPU",
        )
    train.set_defaults(run=_train)
    check.set_defaults(run=_check)
    launch.set_defaults(run=_launch)
    return parser


# torchrun ends the other ranks as soon as one exits (it checks every 0.1 s): a silent rank waits
# this long before it exits, so that rank 0's line, the one that explains, is always printed.
SILENT_RANK_EXIT_DELAY_S = 1.0


def main(argv: Sequence[str] | None = None) -> int:
    """Rank 0 reports a user error (one line, exit 2); the other ranks exit 2 silently."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse already printed its one-line usage error
        return int(exit_.code or 0)
    try:
        return args.run(args)
    except CourseError:
        if os.environ.get("RANK", "0") == "0":
            raise
        time.sleep(SILENT_RANK_EXIT_DELAY_S)
        return 2
