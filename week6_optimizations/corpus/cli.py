"""`python -m week6_optimizations.corpus prepare --data <files> --name <corpus> [--config CFG]
[--overwrite] [section.key=value ...]`: what `make prepare` runs (prepare.py)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from shared.config import load_config
from shared.flags import add_yes_flag

DEFAULT_CONFIG = "configs/tiny.yaml"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m week6_optimizations.corpus",
        description="Prepare your own text files as a corpus of token shards.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    prepare = commands.add_parser("prepare", help="files to token shards (make prepare)")
    prepare.add_argument("--data", required=True, help="a folder, a file or a glob")
    prepare.add_argument("--name", required=True, help="the corpus name: data.corpus=<name>")
    prepare.add_argument(
        "--config", default=DEFAULT_CONFIG, help="its tokenizer and prepare sections are used"
    )
    add_yes_flag(prepare, "--overwrite", "OVERWRITE", help="replace an existing corpus")
    prepare.add_argument("--no-progress", action="store_true", help="no progress bar")
    prepare.add_argument("overrides", nargs="*", help="section.key=value, e.g. prepare.workers=2")
    generate = commands.add_parser("generate", help="a corpus of many files from tiny shakespeare")
    generate.add_argument("--out", required=True, help="a new or empty folder")
    generate.add_argument("--mb", type=float, default=100.0, help="about this many megabytes")
    generate.add_argument("--seed", type=int, default=0)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    if args.command == "generate":
        from pathlib import Path

        from week6_optimizations.corpus.generate import generate

        files = generate(Path(args.out), args.mb, args.seed)
        print(f"wrote {len(files)} files under {args.out}")
        return 0
    import week2_tokenizer  # noqa: F401 - registers the config sections
    from week6_optimizations.corpus.prepare import prepare

    cfg = load_config(args.config, args.overrides, sections=("tokenizer", "prepare"))
    prepare(args.data, args.name, cfg, overwrite=args.overwrite, progress=not args.no_progress)
    return 0
