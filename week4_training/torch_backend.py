"""PyTorch's half of the training loop: the backend of `run.backend: torch` (see backend.py).

    build          GPT(config) on the run's device, its Blocks recomputed in backward if
                   `train.activation_checkpointing` (checkpointing.py), the optimizer
                   `train.optimizer` names (optim.py: AdamW in two groups), a GradScaler for
                   float16 (step.py), torch.compile if asked; a resume loads last.pt's
                   weights, optimizer state (AdamW's moments), scale, batch generator and
                   random states
    train_step     `optimizer_step` (step.py) over grad_accum_steps micro-batches
    evaluate       `evaluate` (evaluate.py): the whole validation split, or an estimate from
                   a fixed subset of its windows, in the run's dtype
    save           checkpoint.pt when best, last.pt always (checkpoint.py)
    draw_samples   from checkpoint.pt's weights, the best by validation loss

Everything that depends on how many processes train together goes through the parallel
strategy (parallel.py): with several, each rank trains its own batches through the wrapped
model, the loss is averaged over the ranks, and a checkpoint gathers every rank's batch
generator and random states (rank 0 writes it), so each rank resumes its own stream.
"""

from __future__ import annotations

import copy
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from shared.device import autocast, seed_everything, slow_precision_note
from shared.errors import CourseError
from week4_training.backend import RunSetup, SavedState
from week4_training.checkpoint import (
    BEST,
    LAST,
    load_model_state,
    read_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
    tokenizer_record,
)
from week4_training.checkpointing import checkpoint_blocks
from week4_training.data import stream_seed
from week4_training.evaluate import EvalResult, evaluate
from week4_training.optim import build_optimizer, set_learning_rate
from week4_training.parallel import SingleProcess
from week4_training.sample import sample_ids
from week4_training.step import make_scaler, optimizer_step

if TYPE_CHECKING:
    from shared.config import Config
    from week4_training.backend import LoopState


class PyTorch:
    """The framework of `run.backend: torch` (a `backend.Framework`)."""

    last_file = LAST

    def check(self, cfg: Config, parallel: SingleProcess) -> None:
        with autocast(parallel.device(cfg.run.device), cfg.train.dtype):
            pass  # an unsupported dtype fails here, not after the tokenizer and data are ready

    def read_last(self, run_dir: Path) -> SavedState:
        document = read_checkpoint(run_dir / LAST, resume=True)
        return SavedState(path=run_dir / LAST, record=document, contents=document)

    def build(self, setup: RunSetup, saved: SavedState | None) -> TorchBackend:
        return TorchBackend(setup, saved)


PYTORCH = PyTorch()


