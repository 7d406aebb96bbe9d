"""Training speed: tokens per second and peak memory of one optimizer step, per variant.

One case = one model variant (attention, position, precision, torch.compile, activation
checkpointing: checkpointing.py measures that one) at one block size, trained with week 4's
`optimizer_step` on a fixed random batch (speed does not depend on what the tokens say). The
shape is the course's baby model: 4 layers, 4 heads, 128 wide, batch 12. The baseline of each
block size is week 3's model as written: naive attention, learned positions, float32, no
compile. The cases of one block size are built side by side and their steps
timed in interleaved rounds (`shared.bench.interleaved`), each ratio computed within a round.
Peak memory is measured once per case, over its warm-up steps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, TypedDict

import torch
from torch import nn
from tqdm import tqdm

from shared.bench import interleaved, make_row, single_ratio, timed_rows
from shared.device import autocast
from week3_model import GPT, GPTConfig
from week4_training.checkpointing import checkpoint_blocks
from week4_training.optim import make_optimizer
from week4_training.step import make_scaler, optimizer_step
from week6_optimizations.bench.memory import peak_memory_mb


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
    activation_checkpointing: bool = False
    n_layer: int = BABY["n_layer"]
    n_head: int = BABY["n_head"]
    n_embd: int = BABY["n_embd"]
    batch_size: int = BABY["batch_size"]
    vocab_size: int = BABY["vocab_size"]

    @property
    def label(self) -> str:
        parts = [self.attention, self.position, self.dtype]
        parts += ["compile"] if self.compile else []
        return " ".join(parts + (["checkpointed"] if self.activation_checkpointing else []))

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
    if case.activation_checkpointing:
        checkpoint_blocks(model)
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
    cases: list[TrainCase], device: torch.device, rounds: int, warmup: int
) -> list[dict]:
    """Per block size: peak memory of each case, then its steps interleaved over `rounds`.

    Rows come per case, in the order given: tokens/s, then peak memory, each with its ratio
    against the block size's baseline case (memory: how many times less it needed).
    """
    rows: list[dict] = []
    for block_size in dict.fromkeys(case.block_size for case in cases):
        group = [case for case in cases if case.block_size == block_size]
        rows += block_rows(group, device, rounds, warmup)
    return rows


def block_rows(
    cases: list[TrainCase], device: torch.device, rounds: int, warmup: int
) -> list[dict]:
    """The rows of `training_rows_for` for cases of one block size, baseline first."""
    name = f"block {cases[0].block_size}"
    steps: dict[str, Callable[[], None]] = {}
    memory: dict[str, tuple[float | None, str]] = {}
    failed: dict[str, str] = {}
    for case in tqdm(cases, desc=f"training cases, {name}", leave=False):
        try:
            steps[case.label] = build_step(case, device)
            memory[case.label] = warm_up(steps[case.label], max(warmup, 1), device)
        except Exception as error:  # torch.compile needs a working C++ compiler (and Triton on GPU)
            if not case.compile:
                raise
            steps.pop(case.label, None)
            first_line = str(error).strip().splitlines()[0][:120]
            failed[case.label] = f"n/a: {type(error).__name__}: {first_line}"
    base = cases[0].label
    tokens = cases[0].batch_size * cases[0].block_size
    note = f"batch {cases[0].batch_size}, one optimizer step per round"
    seconds = interleaved(steps, rounds, warmup=0)
    speed = timed_rows("training", name, seconds, base, amount=tokens, unit="tokens/s", note=note)
    speed_of = {row["impl"]: row for row in speed}
    rows = []
    for case in cases:
        if case.label in failed:
            note = failed[case.label]
            rows.append(make_row("training", name, case.label, None, "tokens/s", note=note))
        else:
            rows += [speed_of[case.label], memory_row(name, case.label, memory, base)]
    return rows


def warm_up(step: Callable[[], None], steps: int, device: torch.device) -> tuple[float | None, str]:
    """Run the warm-up steps (torch.compile compiles in the first); their peak memory."""

    def work() -> None:
        for _ in range(steps):
            step()

    return peak_memory_mb(work, device)


def memory_row(
    case: str, label: str, memory: dict[str, tuple[float | None, str]], base: str
) -> dict[str, Any]:
    """The peak memory row of `label`, its ratio "times less than the baseline" if measured."""
    mb, kind = memory[label]
    base_mb = memory[base][0]
    if mb is None or base_mb is None or mb <= 0 or base_mb <= 0:
        return make_row("training memory", case, label, mb, "MB", note=kind)
    ratio = single_ratio(base_mb / mb)
    note = f"{kind}, once; ratio: times less than the reference"
    return make_row(
        "training memory", case, label, mb, "MB", reference=base, ratio=ratio, note=note
    )
