"""`python -m week1_setup env|data|explore|baseline`: the commands behind week 1's make targets."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from shared.data import corpus_path, fetch, group_files, read_text
from shared.paths import RUNS_DIR
from week1_setup.bigram import bigram_baseline
from week1_setup.environment import environment_report
from week1_setup.explore import corpus_stats, describe, plot_char_frequency


def _env(args: argparse.Namespace) -> int:
    report = environment_report()
    print(report.render())
    if report.missing:
        print(f"missing: {', '.join(report.missing)} (run `make setup`)")
        return 1
    return 0


def _data(args: argparse.Namespace) -> int:
    for name in group_files():
        print(f"{name:<22} {fetch(name)}")
    return 0


def _explore(args: argparse.Namespace) -> int:
    stats = corpus_stats(read_text(corpus_path(args.corpus)))
    print(describe(stats))
    png = plot_char_frequency(stats, Path(args.out_dir) / "char_frequency.png")
    print(f"plot: {png}")
    return 0


def _baseline(args: argparse.Namespace) -> int:
    result = bigram_baseline(args.corpus, smoothing=args.smoothing)
    print(f"byte-bigram baseline on {args.corpus} (add-k smoothing, k={args.smoothing})")
    print(f"  train bits per byte       {result['train_bits_per_byte']:.4f}")
    print(f"  validation bits per byte  {result['val_bits_per_byte']:.4f}")
    if args.json:
        print(json.dumps(result))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m week1_setup", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("env", help="report the environment").set_defaults(run=_env)
    commands.add_parser("data", help="fetch the course's data files").set_defaults(run=_data)
    explore = commands.add_parser("explore", help="corpus statistics and a frequency plot")
    explore.add_argument("--corpus", default="tinyshakespeare.txt")
    explore.add_argument("--out-dir", default=str(RUNS_DIR / "explore"))
    explore.set_defaults(run=_explore)
    baseline = commands.add_parser("baseline", help="the byte-bigram baseline in bits per byte")
    baseline.add_argument("--corpus", default="tinyshakespeare.txt")
    baseline.add_argument("--smoothing", type=float, default=0.1)
    baseline.add_argument("--json", action="store_true", help="also print the result as JSON")
    baseline.set_defaults(run=_baseline)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)
