"""The course's training against the plain loop: one optimizer step, and a whole run.

Both sides train configs/baby.yaml, the baby GPT of nanoGPT's README, with the same initial
weights and the same training batches (see plain_loop.py):

- training step: week 4's `Trainer.train_step` (schedule, batch, `optimizer_step`) against
  `PlainLoop.step`, each on a model of its own, one step per round;
- training run: a new `Trainer` built and `run()` to max_iters, as `make train` does it but in
  this process (its config, metrics, checkpoints and evaluations written to a temporary run
  folder: estimates from train.eval_iters batches, then the whole split at the end; not the
  samples.txt and plot that `make train` adds after training), against a new `PlainLoop` run
  for the same steps (its estimates of both splits every eval_interval, its checkpoint when the
  estimate improves). Both take the same number of batches per estimate. One whole run of each
  per round.

Ratios read "x faster than the plain loop": plain seconds / course seconds within a round. The
data (the corpus encoded once, cached as week 4 does) is prepared before any timing; a short run
of each side warms up imports and caches.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from shared.bench import interleaved, timed_rows
from shared.config import Config, load_config
from shared.data import corpus_path, read_text
from shared.paths import CONFIGS_DIR
from week4_training.cli import TRAIN_SECTIONS
from week4_training.corpus_format import run_tokenizer
from week4_training.data import TokenData, load_token_data
from week4_training.trainer import Trainer, resolve_model_config
from week6_optimizations.bench.plain_loop import EVAL_ITERS, PlainLoop

BENCH_CONFIG = CONFIGS_DIR / "baby.yaml"
COURSE, PLAIN = "course (Trainer)", "plain loop"


@dataclass(frozen=True)
class RunPlan:
    """How long the compared runs are: steps, eval interval (None: the config's), rounds, the
    plain loop's batches per estimate, and the corpus (None: the config's; a number: its first
    that many characters, so that a quick run's exact evaluation stays small too)."""

    max_iters: int
    eval_interval: int | None
    rounds: int
    eval_iters: int = EVAL_ITERS
    corpus_chars: int | None = None


QUICK_RUN = RunPlan(max_iters=8, eval_interval=4, rounds=3, eval_iters=2, corpus_chars=10_000)
FULL_RUN = RunPlan(max_iters=300, eval_interval=None, rounds=3)


def _silent(message: str) -> None:
    """What the benchmarked Trainer logs: nothing."""


def _sync(device: torch.device) -> None:
    if device.type == "cuda":  # pragma: no cover - needs a GPU
        torch.cuda.synchronize(device)


class BenchRuns:
    """Configs for fresh run folders under one temporary folder, removed when the `with` ends."""

    def __init__(self, config_path: Path, overrides: list[str]) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="course-bench-"))
        self.base = load_config(
            config_path, [*overrides, f"run.out_dir={self.folder}"], sections=TRAIN_SECTIONS
        )
        self.counter = itertools.count()

    def config(self, *overrides: tuple[str, str, Any]) -> Config:
        """The base config with a new run.name and `(section, key, value)` replacements."""
        cfg = self.base.replace("run", name=f"run-{next(self.counter)}")
        for section, key, value in overrides:
            cfg = cfg.replace(section, **{key: value})
        return cfg

    def __enter__(self) -> BenchRuns:
        return self

    def __exit__(self, *exc_info: object) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def prepared_data(cfg: Config) -> tuple[Config, TokenData]:
    """The config with model.vocab_size filled in, and the encoded corpus (cached)."""
    tokenizer = run_tokenizer(cfg.tokenizer, cfg.data.corpus)
    return resolve_model_config(cfg, tokenizer), load_token_data(cfg.data.corpus, tokenizer)


def course_run(cfg: Config) -> Trainer:
    """`make train`'s training, in this process: build the Trainer and run it to max_iters."""
    with contextlib.redirect_stdout(io.StringIO()):  # the loop's "step N: val loss" lines
        trainer = Trainer(cfg, progress=False, log=_silent)
        trainer.run()
    return trainer


