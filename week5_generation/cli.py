"""`python -m week5_generation sample|evaluate`: the commands behind make sample, chat, evaluate.

    sample    --prompt TEXT [--checkpoint runs/x | gpt2 --weights model.safetensors]
              [--max-new-tokens N] [--temperature T] [--top-k K] [--top-p P] [--seed S]
              [--stop TEXT ...] [--interactive] [--backend NAME] [--device auto]
              [--decoder NAME]
    evaluate  [checkpoint ...] [--weights model.safetensors] [--prompts FILE] [--corpus FILE]
              [--device auto]
    gpt2      fetch GPT-2 small's model.safetensors and config.json (make gpt2)

Two tables of pyproject.toml name what `sample` can use: `--backend` looks its sampler up in
`BACKENDS` (`tiny_gpt.sampling_backend`: `torch` is `sample_with_torch`, below; week 6 lists one
that runs the model in MLX), and `--decoder` its next-token logits in `DECODERS`
(`tiny_gpt.decoder`, see generate.py). A backend is a function taking the parsed arguments.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

from shared.config import Config
from shared.device import pick_device
from shared.errors import CourseError
from shared.registry import Registry
from week5_generation.config import SampleConfig
from week5_generation.evaluation import (
    PROMPTS_FILE,
    comparison_table,
    evaluate_source,
    read_prompts,
    write_report,
)
from week5_generation.generate import DECODERS
from week5_generation.loading import GPT2, load_source
from week5_generation.sampling import make_generator
from week5_generation.session import (
    input_lines,
    interactive,
    notice,
    resolve_settings,
    sample_once,
    session_seed,
)

BACKENDS: Registry[Callable[[argparse.Namespace], int]] = Registry(
    "sampling backend", "tiny_gpt.sampling_backend"
)


def settings_from_flags(config: Config, args: argparse.Namespace) -> SampleConfig:
    """The run's `sample` section with the flags of `sample` on top (a flag left out keeps it)."""
    return resolve_settings(
        config,
        max_new_tokens=args.max_new_tokens,
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        seed=args.seed,
        prompt=args.prompt or None,  # an empty --prompt (make's default) keeps sample.prompt
        stop=args.stop,
    )


def sample_with_torch(args: argparse.Namespace) -> int:
    """`sample` in PyTorch: load, resolve the settings, then one prompt or a prompt loop."""
    device = pick_device(args.device)
    source = load_source(args.checkpoint, args.weights, device, say=notice)
    settings = settings_from_flags(source.config, args)
    generator = make_generator(session_seed(settings, source.config))
    DECODERS.get(args.decoder)  # an unknown name fails before any output
    if args.interactive:
        lines = input_lines(sys.stdin.buffer)  # bytes: decoded as UTF-8, whatever the locale
        tty = sys.stdin.isatty()
        interactive(source, lines, settings, generator, sys.stdout, tty, decoder=args.decoder)
    else:
        sample_once(source, settings.prompt, settings, generator, sys.stdout, decoder=args.decoder)
    return 0


def backend(name: str) -> Callable[[argparse.Namespace], int]:
    """The sampler listed as `name`; one that cannot load says where it comes from."""
    try:
        return BACKENDS.get(name)
    except CourseError as error:
        raise CourseError(f"--backend {name}: {error}; use --backend torch") from None


def _sample(args: argparse.Namespace) -> int:
    return backend(args.backend)(args)


def _evaluate(args: argparse.Namespace) -> int:
    device = pick_device(args.device)
    prompts = read_prompts(args.prompts)
    targets = list(args.checkpoints) or [None]
    if args.weights is not None and GPT2 not in targets:
        targets = [*targets, GPT2] if args.checkpoints else [GPT2]
    evaluations = []
    for target in targets:
        weights = args.weights if target == GPT2 else None
        source = load_source(target, weights, device, say=notice)
        notice(f"evaluating {source.name} ...")
        evaluation = evaluate_source(source, prompts, device, corpus=args.corpus)
        path = write_report(evaluation, source.run_dir)
        notice(f"report: {path}")
        evaluations.append(evaluation)
    print(comparison_table(evaluations))
    return 0


def _gpt2(args: argparse.Namespace) -> int:
    """`make gpt2`: GPT-2 small's weights and config.json into the data cache (checksummed)."""
    from shared.data import GPT2_SMALL, fetch_all

    for path in fetch_all(GPT2_SMALL):
        print(f"{path}")
    print("use them with CKPT=gpt2 (make sample, make evaluate, make finetune)")
    return 0


def listed(what: str, table: Registry[Any]) -> str:
    """A flag's help: the names its table lists now (reading the list imports nothing)."""
    return f"{what}: {', '.join(table.names())} (the {table.group} table in pyproject.toml)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m week5_generation", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    sample = commands.add_parser("sample", help="generate text from a checkpoint or GPT-2")
    sample.add_argument("--prompt", default=None, help="text to continue ('' starts fresh)")
    sample.add_argument("--checkpoint", default=None, help="runs/<name>, a .pt file, or gpt2")
    sample.add_argument("--weights", default=None, help="GPT-2 model.safetensors (with gpt2)")
    sample.add_argument("--max-new-tokens", type=int, default=None)
    sample.add_argument("--temperature", type=float, default=None, help="0 = greedy")
    sample.add_argument("--top-k", type=int, default=None)
    sample.add_argument("--top-p", type=float, default=None)
    sample.add_argument("--seed", type=int, default=None, help="default: sample.seed or run.seed")
    sample.add_argument("--stop", action="append", default=None, help="stop at this text")
    sample.add_argument("--interactive", action="store_true", help="a prompt per input line")
    sample.add_argument("--backend", default="torch", help=listed("sampler", BACKENDS))
    sample.add_argument("--device", default="auto", help="auto, cpu, cuda, mps")
    sample.add_argument("--decoder", default="full", help=listed("next-token logits", DECODERS))
    sample.set_defaults(run=_sample)

    evaluate = commands.add_parser("evaluate", help="compare checkpoints: metrics and samples")
    evaluate.add_argument("checkpoints", nargs="*", help="run folders (default: the latest)")
    evaluate.add_argument("--weights", default=None, help="also evaluate these GPT-2 weights")
    evaluate.add_argument("--prompts", default=str(PROMPTS_FILE), help="one prompt per line")
    evaluate.add_argument("--corpus", default=None, help="default: each run's data.corpus")
    evaluate.add_argument("--device", default="auto")
    evaluate.set_defaults(run=_evaluate)

    gpt2 = commands.add_parser("gpt2", help="fetch GPT-2 small's weights (548 MB, checksummed)")
    gpt2.set_defaults(run=_gpt2)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)
