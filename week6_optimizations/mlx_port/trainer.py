"""Training in MLX: week 4's loop, week 4's data, schedule, metrics and run folder; MLX steps.

    step 0 ... max_iters:
        every eval_interval steps (and at the end): evaluate the whole validation split,
            log it, save checkpoint.safetensors (+ .pt) if best, always save last.*
        lr = week 4's schedule(step); one compiled step over grad_accum_steps micro-batches
        every log_interval steps: a metrics row (loss, lr, grad_norm, tokens_per_s, train_seconds)

The rows have week 4's keys, so `make plot` draws torch and MLX runs side by side. Batches come
from week 4's `BatchSampler` (its own seeded generator), so an MLX run and a PyTorch run with the
same seed see the very same training windows. MLX trains in float32 here.

`train.compile: true` runs the step through `mx.compile` (on Apple silicon it is cheap; with the
Linux CPU wheel the first call JIT-compiles C++ kernels, tens of seconds, cached in /tmp/mlx).

Lazy evaluation in the loop: the compiled step only *records* work; `mx.eval(loss, norm)` runs
it. Without that line the graph would grow step after step and nothing would be computed.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import mlx.core as mx
import numpy as np
from tqdm import tqdm

from shared.atomic import atomic_write_text
from shared.config import Config
from shared.device import seed_everything
from shared.errors import CourseError
from shared.runs import MetricsLog, prepare_run_dir, write_config
from week4_training.checkpoint import check_tokenizer, tokenizer_record
from week4_training.data import BatchSampler, load_token_data
from week4_training.evaluate import EvalResult
from week4_training.schedule import schedule_from_config
from week4_training.trainer import StopRequest, TrainingDiverged, resolve_model_config
from week6_optimizations.mlx_port.checkpoint import (
    LAST_WEIGHTS,
    load_last,
    restore_state,
    save_best,
    save_last,
)
from week6_optimizations.mlx_port.convert import load_weights_into
from week6_optimizations.mlx_port.evaluate import evaluate_mlx
from week6_optimizations.mlx_port.model import MLXGPT
from week6_optimizations.mlx_port.train_step import make_optimizer, make_train_step


def stacked_batches(sampler: BatchSampler, k: int) -> tuple[mx.array, mx.array]:
    """k micro-batches from week 4's sampler as (k, B, T) int32 MLX arrays."""
    import torch

    pairs = [sampler.next_batch(torch.device("cpu")) for _ in range(k)]
    xs = np.stack([x.numpy() for x, _ in pairs]).astype(np.int32)
    ys = np.stack([y.numpy() for _, y in pairs]).astype(np.int32)
    return mx.array(xs), mx.array(ys)


def dropout_seed(run_seed: int, step: int) -> int:
    """The seed of step `step`'s dropout masks: a pure function of the step, so a resumed run
    draws the masks the uninterrupted run drew. (MLX 0.32 can reseed its global key but offers
    no way to set it back to a saved key, so the key is never saved.)"""
    return (run_seed * 1_000_003 + step) % 2**63


