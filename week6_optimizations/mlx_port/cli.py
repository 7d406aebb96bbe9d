"""`python -m week6_optimizations.mlx_port train|sample|convert`: the MLX port's commands.

    train    --config configs/tiny_mlx.yaml [--resume runs/x] [--overwrite] [section.key=value ...]
    sample   week 5's sample flags (--checkpoint, --prompt, --temperature, ...), run in MLX
    convert  IN OUT: a PyTorch checkpoint (.pt) -> MLX weights (.safetensors), or back

Without MLX each command says in one line how to install it and exits with status 2.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from week6_optimizations.mlx_port.availability import require_mlx


def train_command(args: argparse.Namespace) -> int:
    """`train`: week 4's train command in MLX, whatever the config's `run.backend` says."""
    from week4_training.cli import train_command as week4_train
    from week6_optimizations.mlx_port import train_backend

    return week4_train(args, framework=train_backend)


def _sample(args: argparse.Namespace) -> int:
    from week5_generation.cli import main as week5_main

    return week5_main(["sample", *args.week5_args, "--backend", "mlx"])


def _convert(args: argparse.Namespace) -> int:
    from week6_optimizations.mlx_port.checkpoint import convert_file

    print(f"wrote {convert_file(Path(args.source), Path(args.target))}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m week6_optimizations.mlx_port")
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="train a model in MLX from a YAML config")
    train.add_argument("--config", default="configs/tiny_mlx.yaml")
    train.add_argument("--resume", default=None, help="a run folder to continue")
    train.add_argument("--overwrite", action="store_true", help="replace an existing run folder")
    train.add_argument("overrides", nargs="*", help="section.key=value, e.g. train.max_iters=200")
    train.set_defaults(run=train_command)
    sample = commands.add_parser("sample", help="week 5's sample, in MLX", add_help=False)
    sample.set_defaults(run=_sample)
    convert = commands.add_parser("convert", help="checkpoint.pt <-> .safetensors")
    convert.add_argument("source", help="a .pt checkpoint (or run folder), or an MLX .safetensors")
    convert.add_argument("target", help="the file to write (.safetensors or .pt)")
    convert.set_defaults(run=_convert)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    if args.command == "sample":
        args.week5_args = rest
    elif rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    require_mlx()
    return args.run(args)
