"""The training loop: evaluate, checkpoint, step, log, until max_iters or Ctrl-C.

    step 0 ... max_iters:
        every eval_interval steps (and at the end): evaluate the whole validation split,
            log it, save checkpoint.pt if it is the best so far, always save last.pt
        lr = schedule(step); one optimizer step over grad_accum_steps micro-batches
        every log_interval steps: a metrics row (loss, lr, grad norm, tokens/s)

`step` counts optimizer updates done. Resuming from last.pt restores the model, the AdamW
moments, the GradScaler, the batch generator and every RNG, and drops metrics rows after the
checkpoint's step, so the rows that follow are the ones an uninterrupted run writes (bit for bit
on CPU in float32; tokens/s and seconds are measured, so they differ).

Everything that depends on how many processes train together goes through a parallel strategy
(`week4_training.parallel`): the default is one process; week 6 passes its DistributedDataParallel
one. Then every rank runs this same loop in lockstep on its own batches, and rank 0 alone writes
the run folder; a checkpoint gathers every rank's batch generator and random states, so each
rank resumes its own stream.
"""

from __future__ import annotations

import copy
import math
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import torch
import yaml
from torch import nn
from tqdm import tqdm

from shared.atomic import atomic_write_text
from shared.config import Config
from shared.device import autocast, seed_everything
from shared.errors import CourseError
from shared.runs import MetricsLog, make_resume_command, prepare_run_dir, write_config
from week4_training.checkpoint import (
    BEST,
    LAST,
    check_tokenizer,
    load_model_state,
    read_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
    tokenizer_record,
)
from week4_training.data import BatchSampler, load_token_data, stream_seed
from week4_training.evaluate import EvalResult, evaluate
from week4_training.optim import make_optimizer, set_learning_rate
from week4_training.parallel import SingleProcess
from week4_training.sample import sample_ids
from week4_training.schedule import schedule_from_config, schedule_warnings
from week4_training.step import make_scaler, optimizer_step

if TYPE_CHECKING:
    from week2_tokenizer import Tokenizer


class TrainingDiverged(CourseError):
    """The loss became NaN or infinite; the run stops and keeps its last good checkpoint."""


@dataclass
class TrainResult:
    """How a run ended: its folder, the step reached, the best and the last evaluation."""

    run_dir: Path
    step: int
    best_val_loss: float
    last_eval: EvalResult | None
    interrupted: bool
    train_seconds: float


class StopRequest:
    """Ctrl-C asks the loop to stop after the current step (a second Ctrl-C stops at once)."""

    def __init__(self) -> None:
        self.requested = False

    @contextmanager
    def installed(self) -> Iterator[StopRequest]:
        try:
            previous = signal.signal(signal.SIGINT, self._handle)
        except ValueError:  # not the main thread: no handler, no Ctrl-C saving
            yield self
            return
        try:
            yield self
        finally:
            signal.signal(signal.SIGINT, previous)

    def _handle(  # pragma: no cover - exercised by a real Ctrl-C
        self, signum: int, frame: FrameType | None
    ) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True


def resolve_model_config(cfg: Config, tokenizer: Tokenizer) -> Config:
    """Fill model.vocab_size from the tokenizer; a set value must leave room for every token."""
    vocab = cfg.model.vocab_size
    if vocab is None:
        return cfg.replace("model", vocab_size=tokenizer.vocab_size)
    if vocab < tokenizer.vocab_size:
        raise CourseError(
            f"model.vocab_size={vocab} is smaller than the tokenizer's {tokenizer.vocab_size} "
            "tokens; leave model.vocab_size out to take it from the tokenizer"
        )
    return cfg


def run_folder(cfg: Config, resume: str | Path | None = None) -> Path:
    """The folder a run writes: the one it resumes, or `run.out_dir/run.name` for a new run."""
    return Path(resume) if resume is not None else Path(cfg.run.out_dir) / cfg.run.name


def resume_command(run_dir: Path, world_size: int = 1) -> str:
    """What to type to continue a run; a run of several processes resumes with as many."""
    command = make_resume_command(run_dir, world_size)
    if world_size > 1:
        return command
    python = f"python -m week4_training train --resume {run_dir}"
    return f"{command}   (or, with the venv active: {python})"


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