class MLXTrainer:
    """One MLX run, built from a config; `run()` trains. See the module docstring."""

    def __init__(
        self,
        cfg: Config,
        *,
        resume: str | Path | None = None,
        overwrite: bool = False,
        progress: bool = True,
    ) -> None:
        from week2_tokenizer import load_or_train_tokenizer

        train = cfg.train
        if train.dtype != "float32":
            raise CourseError(
                f"train.dtype: the MLX port trains in float32, got {train.dtype!r}; "
                "set train.dtype=float32"
            )
        self.progress = progress
        self.run_dir = Path(resume) if resume is not None else Path(cfg.run.out_dir) / cfg.run.name
        last = None
        if resume is not None:
            prepare_run_dir(self.run_dir, resume=True)
            last = load_last(self.run_dir)
        elif not overwrite:
            prepare_run_dir(self.run_dir)  # refuses an existing run before any slow work
        seed_everything(cfg.run.seed)
        self.tokenizer = load_or_train_tokenizer(cfg.tokenizer, cfg.data.corpus)
        if last is not None:
            check_tokenizer(last[1], self.tokenizer, self.run_dir / LAST_WEIGHTS)
        self.cfg = cfg = resolve_model_config(cfg, self.tokenizer)
        self.data = load_token_data(cfg.data.corpus, self.tokenizer)
        block = cfg.model.block_size
        self.sampler = BatchSampler(self.data.train.tokens, block, train.batch_size, cfg.run.seed)
        self.model = MLXGPT(cfg.model)
        self.optimizer = make_optimizer(
            lr=train.lr, weight_decay=train.weight_decay, betas=(train.beta1, train.beta2)
        )
        self.schedule = schedule_from_config(train)
        self.step, self.last_eval_step = 0, -1
        self.best_val_loss, self.train_seconds = math.inf, 0.0
        if overwrite and resume is None:
            prepare_run_dir(self.run_dir, overwrite=True)
        self.metrics = MetricsLog(self.run_dir / "metrics.jsonl")
        if last is not None:
            self._restore(*last)
        else:
            write_config(self.run_dir, cfg.to_yaml())
        # Compiled last: it captures the state containers as they are now (restored ones too).
        self.train_step_fn = make_train_step(
            self.model, self.optimizer, train.grad_clip, compile=train.compile
        )

    def _restore(
        self, weights: dict[str, mx.array], metadata: dict[str, Any], state: dict[str, np.ndarray]
    ) -> None:
        load_weights_into(self.model, weights, self.run_dir / LAST_WEIGHTS)
        self.optimizer.init(self.model.trainable_parameters())
        restore_state(state, self.optimizer, self.sampler, self.model.trainable_parameters())
        self.step = int(metadata["step"])
        self.last_eval_step = int(metadata["last_eval_step"])
        self.best_val_loss = float(metadata["best_val_loss"])
        self.train_seconds = float(metadata["train_seconds"])
        self.metrics.truncate_after(self.step)
        print(f"resuming {self.run_dir} from step {self.step}")

    def metadata(self) -> dict:
        return {
            "step": self.step,
            "last_eval_step": self.last_eval_step,
            "best_val_loss": self.best_val_loss,
            "train_seconds": self.train_seconds,
            "config": self.cfg.to_dict(),
            "tokenizer": tokenizer_record(self.tokenizer),
        }

    def evaluate_and_save(self) -> EvalResult:
        """Evaluate the whole validation split, log it, save the best and the last state."""
        train = self.cfg.train
        result = evaluate_mlx(
            self.model, self.data.val, self.cfg.model.block_size, train.batch_size, self.progress
        )
        self.last_eval_step = self.step
        improved = result.loss < self.best_val_loss
        if improved:
            self.best_val_loss = result.loss
        self.metrics.log(
            {
                "step": self.step,
                "val_loss": result.loss,
                "val_perplexity": result.perplexity,
                "val_bits_per_byte": result.bits_per_byte,
            }
        )
        if improved:
            save_best(self.run_dir, self.model, self.metadata())
        save_last(self.run_dir, self.model, self.optimizer, self.sampler, self.metadata())
        return result

    def train_step(self) -> dict:
        """One optimizer step at the scheduled learning rate; returns its metrics row."""
        lr = self.schedule(self.step)
        self.optimizer.learning_rate = lr
        mx.random.seed(dropout_seed(self.cfg.run.seed, self.step))
        xs, ys = stacked_batches(self.sampler, self.cfg.train.grad_accum_steps)
        loss, norm = self.train_step_fn(xs, ys)
        mx.eval(loss, norm)  # lazy until here: this line runs the step
        loss_value = float(loss)
        if not math.isfinite(loss_value):
            raise TrainingDiverged(
                f"the loss became {loss_value} at step {self.step + 1}; stopping. The last good "
                f"state is {self.run_dir / LAST_WEIGHTS}; lower train.lr or keep train.grad_clip on"
            )
        self.step += 1
        return {"step": self.step, "loss": loss_value, "lr": lr, "grad_norm": norm.item()}

    def run(self) -> EvalResult | None:
        """Train to max_iters; Ctrl-C saves the last state and stops early (resume continues)."""
        train = self.cfg.train
        tokens_per_step = train.batch_size * train.grad_accum_steps * self.cfg.model.block_size
        last_eval = None
        window_seconds, window_tokens = 0.0, 0
        bar = tqdm(
            total=train.max_iters,
            initial=self.step,
            disable=not self.progress,
            desc=f"{self.run_dir.name} (mlx)",
            dynamic_ncols=True,
        )
        with StopRequest().installed() as stop, bar:
            while True:
                due = self.step % train.eval_interval == 0 or self.step >= train.max_iters
                if due and self.last_eval_step != self.step:
                    last_eval = self.evaluate_and_save()
                    bar.write(
                        f"step {self.step}: val loss {last_eval.loss:.4f}, "
                        f"bits/byte {last_eval.bits_per_byte:.4f}"
                    )
                if self.step >= train.max_iters:
                    break
                if stop.requested:  # pragma: no cover - a real Ctrl-C
                    save_last(
                        self.run_dir, self.model, self.optimizer, self.sampler, self.metadata()
                    )
                    bar.write(f"stopped at step {self.step}; resume with --resume {self.run_dir}")
                    break
                start = time.perf_counter()
                row = self.train_step()
                elapsed = time.perf_counter() - start
                self.train_seconds += elapsed
                window_seconds += elapsed
                window_tokens += tokens_per_step
                bar.update(1)
                if self.step % train.log_interval == 0:
                    row["tokens_per_s"] = window_tokens / max(window_seconds, 1e-9)
                    row["train_seconds"] = self.train_seconds
                    self.metrics.log(row)
                    bar.set_postfix(loss=f"{row['loss']:.3f}", tok_s=f"{row['tokens_per_s']:.0f}")
                    window_seconds, window_tokens = 0.0, 0
        return last_eval

    def write_samples(self) -> Path | None:
        """samples.txt from the trained model, as week 4 writes it (temperature 0.8, run.seed)."""
        from week6_optimizations.mlx_port.sampling import generate_ids

        n_tokens = self.cfg.train.sample_tokens
        if n_tokens == 0:
            return None
        eot = self.tokenizer.eot_id
        ids = list(
            generate_ids(
                self.model,
                [eot if eot is not None else 0],
                n_tokens,
                temperature=0.8,
                seed=self.cfg.run.seed,
            )
        )
        target = self.run_dir / "samples.txt"
        header = f"# step {self.step}, temperature 0.8, {len(ids)} tokens (mlx)"
        atomic_write_text(target, f"{header}\n{self.tokenizer.decode(ids)}\n")
        return target


def train_mlx(config: Config, resume: bool | str | Path = False, overwrite: bool = False) -> Path:
    """Train `config` in MLX; returns the run folder. `resume`: True (the config's run folder)
    or a run folder to continue from its last.safetensors."""
    folder = None
    if resume:
        folder = Path(config.run.out_dir) / config.run.name if resume is True else Path(resume)
    trainer = MLXTrainer(config, resume=folder, overwrite=overwrite)
    print(
        f"run {trainer.run_dir} (mlx, {mx.default_device()}): "
        f"{trainer.model.num_parameters() / 1e6:.2f}M parameters, tokenizer vocab "
        f"{trainer.tokenizer.vocab_size}, {len(trainer.data.train.tokens):,} training tokens"
    )
    last = trainer.run()
    trainer.write_samples()
    from week4_training.plot import plot_run

    plot_run(trainer.run_dir)
    if last is not None:
        print(
            f"done: step {trainer.step}, validation loss {last.loss:.4f} nats/token, "
            f"{last.bits_per_byte:.4f} bits/byte, {trainer.train_seconds:.0f} s of training"
        )
    return trainer.run_dir
