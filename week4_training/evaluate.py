"""Exact evaluation: every validation token predicted once, in fixed windows, same number each time.

A random sample of validation batches (nanoGPT's `eval_iters`) gives a noisy estimate; this
walks the whole split instead. The stream `[eot, t1, ..., tn]` is cut into windows of
block_size + 1 tokens that overlap by one token:

    window 0: s[0 : T+1]      inputs s[0:T],      targets s[1:T+1]
    window 1: s[T : 2T+1]     inputs s[T:2T],     targets s[T+1:2T+1]      ...

so every token after the first (the eot context) is a target exactly once. A window's first
target sees one token of context, its last T; that is the price of non-overlapping, exact,
repeatable numbers (a sliding window would see more context at T times the cost). The last
window is shorter; it is padded and its padding targets are -1 (ignored).

    loss = total nats / n targets;  perplexity = exp(loss);
    bits per byte = total nats / ln 2 / n_bytes   (n_bytes: UTF-8 bytes of the target text)

An *estimate* (train.eval_iters) scores a fixed subset of these windows instead: `max_windows`
of them, evenly spaced over the split, the same ones at every evaluation, so that successive
estimates differ only because the model changed (nanoGPT draws fresh random batches each time,
which adds sampling noise to the curve). Its bits per byte divide by the bytes those windows
cover in proportion: the split's bytes x (targets scored / targets in the split), rounded.
The figures say which they are: `EvalResult.exact`.

Several processes share the walk: the batches are dealt out in turn (process r takes batches r,
r + world_size, ...), each batch's summed nats land in its own slot of a vector that an
all-reduce fills in everywhere, and `math.fsum` adds the slots. Every batch is computed exactly
as one process computes it and fsum's correctly rounded sum does not depend on the order, so
the figure is the single-process figure bit for bit, on every process.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm import tqdm

from shared.device import autocast
from week1_setup.metrics import bits_per_byte, perplexity
from week4_training.data import TokenSplit
from week4_training.parallel import SingleProcess

PROGRESS_DELAY_S = 3.0  # a quicker evaluation finishes before any bar appears


@dataclass(frozen=True)
class EvalResult:
    """Validation figures: mean loss (nats per token), perplexity, bits per byte, and the counts
    they rest on (targets evaluated, bytes of text they cover)."""

    loss: float
    perplexity: float
    bits_per_byte: float
    n_tokens: int
    n_bytes: int
    exact: bool = True  # False: an estimate from a subset of the windows

    @classmethod
    def from_nats(
        cls, total_nats: float, n_tokens: int, n_bytes: int, exact: bool = True
    ) -> EvalResult:
        """The figures of `total_nats` summed over `n_tokens` targets that cover `n_bytes`."""
        mean = total_nats / n_tokens
        return cls(
            loss=mean,
            perplexity=perplexity(mean),
            bits_per_byte=bits_per_byte(total_nats, n_bytes),
            n_tokens=n_tokens,
            n_bytes=n_bytes,
            exact=exact,
        )


def evaluation_windows(tokens: np.ndarray, block_size: int) -> tuple[Tensor, Tensor]:
    """Cut a stream into (inputs, targets), both (n_windows, block_size) int64.

    Window w covers tokens[w T : w T + T + 1]; targets past the end of the stream are -1.
    Every token but the first is a target exactly once.
    """
    n_targets = len(tokens) - 1
    if n_targets <= 0:
        raise ValueError("evaluation needs at least two tokens")
    n_windows = -(-n_targets // block_size)  # ceiling division
    padded = np.full(n_windows * block_size + 1, -1, dtype=np.int64)
    padded[: len(tokens)] = tokens
    starts = np.arange(n_windows) * block_size
    index = starts[:, None] + np.arange(block_size + 1)[None, :]
    windows = torch.from_numpy(padded[index])
    inputs = windows[:, :-1].clamp(min=0)  # padding inputs only feed ignored positions
    return inputs, windows[:, 1:]


def estimate_subset(n_windows: int, max_windows: int | None) -> np.ndarray | None:
    """The indexes of `max_windows` windows evenly spaced over `n_windows` (first and last
    included), or None when there is no limit or it covers them all (then: the exact walk)."""
    if max_windows is None or max_windows >= n_windows:
        return None
    if max_windows < 1:
        raise ValueError(f"max_windows must be positive, got {max_windows}")
    return np.unique(np.linspace(0, n_windows - 1, max_windows).round().astype(np.int64))


@torch.inference_mode()
def evaluate(
    model: nn.Module,
    val_tokens: TokenSplit,
    *,
    block_size: int,
    batch_size: int,
    device: torch.device | str = "cpu",
    dtype: str = "float32",
    parallel: SingleProcess | None = None,
    progress: bool = False,
    max_windows: int | None = None,
) -> EvalResult:
    """Loss, perplexity and bits per byte of `model` on a whole split, deterministic and exact.

    `val_tokens` is a `TokenSplit` (see `week4_training.data.encode_split`), cut into windows of
    `block_size` tokens, `batch_size` windows a forward pass, on `device` in `dtype` (the run's
    own: autocast for bfloat16 and float16). The model is put in eval mode for the walk and
    returned to the mode it was in. With a `parallel` strategy of several processes, each
    evaluates its share of the batches and all get the whole figure. `progress` shows a bar (on
    rank 0) once the walk has taken more than a few seconds. `max_windows` makes it an estimate
    from that many evenly spaced windows (see the module docstring); None: the whole split.
    """
    parallel = parallel if parallel is not None else SingleProcess()
    device = torch.device(device)
    inputs, targets = evaluation_windows(np.asarray(val_tokens.tokens), block_size)
    all_targets = int((targets >= 0).sum())
    subset = estimate_subset(len(inputs), max_windows)
    if subset is not None:
        chosen = torch.from_numpy(subset)
        inputs, targets = inputs[chosen], targets[chosen]
    starts = range(0, len(inputs), batch_size)
    batch_nats = torch.zeros(len(starts), dtype=torch.float64)
    was_training = model.training
    model.eval()
    shown = progress and parallel.is_main
    walk = tqdm(
        range(parallel.rank, len(starts), parallel.world_size),
        desc="evaluating",
        unit="batch",
        disable=not shown,
        delay=PROGRESS_DELAY_S,
        leave=False,
    )
    try:
        for b in walk:
            x = inputs[starts[b] : starts[b] + batch_size].to(device)
            y = targets[starts[b] : starts[b] + batch_size].to(device)
            with autocast(device, dtype):
                logits, _ = model(x)
            nats = F.cross_entropy(
                logits.float().flatten(0, 1), y.flatten(), ignore_index=-1, reduction="sum"
            )
            batch_nats[b] = float(nats)
    finally:
        walk.close()
        model.train(was_training)
    total_nats = math.fsum(parallel.all_reduce_sum(batch_nats).tolist())
    n_tokens = int((targets >= 0).sum())  # every process holds all the windows: no exchange
    return scored(total_nats, n_tokens, all_targets, val_tokens.n_bytes)


def scored(total_nats: float, n_tokens: int, all_targets: int, split_bytes: int) -> EvalResult:
    """The figures of `n_tokens` scored targets out of the split's `all_targets`: exact when they
    are all of them, else an estimate whose bytes are the split's in proportion."""
    if n_tokens == all_targets:
        return EvalResult.from_nats(total_nats, n_tokens, split_bytes)
    n_bytes = round(split_bytes * n_tokens / all_targets)
    return EvalResult.from_nats(total_nats, n_tokens, n_bytes, exact=False)