def check_same_run(document: dict, run_dir: Path) -> None:
    """Refuse a last.pt that belongs to another run than the folder's config.yaml describes
    (one copied in from elsewhere): resuming it would mix two runs in one folder."""
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
                f"{run_dir / LAST} belongs to another run: its {key} is {ours.get(key)!r}, but "
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


def _silent(message: str) -> None:
    """What a rank other than 0 prints: nothing."""


class Trainer:
    """One run: builds the pieces from a config, then `run()` trains; see the module docstring."""

    def __init__(
        self,
        cfg: Config,
        *,
        resume: str | Path | None = None,
        overwrite: bool = False,
        progress: bool = True,
        log: Callable[[str], None] = print,
        parallel: SingleProcess | None = None,
    ) -> None:
        from week2_tokenizer import load_or_train_tokenizer
        from week3_model import GPT

        self.parallel = parallel = parallel if parallel is not None else SingleProcess()
        self.log = log if parallel.is_main else _silent
        self.progress = progress and parallel.is_main
        train = cfg.train
        self.run_dir = run_folder(cfg, resume)
        resume_doc = None
        if resume is not None:  # only reads: every rank checks
            prepare_run_dir(self.run_dir, resume=True)
            resume_doc = read_checkpoint(self.run_dir / LAST, resume=True)
            check_world_size(resume_doc, parallel.world_size, self.run_dir / LAST)
            check_same_run(resume_doc, self.run_dir)
            check_not_finished(resume_doc, cfg, self.run_dir, parallel.world_size)
        elif not overwrite:  # refuses an existing run before any slow work
            parallel.on_main(lambda: prepare_run_dir(self.run_dir))
        self.device = parallel.device(cfg.run.device)
        with autocast(self.device, train.dtype):  # an unsupported dtype fails here, not later
            pass
        seed_everything(cfg.run.seed)
        # rank 0 trains the tokenizer and encodes the corpus into the cache; the others read it
        self.tokenizer = parallel.main_first(
            lambda: load_or_train_tokenizer(cfg.tokenizer, cfg.data.corpus)
        )
        if resume_doc is not None:
            check_tokenizer(resume_doc, self.tokenizer, self.run_dir / LAST)
        self.cfg = cfg = resolve_model_config(cfg, self.tokenizer)
        for warning in schedule_warnings(cfg.train):
            self.log(f"warning: {warning}")
        self.data = parallel.main_first(
            lambda: load_token_data(cfg.data.corpus, self.tokenizer, log=self.log)
        )
        block = cfg.model.block_size
        self.sampler = BatchSampler(
            self.data.train.tokens, block, train.batch_size, cfg.run.seed, rank=parallel.rank
        )
        self.model = GPT(cfg.model).to(self.device)  # the same initial weights on every rank
        if parallel.rank > 0:  # its own dropout masks, as it has its own batches
            seed_everything(stream_seed(cfg.run.seed, parallel.rank))
        self.optimizer = make_optimizer(
            self.model,
            lr=train.lr,
            weight_decay=train.weight_decay,
            betas=(train.beta1, train.beta2),
            device=self.device,
        )
        self.scaler = make_scaler(self.device, train.dtype)
        # evaluation runs the plain (or compiled) model; training goes through the wrapper, which
        # with several processes averages the gradients across them. (torch.compile of a module
        # returns a module, an OptimizedModule, though its type hints say only "a callable".)
        self.eval_model: nn.Module = torch.compile(self.model) if train.compile else self.model  # type: ignore[assignment]
        self.forward_model = parallel.wrap(self.eval_model)
        self.schedule = schedule_from_config(train)
        self.step = 0
        self.last_eval_step = -1
        self.best_val_loss = math.inf
        self.train_seconds = 0.0
        if overwrite and resume is None:
            parallel.on_main(lambda: prepare_run_dir(self.run_dir, overwrite=True))
        self.metrics = MetricsLog(self.run_dir / "metrics.jsonl") if parallel.is_main else None
        if resume_doc is not None:
            self._restore(resume_doc)
        # config.yaml says what this run trains with: a resume's overrides go into it too
        parallel.on_main(lambda: write_config(self.run_dir, cfg.to_yaml()))

    # ------------------------------------------------------------------ state

    def _restore(self, document: dict) -> None:
        where = self.run_dir / LAST
        load_model_state(self.model, document["model"], where)
        try:
            self.optimizer.load_state_dict(document["optimizer"])
            if document["scaler"]:
                self.scaler.load_state_dict(document["scaler"])
            own = document["ranks"][self.parallel.rank] if "ranks" in document else document
            self.sampler.load_state_dict(own["sampler"])
            set_rng_state(own["rng"])
        except (KeyError, IndexError, TypeError, ValueError, RuntimeError) as error:
            raise CourseError(
                f"{where}: damaged checkpoint: its training state does not load "
                f"({type(error).__name__}: {error})"
            ) from None
        self.step = document["step"]
        self.last_eval_step = document["last_eval_step"]
        self.best_val_loss = float(document["best_val_loss"])
        self.train_seconds = float(document.get("train_seconds", 0.0))
        if self.metrics is not None:
            self.metrics.truncate_after(self.step)
        self.log(f"resuming {self.run_dir} from step {self.step}")

    def state(self) -> dict:
        """The checkpoint payload (see `week4_training.checkpoint`).

        With several processes every rank must call this (it gathers each rank's batch generator
        and random states into `ranks`); rank 0's payload is the one written.
        """
        own = {"sampler": self.sampler.state_dict(), "rng": rng_state()}
        ranks = self.parallel.gather(own)
        extra = {"ranks": ranks} if self.parallel.world_size > 1 else {}
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict() if self.scaler.is_enabled() else None,
            **own,
            **extra,
            "world_size": self.parallel.world_size,
            "step": self.step,
            "last_eval_step": self.last_eval_step,
            "best_val_loss": self.best_val_loss,
            "train_seconds": self.train_seconds,
            "config": self.cfg.to_dict(),
            "tokenizer": tokenizer_record(self.tokenizer),
        }

    # ------------------------------------------------------------------ the pieces of a step

    def evaluate_and_save(self) -> EvalResult:
        """Evaluate the whole validation split, log it, and write checkpoint.pt / last.pt."""
        train = self.cfg.train
        result = evaluate(
            self.eval_model,
            self.data.val,
            self.cfg.model.block_size,
            train.batch_size,
            self.device,
            train.dtype,
            self.parallel,
        )
        self.last_eval_step = self.step
        improved = result.loss < self.best_val_loss
        if improved:
            self.best_val_loss = result.loss
        self._log_metrics(
            {
                "step": self.step,
                "val_loss": result.loss,
                "val_perplexity": result.perplexity,
                "val_bits_per_byte": result.bits_per_byte,
            }
        )
        payload = self.state()
        if self.parallel.is_main:
            if improved:
                save_checkpoint(self.run_dir / BEST, payload)
            save_checkpoint(self.run_dir / LAST, payload)
        return result

    def save_last(self) -> None:
        """Write last.pt now (every rank calls this; rank 0 writes)."""
        payload = self.state()
        if self.parallel.is_main:
            save_checkpoint(self.run_dir / LAST, payload)

    def _log_metrics(self, row: dict) -> None:
        if self.metrics is not None:
            self.metrics.log(row)

    def train_step(self) -> dict:
        """One optimizer step at the scheduled learning rate; returns its metrics row."""
        train = self.cfg.train
        lr = self.schedule(self.step)
        set_learning_rate(self.optimizer, lr)
        batches = [self.sampler.next_batch(self.device) for _ in range(train.grad_accum_steps)]
        result = optimizer_step(
            self.forward_model,
            self.optimizer,
            self.scaler,
            batches,
            grad_clip=train.grad_clip,  # the grads are averaged already: this is the global norm
            precision=autocast(self.device, train.dtype),
            no_sync=partial(self.parallel.no_sync, self.forward_model),
        )
        loss = self._mean_over_ranks(result.loss)  # every rank sees, and judges, the same loss
        if not math.isfinite(loss):
            raise TrainingDiverged(
                f"the loss became {loss} at step {self.step + 1}; stopping. The last good "
                f"state is {self.run_dir / LAST} (step {self.last_eval_step}); lower train.lr, "
                "keep train.grad_clip on, or train in bfloat16 rather than float16"
            )
        self.step += 1
        row = {"step": self.step, "loss": loss, "lr": lr, "grad_norm": result.grad_norm}
        if self.scaler.is_enabled():
            row.update(scale=self.scaler.get_scale(), skipped=result.skipped)
        return row

    def _mean_over_ranks(self, value: float) -> float:
        if self.parallel.world_size == 1:
            return value
        total = self.parallel.all_reduce_sum(torch.tensor([value], dtype=torch.float64))
        return float(total[0]) / self.parallel.world_size

    # ------------------------------------------------------------------ the loop

    def run(self, should_stop: Callable[[int], bool] | None = None) -> TrainResult:
        """Train to max_iters; Ctrl-C (or `should_stop(step)`) saves last.pt and returns early."""
        train = self.cfg.train
        # train.batch_size is per process: the global batch is world_size times larger
        sequences = self.parallel.world_size * train.batch_size * train.grad_accum_steps
        tokens_per_step = sequences * self.cfg.model.block_size
        say = tqdm.write if self.parallel.is_main else _silent
        stop = StopRequest()
        last_eval: EvalResult | None = None
        window_seconds, window_tokens = 0.0, 0
        bar = tqdm(
            total=train.max_iters,
            initial=self.step,
            disable=not self.progress,
            desc=self.run_dir.name,
            dynamic_ncols=True,
        )
        with stop.installed(), bar:
            while True:
                due = self.step % train.eval_interval == 0 or self.step >= train.max_iters
                if due and self.last_eval_step != self.step:
                    last_eval = self.evaluate_and_save()
                    say(
                        f"step {self.step}: val loss {last_eval.loss:.4f}, "
                        f"bits/byte {last_eval.bits_per_byte:.4f}"
                    )
                if self.step >= train.max_iters:
                    break
                asked = stop.requested or (should_stop is not None and should_stop(self.step))
                if self.parallel.any(asked):  # every rank stops at the same step
                    self.save_last()
                    say(f"stopped at step {self.step}; saved {self.run_dir / LAST}")
                    say(f"resume with: {resume_command(self.run_dir, self.parallel.world_size)}")
                    return self._result(last_eval, interrupted=True)
                start = time.perf_counter()
                row = self.train_step()
                elapsed = time.perf_counter() - start
                self.train_seconds += elapsed
                window_seconds += elapsed
                window_tokens += tokens_per_step
                bar.update(1)
                if self.step % train.log_interval == 0 or row.get("skipped"):
                    row["tokens_per_s"] = window_tokens / max(window_seconds, 1e-9)
                    row["train_seconds"] = self.train_seconds
                    self._log_metrics(row)
                    bar.set_postfix(
                        loss=f"{row['loss']:.3f}",
                        lr=f"{row['lr']:.2e}",
                        tok_s=f"{row['tokens_per_s']:.0f}",
                    )
                    window_seconds, window_tokens = 0.0, 0
        return self._result(last_eval, interrupted=False)

    def write_samples(self) -> Path | None:
        """samples.txt: a short text drawn from the best model, so a run shows what it learned.

        The best model is checkpoint.pt's weights (the last ones may be worse), loaded into a copy
        of the model: copying draws no random numbers, so no random stream of the run moves.
        """
        n_tokens = self.cfg.train.sample_tokens
        if n_tokens == 0:
            return None
        model, step, source = self._best_model()
        prompt = [self.tokenizer.eot_id] if self.tokenizer.eot_id is not None else [0]
        ids = sample_ids(
            model,
            prompt,
            n_tokens,
            block_size=self.cfg.model.block_size,
            seed=self.cfg.run.seed,
            device=self.device,
        )
        text = self.tokenizer.decode(ids)
        target = self.run_dir / "samples.txt"
        header = f"# step {step} ({source}), temperature 0.8, {n_tokens} tokens"
        atomic_write_text(target, f"{header}\n{text}\n")
        return target

    def _best_model(self) -> tuple[nn.Module, int, str]:
        """(model, step, what it is) of checkpoint.pt; the last weights if there is none yet."""
        path = self.run_dir / BEST
        if not path.is_file():
            return self.model, self.step, f"the last weights: no {BEST} was saved"
        document = read_checkpoint(path)
        best = copy.deepcopy(self.model)
        load_model_state(best, document["model"], path)
        return best, document["step"], f"{BEST}, the best by validation loss"

    def _result(self, last_eval: EvalResult | None, interrupted: bool) -> TrainResult:
        return TrainResult(
            run_dir=self.run_dir,
            step=self.step,
            best_val_loss=self.best_val_loss,
            last_eval=last_eval,
            interrupted=interrupted,
            train_seconds=self.train_seconds,
        )
