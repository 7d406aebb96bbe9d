"""`python -m week4_training train|eval|plot`: the commands behind `make train`, `make eval` and
`make plot`."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

from shared.config import Config, config_from_dict, load_config
from shared.errors import CourseError
from shared.flags import add_yes_flag
from shared.paths import RUNS_DIR
from shared.registry import Registry

if TYPE_CHECKING:  # the strategy module loads PyTorch: imported where training starts
    from shared.runs import RunLock
    from week4_training.parallel import SingleProcess

# Training in another framework comes with a later week: `run.backend: mlx` loads week 6's MLX
# port, which registers its command here. An entry takes the parsed `train` arguments.
TRAINING_BACKENDS: Registry = Registry("training backend", "tiny_gpt.training_backend")


# The config sections a training run reads (besides `data` and `run`); config.yaml holds these.
TRAIN_SECTIONS = ("tokenizer", "model", "train")


def _quiet(*args: object, **kwargs: object) -> None:
    """What a rank other than 0 prints: nothing."""


def train_config(args: argparse.Namespace) -> Config:
    """The config of a `train` command: the YAML file with overrides, or a resumed run's own."""
    from week4_training.checkpoint import LAST, read_checkpoint

    if not args.resume:
        return load_config(args.config, args.overrides, sections=TRAIN_SECTIONS)
    run_dir = Path(args.resume)
    if not (run_dir / LAST).is_file():
        raise CourseError(f"cannot resume {run_dir}: it holds no {LAST} (was the run started?)")
    saved = read_checkpoint(run_dir / LAST)["config"]
    source = f"{run_dir / LAST} config"
    return config_from_dict(saved, args.overrides, source=source, sections=TRAIN_SECTIONS)


def train_command(args: argparse.Namespace, parallel: SingleProcess | None = None) -> int:
    """`train`: week 6 calls this with its DistributedDataParallel `parallel` strategy, under
    which every process runs it and rank 0 alone prints and writes the run folder.

    The run folder is locked from the first check to the last file written (rank 0 holds the
    lock), so a second `make train` of the same run.name is refused, not mixed into this one.
    """
    from week4_training.parallel import SingleProcess
    from week4_training.trainer import run_folder

    parallel = parallel if parallel is not None else SingleProcess()
    if args.resume and _is_mlx_run(Path(args.resume)):
        with _claim(Path(args.resume), args, parallel):
            return TRAINING_BACKENDS.get("mlx")(args)  # an MLX run resumes in MLX
    cfg = train_config(args)
    with _claim(run_folder(cfg, args.resume), args, parallel):
        if not args.resume and cfg.run.backend != "torch":
            return TRAINING_BACKENDS.get(cfg.run.backend)(args)
        return _train_torch(cfg, args, parallel)


def _is_mlx_run(run_dir: Path) -> bool:
    return not (run_dir / "last.pt").is_file() and (run_dir / "last.safetensors").is_file()


def _claim(
    run_dir: Path, args: argparse.Namespace, parallel: SingleProcess
) -> AbstractContextManager[RunLock | None]:
    """Rank 0 checks and locks `run_dir` (see `shared.runs.claim_run_dir`); the lock is released
    when the `with` block ends, and by the operating system if the process dies first."""
    from shared.runs import claim_run_dir

    def claim() -> RunLock:
        return claim_run_dir(
            run_dir,
            resume=bool(args.resume),
            overwrite=args.overwrite,
            world_size=parallel.world_size,
        )

    return parallel.on_main(claim) or nullcontext()


def _train_torch(cfg: Config, args: argparse.Namespace, parallel: SingleProcess) -> int:
    from week4_training.plot import plot_run
    from week4_training.trainer import Trainer, resume_command

    say = print if parallel.is_main else _quiet
    if args.resume:
        overrides = args.overrides or "none"
        say(f"config: {args.resume}'s own (the checkpoint's), overrides: {overrides}")
    trainer = Trainer(cfg, resume=args.resume, overwrite=args.overwrite, log=say, parallel=parallel)
    model = trainer.model
    say(
        f"run {trainer.run_dir}: {model.num_parameters() / 1e6:.2f}M parameters, "
        f"device {trainer.device}, dtype {cfg.train.dtype}, tokenizer vocab "
        f"{trainer.tokenizer.vocab_size}, {len(trainer.data.train.tokens):,} training tokens "
        f"({'encoded now' if trainer.data.rebuilt else 'cached'}: {trainer.data.folder})"
    )
    resume_hint = resume_command(trainer.run_dir, parallel.world_size)
    try:
        result = trainer.run()
    except KeyboardInterrupt:  # a second Ctrl-C: stop at once, keep the last saved last.pt
        say(f"\ninterrupted; resume the last saved state: {resume_hint}")
        return 130
    if result.interrupted:
        return 130
    if not parallel.is_main:
        return 0
    samples = trainer.write_samples()
    png = plot_run(trainer.run_dir)
    last = result.last_eval
    if last is not None:
        print(
            f"done: step {result.step}, validation loss {last.loss:.4f} nats/token, "
            f"perplexity {last.perplexity:.2f}, {last.bits_per_byte:.4f} bits/byte, "
            f"{result.train_seconds:.0f} s of training"
        )
    print(f"best checkpoint: {trainer.run_dir / 'checkpoint.pt'}")
    if samples is not None:
        print(f"samples: {samples}")
    print(f"plot: {png}")
    return 0


