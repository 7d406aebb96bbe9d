"""`make bench`: measure, print one table, write runs/bench/<date>_<time>.json.

    python -m week6_optimizations.bench [--quick] [--out-dir runs/bench] [--only training ...]

Sections come from the row providers in `rows.ROW_PROVIDERS` (tokenizer, training, trainer,
generation, checkpointing; the MLX port registers mlx and the playground its own
section). The variants compared in a row group are timed in interleaved rounds after untimed
warm-up (`shared.bench.interleaved`); each ratio is computed within a round against the group's
reference and reported as the median with the lowest and highest round, "times faster than the
reference", higher is better. A row whose rounds disagree by more than `shared.bench.SPREAD_LIMIT`
is marked unreliable. `--quick` (make bench QUICK=1) runs fewer cases, shorter runs and fewer
rounds, and writes the same JSON layout.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from shared.bench import machine_description
from shared.device import pick_device
from shared.errors import CourseError, run_cli
from shared.paths import RUNS_DIR
from week6_optimizations.bench.checkpointing import activation_checkpointing_rows
from week6_optimizations.bench.generation import generation_rows_for, transformers_rows_for
from week6_optimizations.bench.report import format_table, write_report
from week6_optimizations.bench.rows import ROW_PROVIDERS, check_row, make_row, register_rows
from week6_optimizations.bench.training import training_cases, training_rows_for
from week6_optimizations.bench.training_run import FULL_RUN, QUICK_RUN, run_rows, step_rows

BLOCK_SIZES = [64, 256]

# Modules that register more providers when they exist (the MLX port adds its rows here).
OPTIONAL_PROVIDERS = ["week6_optimizations.mlx_port.bench", "week6_optimizations.playground.bench"]


def load_optional_providers() -> list[str]:
    """Import each module of OPTIONAL_PROVIDERS that exists; return the ones loaded."""
    loaded = []
    for module in OPTIONAL_PROVIDERS:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as error:
            if error.name is None or not module.startswith(error.name):
                raise  # the module exists but something it imports is missing: say so
            continue
        loaded.append(module)
    return loaded


@register_rows("tokenizer")
def tokenizer_rows(quick: bool) -> list[dict[str, Any]]:
    """Week 2's tokenizer rows, if week 2 provides `week2_tokenizer.bench.tokenizer_rows`."""
    try:
        from week2_tokenizer.bench import tokenizer_rows as week2_rows
    except ImportError as error:
        note = f"n/a: week2_tokenizer.bench.tokenizer_rows cannot be loaded ({error})"
        return [make_row("tokenizer", "-", "-", None, "", note=note)]
    return week2_rows(quick)


@register_rows("training")
def training_rows(quick: bool) -> list[dict[str, Any]]:
    """Quick: naive vs sdpa in float32 at block 64. Full: every variant at both block sizes,
    bfloat16 and torch.compile too."""
    device = pick_device("auto")
    cases = training_cases(BLOCK_SIZES[:1] if quick else BLOCK_SIZES, full=not quick)
    return training_rows_for(cases, device, rounds=3 if quick else 7, warmup=1 if quick else 2)


@register_rows("trainer")
def trainer_rows(quick: bool) -> list[dict[str, Any]]:
    """configs/baby.yaml: week 4's training step and whole run against the plain loop."""
    rows = step_rows(rounds=5 if quick else 15, warmup=1 if quick else 3)
    return rows + run_rows(QUICK_RUN if quick else FULL_RUN)


@register_rows("generation")
def generation_rows(quick: bool) -> list[dict[str, Any]]:
    """Full context vs KV cache; the full bench adds sdpa and rope, and transformers' generate."""
    device = pick_device("auto")
    if quick:
        return generation_rows_for(BLOCK_SIZES[:1], device, rounds=3, warmup=1)
    variants = (("naive", "learned"), ("sdpa", "rope"))
    rows = generation_rows_for(BLOCK_SIZES, device, rounds=5, warmup=1, variants=variants)
    return rows + transformers_rows_for(BLOCK_SIZES, device, rounds=5, warmup=1)


@register_rows("checkpointing")
def checkpointing_rows(quick: bool) -> list[dict[str, Any]]:
    """Peak memory and speed of a training step with activation checkpointing, against the same
    step without it: 8 layers at block 256 (quick: 2 small layers at block 64)."""
    return activation_checkpointing_rows(quick, pick_device("auto"))


def run_bench(
    quick: bool,
    out_dir: str | Path,
    sections: Sequence[str] | None = None,
    device: str | None = None,
) -> tuple[list[dict[str, Any]], Path]:
    """Run the chosen providers (all by default) in order; write the report; return rows, path."""
    load_optional_providers()
    names = list(ROW_PROVIDERS) if not sections else list(sections)
    unknown = [name for name in names if name not in ROW_PROVIDERS]
    if unknown:
        raise CourseError(f"--only {', '.join(unknown)}: allowed are {', '.join(ROW_PROVIDERS)}")
    machine = machine_description()
    rows: list[dict[str, Any]] = []
    for name in names:
        print(f"bench: {name} ...", file=sys.stderr, flush=True)
        start = time.perf_counter()
        rows += [check_row(row) for row in ROW_PROVIDERS[name](quick)]
        print(f"bench: {name} took {time.perf_counter() - start:.0f} s", file=sys.stderr)
    device = device or str(pick_device("auto"))
    path = write_report(rows, machine, out_dir, device=device, quick=quick)
    return rows, path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m week6_optimizations.bench", description=__doc__
    )
    parser.add_argument(
        "--quick", action="store_true", help="fewer cases, shorter runs, fewer rounds"
    )
    parser.add_argument("--out-dir", default=str(RUNS_DIR / "bench"), help="where the JSON goes")
    parser.add_argument("--only", nargs="+", metavar="SECTION", help="run only these providers")
    parser.add_argument(
        "--threads",
        type=int,
        help="torch threads (default: torch's choice; with --quick: 1, see below)",
    )
    args = parser.parse_args(argv)
    # The quick run is a smoke test: one thread keeps it fast and steady on a busy machine, where
    # threads that wait for each other slow small models down by an order of magnitude.
    threads = 1 if args.threads is None and args.quick else args.threads
    if threads is not None:
        if threads < 1:
            raise CourseError(f"--threads: must be a positive integer, got {threads}")
        torch.set_num_threads(threads)
    machine = machine_description()
    print("machine: " + ", ".join(f"{k}={v}" for k, v in machine.items()))
    rows, path = run_bench(args.quick, args.out_dir, args.only)
    print(format_table(rows))
    print(f"wrote {path}")
    return 0


def cli(argv: Sequence[str] | None = None) -> int:
    return run_cli(main, argv)
