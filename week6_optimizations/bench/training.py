"""Training speed: tokens per second and peak memory of one optimizer step, per variant.

One case = one model variant (attention, position, precision, torch.compile) at one block size,
trained with week 4's `optimizer_step` on a fixed random batch (speed does not depend on what the
tokens say). The shape is the course's baby model: 4 layers, 4 heads, 128 wide, batch 12. The
baseline of each block size is week 3's model as written: naive attention, learned positions,
float32, no compile; every ratio is against it, measured in the same run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TypedDict

import torch
from torch import nn
from tqdm import tqdm

from shared.bench import median_seconds
from shared.device import autocast
from week3_model import GPT, GPTConfig
from week4_training.optim import make_optimizer
from week4_training.step import make_scaler, optimizer_step
from week6_optimizations.bench.memory import peak_memory_mb
from week6_optimizations.bench.rows import make_row


class ModelShape(TypedDict):
    """The size of a benchmarked model and of its batches."""

    n_layer: int
    n_head: int
    n_embd: int
    batch_size: int
    vocab_size: int


BABY: ModelShape = {"n_layer": 4, "n_head": 4, "n_embd": 128, "batch_size": 12, "vocab_size": 1024}


@dataclass(frozen=True)
class TrainCase:
    """One measured training configuration."""

    block_size: int
    attention: str = "naive"
    position: str = "learned"
    dtype: str = "float32"
    compile: bool = False
    n_layer: int = BABY["n_layer"]
    n_head: int = BABY["n_head"]
    n_embd: int = BABY["n_embd"]
    batch_size: int = BABY["batch_size"]
    vocab_size: int = BABY["vocab_size"]

    @property
    def label(self) -> str:
        parts = [self.attention, self.position, self.dtype]
        return " ".join(parts + (["compile"] if self.compile else []))

    @property
    def is_baseline(self) -> bool:
        return self.label == TrainCase(self.block_size).label


def build_step(case: TrainCase, device: torch.device) -> Callable[[], None]:
    """A model, optimizer and fixed batch for `case`, and a function doing one optimizer step."""
    torch.manual_seed(0)
    config = GPTConfig(
        vocab_size=case.vocab_size,
        block_size=case.block_size,
        n_layer=case.n_layer,
        n_head=case.n_head,
        n_embd=case.n_embd,
        attention=case.attention,
        position=case.position,
    )
    model = GPT(config).to(device).train()
    optimizer = make_optimizer(model, lr=1e-3, weight_decay=0.1, betas=(0.9, 0.99), device=device)
    # torch.compile of a module returns a module, though its type hints say only "a callable"
    runner: nn.Module = torch.compile(model) if case.compile else model  # type: ignore[assignment]
    scaler = make_scaler(device, case.dtype)
    shape = (case.batch_size, case.block_size + 1)
    data = torch.randint(0, case.vocab_size, shape, device=device)
    batch = [(data[:, :-1], data[:, 1:])]

    def step() -> None:
        optimizer_step(
            runner,
            optimizer,
            scaler,
            batch,
            grad_clip=1.0,
            precision=autocast(device, case.dtype),
        )
        if device.type == "cuda":  # pragma: no cover - needs a GPU
            torch.cuda.synchronize(device)

    return step


def measure_training(
    case: TrainCase, device: torch.device, repeats: int, warmup: int
) -> tuple[float, float | None, str]:
    """(tokens per second, peak extra memory in MB or None, what the memory figure is)."""
    step = build_step(case, device)
    seconds: list[float] = []
    memory, memory_kind = peak_memory_mb(
        lambda: seconds.append(median_seconds(step, repeats=repeats, warmup=warmup)), device
    )
    return case.batch_size * case.block_size / seconds[0], memory, memory_kind


def training_cases(block_sizes: list[int], full: bool) -> list[TrainCase]:
    """Baseline first. Full: naive/sdpa x learned/rope x float32/bfloat16, then compile rows."""
    cases = []
    for block_size in block_sizes:
        base = TrainCase(block_size)
        grid = [base, replace(base, attention="sdpa")]
        if full:
            grid = [
                replace(base, attention=a, position=p, dtype=d)
                for d in ("float32", "bfloat16")
                for p in ("learned", "rope")
                for a in ("naive", "sdpa")
            ]
            grid += [replace(base, compile=True), replace(base, attention="sdpa", compile=True)]
        cases += grid
    return cases


def training_rows_for(
    cases: list[TrainCase], device: torch.device, repeats: int, warmup: int
) -> list[dict]:
    """Measure each case; one tokens/s row and one memory row per case, ratios vs its baseline."""
    rows: list[dict] = []
    baselines: dict[tuple[str, int], float | None] = {}
    for case in tqdm(cases, desc="training cases", leave=False):
        name = f"block {case.block_size}"
        try:
            speed, memory, memory_kind = measure_training(case, device, repeats, warmup)
        except Exception as error:  # torch.compile needs a working C++ compiler (and Triton on GPU)
            if not case.compile:
                raise
            reason = f"n/a: {type(error).__name__}: {str(error).strip().splitlines()[0][:120]}"
            rows.append(make_row("training", name, case.label, None, "tokens/s", note=reason))
            continue
        for section, value, unit, note in (
            ("training", speed, "tokens/s", f"batch {case.batch_size}, median step"),
            ("training memory", memory, "MB", memory_kind),
        ):
            if case.is_baseline:
                baselines[(section, case.block_size)] = value
            base = baselines.get((section, case.block_size))
            ratio = value / base if value is not None and base else None
            rows.append(make_row(section, name, case.label, value, unit, ratio=ratio, note=note))
    return rows
