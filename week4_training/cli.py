"""`python -m week4_training train|eval|plot`: the commands behind `make train`, `make eval` and
`make plot`."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shared.config import Config, config_from_dict, load_config
from shared.errors import EXIT_INTERRUPTED, CourseError
from shared.flags import add_yes_flag
from shared.paths import RUNS_DIR
from shared.registry import Registry

if TYPE_CHECKING:  # these load PyTorch: imported where training starts
    from shared.runs import RunLock
    from week4_training.backend import Framework
    from week4_training.parallel import SingleProcess
    from week4_training.trainer import Trainer

# Frameworks other than PyTorch that train a run (`run.backend: mlx` is week 6's MLX port): the
# `tiny_gpt.training_backend` table of pyproject.toml. An entry is a `backend.Framework`; it
# trains with this week's loop.
TRAINING_BACKENDS: Registry = Registry("training backend", "tiny_gpt.training_backend")


# The config sections a training run reads (besides `data` and `run`); config.yaml holds these.
TRAIN_SECTIONS = ("tokenizer", "model", "train")


def _quiet(*args: object, **kwargs: object) -> None:
    """What a rank other than 0 prints: nothing."""


def framework_named(name: str) -> Framework:
    """The framework of `run.backend: name`: PyTorch, or an entry of TRAINING_BACKENDS."""
    from week4_training.torch_backend import PYTORCH

    return PYTORCH if name == "torch" else TRAINING_BACKENDS.get(name)


def framework_of_run(run_dir: Path) -> Framework:
    """The framework that wrote a run folder: the one whose last checkpoint file it holds."""
    from week4_training.torch_backend import PYTORCH

    if not (run_dir / PYTORCH.last_file).is_file():
        for name in TRAINING_BACKENDS.names():
            framework: Framework = TRAINING_BACKENDS.get(name)
            if (run_dir / framework.last_file).is_file():
                return framework
    return PYTORCH  # (with no last file at all, resuming says that last.pt is missing)


def train_config(args: argparse.Namespace, framework: Framework | None = None) -> Config:
    """The config of a `train` command: the YAML file with overrides, or a resumed run's own
    (from the last checkpoint of `framework`, by default the one that wrote the run)."""
    from week4_training.resume import check_started

    if not args.resume:
        return load_config(args.config, args.overrides, sections=TRAIN_SECTIONS)
    run_dir = Path(args.resume)
    framework = framework if framework is not None else framework_of_run(run_dir)
    check_started(run_dir, framework.last_file)
    saved = framework.read_last(run_dir).record["config"]
    source = f"{run_dir / framework.last_file} config"
    return config_from_dict(saved, args.overrides, source=source, sections=TRAIN_SECTIONS)


def train_command(
    args: argparse.Namespace,
    parallel: SingleProcess | None = None,
    framework: Framework | None = None,
) -> int:
    """`train`: week 6 calls this with its DistributedDataParallel `parallel` strategy, under
    which every process runs it and rank 0 alone prints and writes the run folder, and with its
    MLX `framework` (by default: the one that wrote the run to resume, or `run.backend`'s).

    The run folder is locked from the first check to the last file written (rank 0 holds the
    lock), so a second `make train` of the same run.name is refused, not mixed into this one.
    """
    from week4_training.parallel import SingleProcess
    from week4_training.trainer import run_folder

    parallel = parallel if parallel is not None else SingleProcess()
    if framework is None and args.resume:
        framework = framework_of_run(Path(args.resume))
    cfg = train_config(args, framework)
    framework = framework if framework is not None else framework_named(cfg.run.backend)
    with claim_run_folder(run_folder(cfg, args.resume), args, parallel):
        if args.resume and parallel.is_main:
            overrides = args.overrides or "none"
            print(f"config: {args.resume}'s own (the checkpoint's), overrides: {overrides}")
        return run_training(
            cfg,
            resume=args.resume,
            overwrite=args.overwrite,
            framework=framework,
            parallel=parallel,
        )


def claim_run_folder(
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


def run_training(
    cfg: Config,
    *,
    resume: str | Path | None,
    overwrite: bool,
    framework: Framework | None = None,
    parallel: SingleProcess,
    trainer_class: Callable[..., Trainer] | None = None,
) -> int:
    """Train `cfg` in `framework` and report, the same for every framework: what is trained,
    the loop, then samples.txt, the plot and a summary (exit status 0). After Ctrl-C the last
    state is saved and the command to resume printed, and the status is 130, what a shell
    reports for a command stopped by Ctrl-C; nothing else is written.

    `trainer_class` builds the loop (week 4's `Trainer` unless given: week 5's fine-tuning
    passes its own, which brings its framework), called with the config and keyword options.
    """
    from week4_training.plot import plot_run
    from week4_training.trainer import Trainer

    say = print if parallel.is_main else _quiet
    options: dict[str, Any] = {"resume": resume, "overwrite": overwrite, "log": say}
    if framework is not None:
        options["framework"] = framework
    make = trainer_class if trainer_class is not None else Trainer
    trainer = make(cfg, parallel=parallel, **options)
    say(trainer.backend.describe())
    resume_hint = trainer.resume_hint()
    try:
        result = trainer.run()
    except KeyboardInterrupt:  # a second Ctrl-C: stop at once, keep the last saved checkpoint
        say(f"\ninterrupted; resume the last saved state: {resume_hint}")
        return EXIT_INTERRUPTED
    if result.interrupted:
        return EXIT_INTERRUPTED
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
        block_size=cfg.model.block_size,
        batch_size=cfg.train.batch_size,
        device=device,
        dtype=cfg.train.dtype,  # the precision the run trained (and evaluated) in
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
