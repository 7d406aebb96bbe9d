"""The plain training loop the course's Trainer is timed against: what nanoGPT's train.py does.

    for step in 0 .. max_iters:
        every eval_interval steps (and at the end): estimate the loss of each split from
            eval_iters random batches; save a checkpoint when the validation estimate improved
        lr = warmup + cosine;  forward, backward (accumulated), clip, AdamW step, zero grads

Everything a training run needs and nothing more: no metrics file, no resume, no exact
evaluation, no progress bar. It trains the course's GPT built from the run config, with
`torch.optim.AdamW` in nanoGPT's two groups (weight decay on tensors of dim >= 2 only), fused
only on CUDA as nanoGPT does, and draws its training batches exactly as the course's sampler
does (same seed, same windows), so the two differ only in what the course adds around a step.

The validation figure is an *estimate*: the mean loss of `eval_iters` (nanoGPT's default for
this model: 20) batches at random offsets, for the training and the validation split, a fresh
draw every time. The course walks the whole validation split instead (week 4's `evaluate`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from shared.config import Config
from shared.device import autocast, seed_everything
from shared.errors import CourseError
from week3_model import GPT

EVAL_ITERS = 20  # nanoGPT's eval_iters for the shakespeare baby model (configs/baby.yaml)


@dataclass
class PlainResult:
    """What the loop saw: training losses at log steps, and the estimates at eval steps."""

    train_losses: list[tuple[int, float]] = field(default_factory=list)
    estimates: list[tuple[int, dict[str, float]]] = field(default_factory=list)


def plain_lr(step: int, lr: float, min_lr: float, warmup: int, decay_until: int) -> float:
    """Linear warmup to `lr`, then a cosine down to `min_lr` at step `decay_until`, then flat."""
    if step < warmup:
        return lr * (step + 1) / warmup
    if step >= decay_until:
        return min_lr
    progress = (step - warmup) / (decay_until - warmup)
    return min_lr + 0.5 * (lr - min_lr) * (1 + math.cos(math.pi * progress))


def random_batch(
    tokens: np.ndarray, block_size: int, batch_size: int, generator: torch.Generator
) -> tuple[Tensor, Tensor]:
    """(x, y) of `batch_size` windows at random offsets; y is x shifted by one token."""
    starts = torch.randint(len(tokens) - block_size, (batch_size,), generator=generator).tolist()
    rows = [torch.from_numpy(tokens[s : s + block_size + 1].astype(np.int64)) for s in starts]
    window = torch.stack(rows)
    return window[:, :-1], window[:, 1:]


class PlainLoop:
    """A model, its AdamW and two batch streams, from a run config whose vocab_size is set."""

    def __init__(
        self,
        cfg: Config,
        train_tokens: np.ndarray,
        val_tokens: np.ndarray,
        device: torch.device | str = "cpu",
        eval_iters: int = EVAL_ITERS,
    ) -> None:
        train = cfg.train
        if train.dtype == "float16":
            raise CourseError(
                "plain loop: train.dtype float16 needs a GradScaler; allowed: float32, bfloat16"
            )
        self.cfg, self.eval_iters = cfg, eval_iters
        self.device = torch.device(device)
        self.splits = {"train": train_tokens, "val": val_tokens}
        seed_everything(cfg.run.seed)  # the same initial weights as the course's run
        self.model = GPT(cfg.model).to(self.device).train()
        params = [p for p in self.model.parameters() if p.requires_grad]
        groups = [
            {"params": [p for p in params if p.dim() >= 2], "weight_decay": train.weight_decay},
            {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
        ]
        self.optimizer = torch.optim.AdamW(
            groups,
            lr=train.lr,
            betas=(train.beta1, train.beta2),
            fused=self.device.type == "cuda",
        )
        self.train_generator = torch.Generator().manual_seed(cfg.run.seed)
        self.eval_generator = torch.Generator().manual_seed(cfg.run.seed + 1)

    def lr_at(self, step: int) -> float:
        train = self.cfg.train
        assert train.warmup_iters is not None and train.lr_decay_iters is not None  # resolved
        return plain_lr(step, train.lr, train.min_lr, train.warmup_iters, train.lr_decay_iters)

    def batch(self, split: str, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        block, size = self.cfg.model.block_size, self.cfg.train.batch_size
        x, y = random_batch(self.splits[split], block, size, generator)
        return x.to(self.device), y.to(self.device)

    def step(self, step: int) -> Tensor:
        """One optimizer step at lr(step); returns the last micro-batch's loss (a tensor)."""
        train = self.cfg.train
        for group in self.optimizer.param_groups:
            group["lr"] = self.lr_at(step)
        for _ in range(train.grad_accum_steps):
            x, y = self.batch("train", self.train_generator)
            with autocast(self.device, train.dtype):
                _, loss = self.model(x, y)
            assert loss is not None  # targets were given
            (loss / train.grad_accum_steps).backward()
        if train.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), train.grad_clip)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return loss.detach()

    @torch.no_grad()
    def estimate_loss(self) -> dict[str, float]:
        """Mean loss of `eval_iters` random batches per split, in eval mode (nanoGPT's way)."""
        self.model.eval()
        means = {}
        for split in self.splits:
            losses = torch.zeros(self.eval_iters)
            for k in range(self.eval_iters):
                x, y = self.batch(split, self.eval_generator)
                with autocast(self.device, self.cfg.train.dtype):
                    _, loss = self.model(x, y)
                assert loss is not None
                losses[k] = loss.item()
            means[split] = float(losses.mean())
        self.model.train()
        return means

    def run(self, out_dir: Path) -> PlainResult:
        """Train max_iters steps; estimate at step 0, every eval_interval and at the end; write
        `out_dir/ckpt.pt` whenever the validation estimate improves (not at step 0)."""
        train, result, best = self.cfg.train, PlainResult(), math.inf
        for step in range(train.max_iters + 1):
            if step % train.eval_interval == 0 or step == train.max_iters:
                losses = self.estimate_loss()
                result.estimates.append((step, losses))
                if losses["val"] < best:
                    best = losses["val"]
                    if step > 0:
                        self.save(out_dir / "ckpt.pt", step, best)
            if step < train.max_iters:
                loss = self.step(step)
                if (step + 1) % train.log_interval == 0:
                    result.train_losses.append((step + 1, loss.item()))
        return result

    def save(self, path: Path, step: int, best_val_loss: float) -> None:
        checkpoint = {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "step": step,
            "best_val_loss": best_val_loss,
            "config": self.cfg.to_dict(),
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(checkpoint, path)
