"""The training loop: evaluate, checkpoint, step, log, until max_iters or Ctrl-C.

    step 0 ... max_iters:
        every eval_interval steps (and at the end): evaluate on the validation split (the
            whole split, or with train.eval_iters an estimate, the whole split at the end),
            log it, save checkpoint.pt if it is the best so far, always save last.pt
        lr = schedule(step); one optimizer step over grad_accum_steps micro-batches
        every log_interval steps: a metrics row (loss, lr, grad norm, tokens/s)

`step` counts optimizer updates done. Resuming from last.pt restores the model, the AdamW
moments, the GradScaler, the batch generator and every RNG, and drops metrics rows after the
checkpoint's step, so the rows that follow are the ones an uninterrupted run writes (bit for bit
on CPU in float32; tokens/s and seconds are measured, so they differ).

This loop is written once, for every framework: what computes a step, an evaluation or a
checkpoint is a *backend* (backend.py). PyTorch's is the default (torch_backend.py); `run.backend`
names another one (week 6's MLX port), and the rows, the files, the Ctrl-C and the resume rules
stay these.

Everything that depends on how many processes train together goes through a parallel strategy
(parallel.py): the default is one process; week 6 passes its DistributedDataParallel one. Then
every rank runs this same loop in lockstep on its own batches, and rank 0 alone writes the run
folder.
"""

from __future__ import annotations

import math
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from tqdm import tqdm

from shared.atomic import atomic_write_text
from shared.config import Config
from shared.device import seed_everything
from shared.errors import CourseError
from shared.runs import MetricsLog, prepare_run_dir, write_config
from week4_training.backend import Framework, LoopState, RunSetup, SavedState
from week4_training.checkpoint import check_tokenizer
from week4_training.data import BatchSampler, load_token_data
from week4_training.evaluate import EvalResult
from week4_training.parallel import SingleProcess
from week4_training.resume import check_resume, check_started, resume_command
from week4_training.schedule import schedule_from_config, schedule_warnings
from week4_training.torch_backend import PYTORCH

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


def _silent(message: str) -> None:
    """What a rank other than 0 prints: nothing."""