def _eval(args: argparse.Namespace) -> int:
    from shared.device import pick_device
    from week4_training.checkpoint import latest_run, load_checkpoint
    from week4_training.data import load_token_data
    from week4_training.evaluate import evaluate

    target = args.checkpoint
    if target is None:
        target = latest_run(args.runs_dir)
        print(f"no CKPT given: using the most recent run, {target}")
    device = pick_device(args.device)
    loaded = load_checkpoint(target, device=device)
    cfg = loaded.config
    data = load_token_data(cfg.data.corpus, loaded.tokenizer)
    result = evaluate(
        loaded.model,
        data.val,
        cfg.model.block_size,
        cfg.train.batch_size,
        device,
        cfg.train.dtype,  # the precision the run trained (and evaluated) in
        progress=True,
    )
    print(f"checkpoint {loaded.path} (step {loaded.step}), validation split of {cfg.data.corpus}")
    print(f"  tokens evaluated   {result.n_tokens:,} ({result.n_bytes:,} bytes of text)")
    print(f"  loss               {result.loss:.4f} nats/token")
    print(f"  perplexity         {result.perplexity:.2f}")
    print(f"  bits per byte      {result.bits_per_byte:.4f}")
    return 0


def _plot(args: argparse.Namespace) -> int:
    from week4_training.plot import plot_comparison, plot_run

    runs = [Path(r) for r in args.runs]
    if not runs:
        runs = sorted(p.parent for p in Path(args.runs_dir).glob("*/metrics.jsonl"))
        if not runs:
            raise CourseError(f"no run with a metrics.jsonl under {args.runs_dir}; train one first")
    for run in runs:
        if not (run / "metrics.jsonl").is_file():
            raise CourseError(f"{run}: no metrics.jsonl here (is it a run folder?)")
    for run in runs:
        print(f"plot: {plot_run(run)}")
    if len(runs) > 1:
        target = Path(args.runs_dir) / "plots" / "val_bits_per_byte.png"
        print(f"plot: {plot_comparison(runs, target)}")
    return 0


def add_train_arguments(command: argparse.ArgumentParser) -> None:
    """The arguments of `train` (make train's CFG, RESUME, OVERWRITE and ARGS); week 6's
    multi-process command takes the same ones."""
    command.add_argument("--config", default="configs/tiny.yaml", help="the run config (YAML)")
    command.add_argument("--resume", default=None, help="a run folder to continue from")
    add_yes_flag(
        command,
        "--overwrite",
        "OVERWRITE",
        help="replace an existing run folder (make train OVERWRITE=1)",
    )
    command.add_argument("overrides", nargs="*", help="section.key=value, e.g. train.max_iters=200")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m week4_training", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="train a model from a YAML config")
    add_train_arguments(train)
    train.set_defaults(run=train_command)
    evaluation = commands.add_parser("eval", help="validation figures of a checkpoint")
    evaluation.add_argument("--checkpoint", default=None, help="a run folder or a .pt file")
    evaluation.add_argument("--runs-dir", default=str(RUNS_DIR))
    evaluation.add_argument("--device", default="auto")
    evaluation.set_defaults(run=_eval)
    plot = commands.add_parser("plot", help="loss and learning-rate curves as PNG")
    plot.add_argument("runs", nargs="*", help="run folders (default: every run with metrics)")
    plot.add_argument("--runs-dir", default=str(RUNS_DIR))
    plot.set_defaults(run=_plot)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse already printed its one-line usage error
        return int(exit_.code or 0)
    return args.run(args)
