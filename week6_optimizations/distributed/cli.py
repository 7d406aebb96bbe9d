"""`torchrun --nproc_per_node=N -m week6_optimizations.distributed train ...`: `make train NPROC=N`.

Every process runs this same command. It reads who it is from torchrun's variables, picks its
device, backend and threads, joins the others, and runs week 4's `train` command under the
DistributedDataParallel strategy: rank 0 prints, logs and writes the run folder. Without
torchrun it is one process (a world of one) and trains as `python -m week4_training train`.
"""

from __future__ import annotations

import argparse
import os
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


def _distributed_config(args: argparse.Namespace) -> Config:
    """The run's config, refused if it cannot train under DDP."""
    cfg = train_config(args)
    if cfg.run.backend != "torch":
        raise CourseError(
            f"run.backend={cfg.run.backend} trains in one process without DDP; "
            "use make train without NPROC (or run.backend=torch)"
        )
    return cfg


def _check(args: argparse.Namespace) -> int:
    """`make train NPROC=N` runs this once before torchrun, so a mistake in the config or the
    run folder is one line and exit 2 from one process, not N failures and torchrun's report."""
    cfg = _distributed_config(args)
    run_dir = args.resume or Path(cfg.run.out_dir) / cfg.run.name
    check_run_dir(run_dir, resume=bool(args.resume), overwrite=args.overwrite)
    return 0


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
    for command in (train, check):
        add_train_arguments(command)
        command.add_argument(
            "--dist-backend",
            default="auto",
            choices=BACKENDS,
            help="collective backend: auto = nccl on CUDA GPUs, gloo on CPU",
        )
    train.set_defaults(run=_train)
    check.set_defaults(run=_check)
    return parser


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
        return 2