class TorchBackend:
    """A GPT and its AdamW in PyTorch, trained by the loop (a `backend.TrainingBackend`)."""

    def __init__(self, setup: RunSetup, saved: SavedState | None) -> None:
        from week3_model import GPT

        cfg, parallel, train = setup.cfg, setup.parallel, setup.cfg.train
        self.setup = setup
        self.last_path = setup.run_dir / LAST
        self.device = parallel.device(cfg.run.device)
        self.model = GPT(cfg.model).to(self.device)  # the same initial weights on every rank
        if train.activation_checkpointing:  # changes how Blocks are called, not their weights
            checkpoint_blocks(self.model)
        if parallel.rank > 0:  # its own dropout masks, as it has its own batches
            seed_everything(stream_seed(cfg.run.seed, parallel.rank))
        self.optimizer = build_optimizer(self.model, train, self.device)
        self.scaler = make_scaler(self.device, train.dtype)
        # evaluation runs the plain (or compiled) model; training goes through the wrapper, which
        # with several processes averages the gradients across them. (torch.compile of a module
        # returns a module, an OptimizedModule, though its type hints say only "a callable".)
        self.eval_model: nn.Module = torch.compile(self.model) if train.compile else self.model  # type: ignore[assignment]
        self.forward_model = parallel.wrap(self.eval_model)
        if saved is not None:
            self._restore(saved)

    def _restore(self, saved: SavedState) -> None:
        document, where = saved.contents, saved.path
        load_model_state(self.model, document["model"], where)
        try:
            self.optimizer.load_state_dict(document["optimizer"])
            if document["scaler"]:
                self.scaler.load_state_dict(document["scaler"])
            rank = self.setup.parallel.rank
            own = document["ranks"][rank] if "ranks" in document else document
            self.setup.sampler.load_state_dict(own["sampler"])
            set_rng_state(own["rng"])
        except (KeyError, IndexError, TypeError, ValueError, RuntimeError) as error:
            raise CourseError(
                f"{where}: damaged checkpoint: its training state does not load "
                f"({type(error).__name__}: {error})"
            ) from None

    def describe(self) -> str:
        setup, data = self.setup, self.setup.data
        line = (
            f"run {setup.run_dir}: {self.model.num_parameters() / 1e6:.2f}M parameters, "
            f"device {self.device}, dtype {setup.cfg.train.dtype}, tokenizer vocab "
            f"{setup.tokenizer.vocab_size}, {len(data.train.tokens):,} training tokens "
            f"({'encoded now' if data.rebuilt else 'cached'}: {data.folder})"
        )
        note = slow_precision_note(self.device, setup.cfg.train.dtype)
        return f"{line}\n{note}" if note else line

    # ------------------------------------------------------------------ a step, an evaluation

    def train_step(self, step: int, lr: float) -> dict[str, float]:
        train = self.setup.cfg.train
        set_learning_rate(self.optimizer, lr)
        sampler = self.setup.sampler
        batches = [sampler.next_batch(self.device) for _ in range(train.grad_accum_steps)]
        result = optimizer_step(
            self.forward_model,
            self.optimizer,
            self.scaler,
            batches,
            grad_clip=train.grad_clip,  # the grads are averaged already: this is the global norm
            precision=autocast(self.device, train.dtype),
            no_sync=partial(self.setup.parallel.no_sync, self.forward_model),
        )
        # every rank sees, and judges, the same loss
        numbers = {"loss": self._mean_over_ranks(result.loss), "grad_norm": result.grad_norm}
        if self.scaler.is_enabled():
            numbers.update(scale=self.scaler.get_scale(), skipped=result.skipped)
        return numbers

    def _mean_over_ranks(self, value: float) -> float:
        parallel = self.setup.parallel
        if parallel.world_size == 1:
            return value
        total = parallel.all_reduce_sum(torch.tensor([value], dtype=torch.float64))
        return float(total[0]) / parallel.world_size

    def evaluate(self, max_windows: int | None = None) -> EvalResult:
        cfg = self.setup.cfg
        return evaluate(
            self.eval_model,
            self.setup.data.val,
            block_size=cfg.model.block_size,
            batch_size=cfg.train.batch_size,
            device=self.device,
            dtype=cfg.train.dtype,
            parallel=self.setup.parallel,
            max_windows=max_windows,
        )

    # ------------------------------------------------------------------ checkpoints

    def save(self, state: LoopState, *, best: bool) -> None:
        """Every rank calls this (it gathers each rank's streams); rank 0 writes the files."""
        payload = self.checkpoint(state)
        if self.setup.parallel.is_main:
            if best:
                save_checkpoint(self.setup.run_dir / BEST, payload)
            save_checkpoint(self.last_path, payload)

    def checkpoint(self, state: LoopState) -> dict:
        """The checkpoint payload (see `week4_training.checkpoint`).

        With several processes it holds every rank's batch generator and random states under
        `ranks`; each rank's own are gathered here, so every rank must call this.
        """
        # BEGIN TASK 4.6 [Checkpoints and resume]: everything a resume needs, in one dict
        parallel = self.setup.parallel
        own = {"sampler": self.setup.sampler.state_dict(), "rng": rng_state()}
        ranks = parallel.gather(own)
        extra = {"ranks": ranks} if parallel.world_size > 1 else {}
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict() if self.scaler.is_enabled() else None,
            **own,
            **extra,
            "world_size": parallel.world_size,
            **state.record(),
            "config": self.setup.cfg.to_dict(),
            "tokenizer": tokenizer_record(self.setup.tokenizer),
        }
        # END TASK 4.6

    # ------------------------------------------------------------------ samples

    def draw_samples(self, step: int, n_tokens: int) -> str:
        """A short text from the best model, so a run shows what it learned.

        The best model is checkpoint.pt's weights (the last ones may be worse), loaded into a copy
        of the model: copying draws no random numbers, so no random stream of the run moves.
        """
        cfg, tokenizer = self.setup.cfg, self.setup.tokenizer
        model, best_step, source = self._best_model(step)
        prompt = [tokenizer.eot_id] if tokenizer.eot_id is not None else [0]
        ids = sample_ids(
            model,
            prompt,
            n_tokens,
            block_size=cfg.model.block_size,
            seed=cfg.run.seed,
            device=self.device,
        )
        header = f"# step {best_step} ({source}), temperature 0.8, {n_tokens} tokens"
        return f"{header}\n{tokenizer.decode(ids)}\n"

    def _best_model(self, step: int) -> tuple[nn.Module, int, str]:
        """(model, step, what it is) of checkpoint.pt; the last weights if there is none yet."""
        path = self.setup.run_dir / BEST
        if not path.is_file():
            return self.model, step, f"the last weights: no {BEST} was saved"
        document = read_checkpoint(path)
        best = copy.deepcopy(self.model)
        load_model_state(best, document["model"], path)
        return best, document["step"], f"{BEST}, the best by validation loss"
