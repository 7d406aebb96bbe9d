"""`python -m week5_generation.finetune train|sft-data|accuracy`: make finetune, sft-data, sft-eval.

train     --base runs/x | gpt2 [--weights model.safetensors] --data train.jsonl
          [--val val.jsonl] [--config configs/finetune.yaml] [--resume runs/y]
          [--overwrite] [section.key=value ...]
sft-data  [--out-dir data/sft] [--overwrite]
accuracy  --base runs/x --tuned runs/y [--data data/sft/speakers-val.jsonl]
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from functools import partial
from pathlib import Path

from shared.config import Config, config_from_dict
from shared.errors import CourseError
from shared.flags import add_yes_flag
from shared.paths import REPO_ROOT
from week4_training.cli import claim_run_folder, run_training
from week4_training.parallel import SingleProcess
from week4_training.resume import check_started
from week5_generation.finetune.setup import (
    FINETUNE_SECTIONS,
    check_same_data,
    data_sha256,
    load_examples,
    load_start,
    new_run_config,
)

SFT_DIR = REPO_ROOT / "data" / "sft"


def _resumed_config(run_dir: Path, overrides: Sequence[str]) -> Config:
    from week4_training.checkpoint import LAST, read_checkpoint

    check_started(run_dir, LAST)
    document = read_checkpoint(run_dir / LAST, resume=True)
    if "finetune" not in document["config"]:
        raise CourseError(
            f"{run_dir}: not a fine-tuning run; resume it with make train RESUME={run_dir}"
        )
    source = f"{run_dir / LAST} config"
    return config_from_dict(
        document["config"], overrides, source=source, sections=FINETUNE_SECTIONS
    )


def _check_not_finished(step: int, cfg: Config, run_dir: Path) -> None:
    """A fine-tuning run that reached train.max_iters: say so, with the command to train on."""
    if step >= cfg.train.max_iters:
        raise CourseError(
            f"{run_dir} is finished: it reached step {step} of train.max_iters="
            f"{cfg.train.max_iters}; to train on, give it more steps: make finetune "
            f'RESUME={run_dir} ARGS="train.max_iters={2 * step}"'
        )


def _train(args: argparse.Namespace) -> int:
    from week4_training.checkpoint import LAST, read_checkpoint, tokenizer_from_checkpoint
    from week5_generation.finetune.training import FineTuner

    if args.resume:
        run_dir = Path(args.resume)
        cfg = _resumed_config(run_dir, args.overrides)
        document = read_checkpoint(run_dir / LAST, resume=True)
        _check_not_finished(document["step"], cfg, run_dir)
        tokenizer = tokenizer_from_checkpoint(document, run_dir / LAST)
        data = load_examples(cfg, tokenizer)  # first: a missing file is named as such
        check_same_data(cfg, run_dir)
        start = None
    else:
        start_state = load_start(args.base, args.weights)
        files = {"data": args.data, "val_data": args.val}
        chosen = {
            "base": args.base,
            "weights": args.weights,
            **{key: value for key, value in files.items() if value is not None},
        }
        cfg = new_run_config(args.config, start_state, chosen, args.overrides)
        run_dir = Path(cfg.run.out_dir) / cfg.run.name
        base_dir = start_state.run_dir
        if base_dir is not None and run_dir.resolve() == base_dir.resolve():
            raise CourseError(
                f"run.name={cfg.run.name}: that is the base run's own folder ({base_dir}), which "
                "fine-tuning never writes; choose another run.name"
            )
        tokenizer, start = start_state.tokenizer, start_state.model
        data = load_examples(cfg, tokenizer)
        files_sha = data_sha256([cfg.finetune.data, cfg.finetune.val_data])
        cfg = cfg.replace("finetune", data_sha256=files_sha)
    trainer_class = partial(FineTuner, tokenizer=tokenizer, data=data, start=start)
    parallel = SingleProcess()
    with claim_run_folder(run_dir, args, parallel):
        return run_training(
            cfg,
            resume=args.resume,
            overwrite=args.overwrite,
            parallel=parallel,
            trainer_class=trainer_class,
        )


def _sft_data(args: argparse.Namespace) -> int:
    from week5_generation.finetune.speakers import sft_data_command

    return sft_data_command(Path(args.out_dir), overwrite=args.overwrite)


def _accuracy(args: argparse.Namespace) -> int:
    from week5_generation.finetune.attribution import accuracy_command

    return accuracy_command(args.base, args.tuned, Path(args.data), device=args.device)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m week5_generation.finetune", description=__doc__
    )
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="fine-tune a checkpoint on JSONL examples")
    train.add_argument("--base", default="", help="runs/<name>, a .pt file, or gpt2")
    train.add_argument("--weights", default=None, help="GPT-2's model.safetensors (with gpt2)")
    train.add_argument("--data", default=None, help="the examples (.jsonl)")
    train.add_argument("--val", default=None, help="held-out examples (.jsonl)")
    train.add_argument("--config", default="configs/finetune.yaml")
    train.add_argument("--resume", default=None, help="a fine-tuning run folder to continue")
    add_yes_flag(train, "--overwrite", "OVERWRITE", help="replace an existing run folder")
    train.add_argument("overrides", nargs="*", help="section.key=value, e.g. train.max_iters=50")
    train.set_defaults(run=_train)
    data = commands.add_parser("sft-data", help="build the speaker-attribution set from the corpus")
    data.add_argument("--out-dir", default=str(SFT_DIR))
    add_yes_flag(data, "--overwrite", "OVERWRITE", help="replace existing files")
    data.set_defaults(run=_sft_data)
    accuracy = commands.add_parser(
        "accuracy", help="speaker attribution: tuned vs base vs majority"
    )
    accuracy.add_argument("--base", required=True, help="the base run (runs/<name>)")
    accuracy.add_argument("--tuned", required=True, help="the fine-tuned run")
    accuracy.add_argument("--data", default=str(SFT_DIR / "speakers-val.jsonl"))
    accuracy.add_argument("--device", default="auto")
    accuracy.set_defaults(run=_accuracy)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    return args.run(args)