class Trainer:
    """One run: builds the pieces from a config, then `run()` trains; see the module docstring.

    `framework` is PyTorch unless given (week 6 passes its MLX one); `trainer.setup` holds what
    every framework trains with, `trainer.backend` the model and optimizer, `trainer.state` the
    loop's counters.
    """

    def __init__(
        self,
        cfg: Config,
        *,
        resume: str | Path | None = None,
        overwrite: bool = False,
        progress: bool = True,
        log: Callable[[str], None] = print,
        parallel: SingleProcess | None = None,
        framework: Framework = PYTORCH,
    ) -> None:
        self.parallel = parallel = parallel if parallel is not None else SingleProcess()
        self.log = log if parallel.is_main else _silent
        self.run_dir = run_dir = run_folder(cfg, resume)
        framework.check(cfg, parallel)
        saved = None
        if resume is not None:  # only reads: every rank checks
            check_started(run_dir, framework.last_file)
            saved = framework.read_last(run_dir)
            check_resume(saved, cfg, run_dir, parallel.world_size)
        elif not overwrite:  # refuses an existing run before any slow work
            parallel.on_main(lambda: prepare_run_dir(run_dir))
        self.setup = self._prepare(cfg, saved, progress and parallel.is_main)
        self.cfg = self.setup.cfg
        self.backend = framework.build(self.setup, saved)
        self.schedule = schedule_from_config(self.cfg.train)
        self.state = LoopState() if saved is None else LoopState.from_record(saved.record)
        if overwrite and resume is None:
            parallel.on_main(lambda: prepare_run_dir(run_dir, overwrite=True))
        self.metrics = MetricsLog(run_dir / "metrics.jsonl") if parallel.is_main else None
        if saved is not None:
            if self.metrics is not None:
                self.metrics.truncate_after(self.state.step)
            self.log(f"resuming {run_dir} from step {self.state.step}")
        # config.yaml says what this run trains with: a resume's overrides go into it too
        parallel.on_main(lambda: write_config(run_dir, self.cfg.to_yaml()))

    def _prepare(self, cfg: Config, saved: SavedState | None, progress: bool) -> RunSetup:
        """Seed, tokenizer, data and batches; rank 0 trains the tokenizer and encodes the corpus
        into the cache, the others read them."""
        from week4_training.corpus_format import run_tokenizer

        parallel = self.parallel
        seed_everything(cfg.run.seed)
        tokenizer = parallel.main_first(lambda: run_tokenizer(cfg.tokenizer, cfg.data.corpus))
        if saved is not None:
            check_tokenizer(saved.record, tokenizer, saved.path)
        cfg = resolve_model_config(cfg, tokenizer)
        for warning in schedule_warnings(cfg.train):
            self.log(f"warning: {warning}")
        corpus = cfg.data.corpus
        data = parallel.main_first(lambda: load_token_data(corpus, tokenizer, log=self.log))
        sampler = BatchSampler(
            data.train.tokens,
            cfg.model.block_size,
            cfg.train.batch_size,
            cfg.run.seed,
            rank=parallel.rank,
        )
        return RunSetup(cfg, self.run_dir, tokenizer, data, sampler, parallel, progress)

    # ------------------------------------------------------------------ the pieces of a step

    def evaluate_and_save(self) -> EvalResult:
        """Evaluate, log it, and save: the best checkpoint when the loss improved
        (checkpoint.pt), the last one always (last.pt, or the framework's own).

        With train.eval_iters the evaluation is an estimate, and the final one is also exact:
        the row logs the exact figures, while "improved" compares estimates with estimates
        (one figure judges every step, so best_val_loss is an estimate in such a run).
        """
        train, state = self.cfg.train, self.state
        windows = None if train.eval_iters is None else train.eval_iters * train.batch_size
        judged = self.backend.evaluate(max_windows=windows)
        final = state.step >= train.max_iters
        result = self.backend.evaluate() if final and not judged.exact else judged
        state.last_eval_step = state.step
        improved = judged.loss < state.best_val_loss
        if improved:
            state.best_val_loss = judged.loss
        self._log_metrics(
            {
                "step": state.step,
                "val_loss": result.loss,
                "val_perplexity": result.perplexity,
                "val_bits_per_byte": result.bits_per_byte,
                "val_exact": result.exact,
            }
        )
        self.backend.save(state, best=improved)
        return result

    def _log_metrics(self, row: dict) -> None:
        if self.metrics is not None:
            self.metrics.log(row)

    def train_step(self) -> dict:
        """One optimizer step at the scheduled learning rate; returns its metrics row."""
        state = self.state
        lr = self.schedule(state.step)
        numbers = self.backend.train_step(state.step, lr)
        loss = numbers["loss"]
        if not math.isfinite(loss):
            raise TrainingDiverged(
                f"the loss became {loss} at step {state.step + 1}; stopping. The last good "
                f"state is {self.backend.last_path} (step {state.last_eval_step}); lower "
                "train.lr, keep train.grad_clip on, or train in bfloat16 rather than float16"
            )
        state.step += 1
        # step, loss and lr first, then the backend's other numbers (grad_norm, scale, ...)
        return {"step": state.step, "loss": loss, "lr": lr} | numbers

    # ------------------------------------------------------------------ the loop

    def run(self, should_stop: Callable[[int], bool] | None = None) -> TrainResult:
        """Train to max_iters; Ctrl-C (or `should_stop(step)`) saves the last checkpoint, prints
        the command to resume and returns early (`interrupted`)."""
        train, state, world_size = self.cfg.train, self.state, self.parallel.world_size
        # train.batch_size is per process: the global batch is world_size times larger
        sequences = world_size * train.batch_size * train.grad_accum_steps
        tokens_per_step = sequences * self.cfg.model.block_size
        say = tqdm.write if self.parallel.is_main else _silent
        stop = StopRequest()
        last_eval: EvalResult | None = None
        window_seconds, window_tokens = 0.0, 0
        bar = tqdm(
            total=train.max_iters,
            initial=state.step,
            disable=not self.setup.progress,
            desc=self.run_dir.name,
            dynamic_ncols=True,
        )
        with stop.installed(), bar:
            while True:
                due = state.step % train.eval_interval == 0 or state.step >= train.max_iters
                if due and state.last_eval_step != state.step:
                    last_eval = self.evaluate_and_save()
                    say(
                        f"step {state.step}: val loss {last_eval.loss:.4f}, "
                        f"bits/byte {last_eval.bits_per_byte:.4f}"
                    )
                if state.step >= train.max_iters:
                    break
                asked = stop.requested or (should_stop is not None and should_stop(state.step))
                if self.parallel.any(asked):  # every rank stops at the same step
                    self.backend.save(state, best=False)
                    bar.close()  # first: the last line on the screen is the command to resume
                    say(f"stopped at step {state.step}; saved {self.backend.last_path}")
                    say(f"resume with: {self.resume_hint()}")
                    return self._result(last_eval, interrupted=True)
                start = time.perf_counter()
                row = self.train_step()
                elapsed = time.perf_counter() - start
                state.train_seconds += elapsed
                window_seconds += elapsed
                window_tokens += tokens_per_step
                bar.update(1)
                if state.step % train.log_interval == 0 or row.get("skipped"):
                    row["tokens_per_s"] = window_tokens / max(window_seconds, 1e-9)
                    row["train_seconds"] = state.train_seconds
                    self._log_metrics(row)
                    bar.set_postfix(
                        loss=f"{row['loss']:.3f}",
                        lr=f"{row['lr']:.2e}",
                        tok_s=f"{row['tokens_per_s']:.0f}",
                    )
                    window_seconds, window_tokens = 0.0, 0
        return self._result(last_eval, interrupted=False)

    def resume_hint(self) -> str:
        """What to type to continue this run (`make train RESUME=...`)."""
        return resume_command(self.run_dir, self.parallel.world_size)

    def write_samples(self) -> Path | None:
        """samples.txt: a short text from the trained model (train.sample_tokens of them; none
        when 0), so a run shows what it learned. The backend draws it."""
        n_tokens = self.cfg.train.sample_tokens
        if n_tokens == 0:
            return None
        target = self.run_dir / "samples.txt"
        atomic_write_text(target, self.backend.draw_samples(self.state.step, n_tokens))
        return target

    def _result(self, last_eval: EvalResult | None, interrupted: bool) -> TrainResult:
        return TrainResult(
            run_dir=self.run_dir,
            step=self.state.step,
            best_val_loss=self.state.best_val_loss,
            last_eval=last_eval,
            interrupted=interrupted,
            train_seconds=self.state.train_seconds,
        )
