"""Activation checkpointing: peak memory and speed of a training step with it and without it.

Two cases of one model, built side by side: week 3's model as written (naive attention, learned
positions, float32) trained plainly, the reference, and the same model with
`train.activation_checkpointing` (week 4's checkpointing.py: each Block recomputed in backward).
Each takes one untimed step first (AdamW's state exists from then on), then the two alternate
in rounds, the order rotated, and every round measures both the seconds and the peak memory of
one optimizer step of each (bench/memory.py), so the memory ratio has a spread too:

    memory ratio = the plain step's MB / the checkpointed step's MB    times less, higher is better
    speed ratio  = the plain step's seconds / the checkpointed step's   below 1: the recompute

The model is deep and its context long for a CPU (8 layers, block 256), because activations
grow with n_layer x batch x block_size (naive attention's weights with block_size squared) while
weights, gradients and AdamW's state do not: that is where checkpointing pays.

On a Linux CPU the memory is measured twice. Peak RSS growth in this process is what the
machine gives up, allocator and all; but glibc's malloc raises its mmap threshold as large blocks
are freed (up to 32 MiB), after which freed tensors stay in its heap, and the recompute's pattern
of allocations leaves that heap larger than the tensors alive in it. A fresh process started
with the threshold fixed (MALLOC_MMAP_THRESHOLD_, ONE_MAPPING_PER_TENSOR) maps every tensor of
128 KiB or more on its own and unmaps it when it is freed, so its peak RSS growth is close to the
peak of the tensors alive at once: what checkpointing saves in principle, and what CUDA's
`max_memory_allocated` reports on a GPU.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace

import torch

from shared.bench import make_row, summarize_ratios, timed_rows
from week6_optimizations.bench.memory import peak_memory_mb, rss_peak_supported
from week6_optimizations.bench.training import ModelShape, TrainCase, build_step

DEEP: ModelShape = {"n_layer": 8, "n_head": 4, "n_embd": 128, "batch_size": 16, "vocab_size": 1024}
DEEP_BLOCK = 256
QUICK: ModelShape = {"n_layer": 2, "n_head": 2, "n_embd": 32, "batch_size": 4, "vocab_size": 256}
QUICK_BLOCK = 64
PLAIN, CHECKPOINTED = "plain", "activation checkpointing"
ONE_MAPPING_PER_TENSOR = {"MALLOC_MMAP_THRESHOLD_": "131072"}  # glibc reads it at start-up


def plan(quick: bool) -> tuple[ModelShape, int, int]:
    """(shape, block size, rounds) of the full bench or of the quick one."""
    return (QUICK, QUICK_BLOCK, 3) if quick else (DEEP, DEEP_BLOCK, 7)


def timed(step: Callable[[], None], clock: list[float]) -> Callable[[], None]:
    """`step`, appending the seconds of each call to `clock`."""

    def run() -> None:
        start = time.perf_counter()
        step()
        clock.append(time.perf_counter() - start)

    return run


def measured_rounds(
    steps: dict[str, Callable[[], None]], rounds: int, device: torch.device
) -> tuple[dict[str, list[float]], dict[str, list[float | None]], str]:
    """Seconds and peak MB of each step in each round (the order rotated from round to round),
    and what the memory figure is (bench/memory.py)."""
    names = list(steps)
    seconds: dict[str, list[float]] = {name: [] for name in names}
    megabytes: dict[str, list[float | None]] = {name: [] for name in names}
    kind = ""
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            mb, kind = peak_memory_mb(timed(steps[name], seconds[name]), device)
            megabytes[name].append(mb)
    return seconds, megabytes, kind


def checkpointing_rows_for(
    shape: ModelShape, block_size: int, device: torch.device, rounds: int
) -> list[dict]:
    """A tokens/s row and a peak-memory row per case, each against the plain step."""
    plain = TrainCase(block_size, **shape)
    cases = {PLAIN: plain, CHECKPOINTED: replace(plain, activation_checkpointing=True)}
    steps = {name: build_step(case, device) for name, case in cases.items()}
    for step in steps.values():
        step()  # warm-up, untimed: AdamW allocates its moments in the first step
    seconds, megabytes, kind = measured_rounds(steps, rounds, device)
    case = f"{shape['n_layer']} layers, block {block_size}, batch {shape['batch_size']}"
    note = f"{plain.label}, one optimizer step per round"
    tokens = shape["batch_size"] * block_size
    rows = timed_rows("training", case, seconds, PLAIN, amount=tokens, unit="tokens/s", note=note)
    for name, values in megabytes.items():
        rows.append(memory_row(case, name, values, megabytes[PLAIN], kind))
    return rows


def memory_row(
    case: str, name: str, values: list[float | None], reference: list[float | None], kind: str
) -> dict:
    """The median peak MB of `name`, and per round "times less than the plain step"."""
    measured = [v for v in values if v is not None and v > 0]
    base = [v for v in reference if v is not None and v > 0]
    if len(measured) < len(values) or len(base) < len(reference) or not measured:
        return make_row("training memory", case, name, None, "MB", note=kind)
    ratio = summarize_ratios([b / v for b, v in zip(base, measured, strict=True)])
    note = f"{kind} of one step, every round; ratio: times less than {PLAIN}"
    return make_row(
        "training memory",
        case,
        name,
        statistics.median(measured),
        "MB",
        reference=PLAIN,
        ratio=ratio,
        note=note,
    )


def one_mapping_memory_rows(quick: bool) -> list[dict]:
    """The memory rows of this process, named as the fresh process's (see the module
    docstring); what `fresh_process_memory_rows` runs in the child."""
    shape, block_size, rounds = plan(quick)
    rows = checkpointing_rows_for(shape, block_size, torch.device("cpu"), rounds)
    setting = ", ".join(f"{key}={value}" for key, value in ONE_MAPPING_PER_TENSOR.items())
    return [
        row
        | {"case": row["case"] + ", one mapping per tensor", "note": f"{row['note']} ({setting})"}
        for row in rows
        if row["section"] == "training memory"
    ]


def fresh_process_memory_rows(quick: bool) -> list[dict]:
    """`one_mapping_memory_rows` in a new Python process started with ONE_MAPPING_PER_TENSOR,
    on as many threads as this one."""
    code = (
        "import json, torch\n"
        f"torch.set_num_threads({torch.get_num_threads()})\n"
        "from week6_optimizations.bench.checkpointing import one_mapping_memory_rows\n"
        f"print(json.dumps(one_mapping_memory_rows({quick})))\n"
    )
    env = os.environ | ONE_MAPPING_PER_TENSOR
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return list(json.loads(out.stdout.splitlines()[-1]))


def activation_checkpointing_rows(quick: bool, device: torch.device) -> list[dict]:
    """The provider's rows: speed and memory in this process, and on a Linux CPU with glibc the
    memory again in a fresh process that maps each tensor on its own."""
    shape, block_size, rounds = plan(quick)
    rows = checkpointing_rows_for(shape, block_size, device, rounds)
    glibc = platform.libc_ver()[0] == "glibc"
    if device.type == "cpu" and glibc and rss_peak_supported():
        rows += fresh_process_memory_rows(quick)
    return rows
