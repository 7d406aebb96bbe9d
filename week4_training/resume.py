"""What a resume must agree with: the same run, as many processes, and steps left to train.

A resumed run continues the very batch streams and random states of the run that saved it, so a
last checkpoint is refused (with what to do instead) when it cannot continue that run:

    no last checkpoint at all       the run was never started there
    another number of processes     each process continues its own batch stream
    another run's checkpoint        one copied in from elsewhere would mix two runs in one folder
    another optimizer               its state is that optimizer's: keep train.optimizer
    a finished run                  it reached train.max_iters: give it more steps

These checks read the checkpoint's record only (`backend.SavedState`), so they hold for every
framework alike.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from shared.config import Config
from shared.errors import CourseError
from shared.runs import make_resume_command
from week4_training.backend import SavedState


def resume_command(run_dir: Path, world_size: int = 1) -> str:
    """What to type to continue a run; a run of several processes resumes with as many."""
    command = make_resume_command(run_dir, world_size)
    if world_size > 1:
        return command
    python = f"python -m week4_training train --resume {run_dir}"
    return f"{command}   (or, with the venv active: {python})"


def check_started(run_dir: Path, last_file: str) -> None:
    """A run resumes from its last checkpoint (`last_file`, e.g. last.pt): without one, no run
    was started in that folder, or it stopped before its first evaluation."""
    if not (run_dir / last_file).is_file():
        started = "was the run started?"
        raise CourseError(f"cannot resume {run_dir}: it holds no {last_file} ({started})")


def check_resume(saved: SavedState, cfg: Config, run_dir: Path, world_size: int) -> None:
    """Every check below, in the order a learner meets the problems."""
    check_world_size(saved.record, world_size, saved.path)
    check_same_run(saved.record, run_dir, saved.path)
    check_same_optimizer(saved.record, cfg, saved.path)
    check_not_finished(saved.record, cfg, run_dir, world_size)


def check_same_optimizer(document: dict, cfg: Config, where: Path) -> None:
    """A run resumes with the optimizer that wrote its state: AdamW's moments are not Muon's
    momentum, so switching at a resume would start the new one from nothing, mid-run."""
    train = document.get("config", {}).get("train", {})
    saved = train.get("optimizer", "adamw") if isinstance(train, dict) else "adamw"
    if saved != cfg.train.optimizer:
        raise CourseError(
            f"{where} holds the state of train.optimizer={saved!r}, and this resume asks for "
            f"{cfg.train.optimizer!r}; resume with train.optimizer={saved}, or start a new run"
        )


def check_world_size(document: dict, world_size: int, where: Path) -> None:
    """A run resumes with as many processes as wrote it: each continues its own batch stream."""
    saved = document.get("world_size", 1)
    if saved != world_size:
        raise CourseError(
            f"{where} was written by a run of {saved} process(es), and this one has {world_size}; "
            f"resume it with {saved} (NPROC={saved}): each process continues its own batch stream"
        )


# What makes a run itself: its text, tokenizer and model, its name and seed. A resume may change
# anything else (train.max_iters above all), and config.yaml is rewritten to say so.
IDENTITY_SECTIONS = ("data", "tokenizer", "model")
IDENTITY_RUN_KEYS = ("name", "seed")


def run_identity(config: dict) -> dict[str, object]:
    """`{"model.n_layer": 4, ..., "run.name": "tiny", "run.seed": 1337}` of a config dict."""

    def section(name: str) -> dict:
        body = config.get(name)
        return body if isinstance(body, dict) else {}

    identity = {f"{s}.{k}": v for s in IDENTITY_SECTIONS for k, v in section(s).items()}
    identity.update({f"run.{k}": section("run").get(k) for k in IDENTITY_RUN_KEYS})
    return identity


def check_same_run(document: dict, run_dir: Path, where: Path) -> None:
    """Refuse a last checkpoint (`where`) that belongs to another run than the folder's
    config.yaml describes (one copied in from elsewhere): resuming it would mix two runs."""
    path = run_dir / "config.yaml"
    if not path.is_file():
        return
    try:
        folder_config = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError):
        raise CourseError(f"{path}: not a readable config (is the run folder damaged?)") from None
    if not isinstance(folder_config, dict):
        raise CourseError(f"{path}: not a run config (is the run folder damaged?)")
    ours, theirs = run_identity(document["config"]), run_identity(folder_config)
    for key in sorted(set(ours) | set(theirs)):
        if ours.get(key) != theirs.get(key):
            raise CourseError(
                f"{where} belongs to another run: its {key} is {ours.get(key)!r}, but "
                f"{path} says {theirs.get(key)!r}; resume the run folder it came from"
            )


def check_not_finished(document: dict, cfg: Config, run_dir: Path, world_size: int) -> None:
    """A run that reached train.max_iters has nothing left to do: say so, and how to go on."""
    step, train = document["step"], cfg.train
    if step < train.max_iters:
        return
    more = f'{make_resume_command(run_dir, world_size)} ARGS="train.max_iters={2 * step}"'
    after_decay = (
        f" (past train.lr_decay_iters={train.lr_decay_iters} it trains at train.min_lr)"
        if train.lr_decay_iters <= step
        else ""
    )
    raise CourseError(
        f"{run_dir} is finished: it reached step {step} of train.max_iters={train.max_iters}; "
        f"to train on, give it more steps: {more}{after_decay}"
    )