def plain_run(cfg: Config, data: TokenData, eval_iters: int = EVAL_ITERS) -> PlainLoop:
    """The plain loop for the same config: build, then run to max_iters."""
    loop = PlainLoop(cfg, data.train.tokens, data.val.tokens, _device(cfg), eval_iters)
    loop.run(Path(cfg.run.out_dir) / cfg.run.name)
    return loop


def _device(cfg: Config) -> torch.device:
    from shared.device import pick_device

    return pick_device(cfg.run.device)


def _quick_corpus(runs: BenchRuns, chars: int) -> str:
    """The first `chars` characters of the config's corpus as a file in the bench's folder."""
    path = runs.folder / "corpus.txt"
    path.write_text(read_text(corpus_path(runs.base.data.corpus))[:chars], encoding="utf-8")
    return str(path)


def run_rows(plan: RunPlan, config_path: Path = BENCH_CONFIG) -> list[dict[str, Any]]:
    """The "training run" rows: the course's whole run and the plain loop's, interleaved."""
    overrides = [f"train.max_iters={plan.max_iters}", f"train.eval_iters={plan.eval_iters}"]
    if plan.eval_interval is not None:
        overrides.append(f"train.eval_interval={plan.eval_interval}")
    with BenchRuns(config_path, overrides) as runs:
        corpus = Path(runs.base.data.corpus).name
        if plan.corpus_chars is not None:
            runs.base = runs.base.replace("data", corpus=_quick_corpus(runs, plan.corpus_chars))
            corpus = f"first {plan.corpus_chars // 1000}k chars of {corpus}"
        runs.base, data = prepared_data(runs.base)
        short = (("train", "max_iters", 2), ("train", "eval_interval", 1))
        course_run(runs.config(*short))  # warm-up: imports, caches, the first allocations
        plain_run(runs.config(*short), data, plan.eval_iters)
        seconds = interleaved(
            {
                COURSE: lambda: course_run(runs.config()),
                PLAIN: lambda: plain_run(runs.config(), data, plan.eval_iters),
            },
            plan.rounds,
            warmup=0,
        )
        train = runs.base.train
    case = f"{config_path.name}, {train.max_iters} steps, eval every {train.eval_interval}"
    note = (
        f"{corpus}; one whole run per round: build, train, evaluate, checkpoint (course: "
        f"{plan.eval_iters}-batch estimates, the whole split at the end; plain: "
        f"{plan.eval_iters}-batch estimates of both splits)"
    )
    return timed_rows("training run", case, seconds, PLAIN, note=note)


def step_rows(rounds: int, warmup: int, config_path: Path = BENCH_CONFIG) -> list[dict[str, Any]]:
    """The "training step" rows: one `Trainer.train_step` against one `PlainLoop.step`."""
    with BenchRuns(config_path, []) as runs:
        cfg, data = prepared_data(runs.base)
        runs.base, device = cfg, _device(cfg)
        with contextlib.redirect_stdout(io.StringIO()):
            trainer = Trainer(runs.config(), progress=False, log=_silent)
        loop = PlainLoop(cfg, data.train.tokens, data.val.tokens, device=device)
        plain_steps = itertools.count()

        def course_step() -> None:
            trainer.train_step()
            _sync(device)

        def plain_step() -> None:
            loop.step(next(plain_steps))
            _sync(device)

        variants: dict[str, Callable[[], None]] = {COURSE: course_step, PLAIN: plain_step}
        seconds = interleaved(variants, rounds, warmup)
    train, model = cfg.train, cfg.model
    case = f"{config_path.name}, {model.attention} attention, {train.dtype}"
    tokens = train.batch_size * train.grad_accum_steps * model.block_size
    note = f"batch {train.batch_size}, one optimizer step per round"
    return timed_rows(
        "training step", case, seconds, PLAIN, amount=tokens, unit="tokens/s", note=note
    )
