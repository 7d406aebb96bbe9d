"""`make bench`'s activation-checkpointing rows (bench/checkpointing.py): both cases measured in
every round, memory ratios with a spread, and the fresh process that maps each tensor alone."""

from __future__ import annotations

import subprocess

import pytest
import torch

from shared.bench import ROW_KEYS
from week6_optimizations.bench import checkpointing
from week6_optimizations.bench.checkpointing import (
    CHECKPOINTED,
    ONE_MAPPING_PER_TENSOR,
    PLAIN,
    activation_checkpointing_rows,
    checkpointing_rows_for,
    fresh_process_memory_rows,
    one_mapping_memory_rows,
)
from week6_optimizations.bench.rows import ROW_PROVIDERS
from week6_optimizations.bench.training import TrainCase

CPU = torch.device("cpu")
SMALL = {"n_layer": 2, "n_head": 2, "n_embd": 16, "batch_size": 2, "vocab_size": 32}


@pytest.fixture
def small_plan(monkeypatch):
    monkeypatch.setattr(checkpointing, "plan", lambda quick: (SMALL, 8, 2))


def test_a_checkpointed_case_is_labelled_and_recomputes():
    case = TrainCase(8, activation_checkpointing=True, **SMALL)
    assert case.label == "naive learned float32 checkpointed" and not case.is_baseline


def test_rows_compare_speed_and_memory_with_the_plain_step_in_every_round(monkeypatch):
    # the steps run for real; their memory is a fixed figure, since a model this small may
    # grow the resident set by nothing at all (a row without a ratio, which the next test covers)
    def fixed_figure(work, device):
        work()
        return 8.0, "peak RSS growth"

    monkeypatch.setattr(checkpointing, "peak_memory_mb", fixed_figure)
    rows = checkpointing_rows_for(SMALL, 8, CPU, rounds=2)
    assert [(r["section"], r["impl"]) for r in rows] == [
        ("training", PLAIN),
        ("training", CHECKPOINTED),
        ("training memory", PLAIN),
        ("training memory", CHECKPOINTED),
    ]
    assert all(tuple(r) == ROW_KEYS for r in rows)
    assert {r["case"] for r in rows} == {"2 layers, block 8, batch 2"}
    assert all(r["reference"] == PLAIN and r["rounds"] == 2 for r in rows)
    assert rows[0]["ratio"] == 1.0 and rows[1]["value"] > 0


def test_the_memory_ratio_is_times_less_per_round(monkeypatch):
    measured = iter([(100.0, "peak RSS growth"), (20.0, "peak RSS growth")] * 2)
    monkeypatch.setattr(
        checkpointing, "peak_memory_mb", lambda work, device: (work(), next(measured))[1]
    )
    rows = checkpointing_rows_for(SMALL, 8, CPU, rounds=2)
    plain, recomputed = (r for r in rows if r["section"] == "training memory")
    # round 0 measures plain then checkpointed, round 1 the other way round
    assert plain["value"] == 60.0 and recomputed["value"] == 60.0
    assert (recomputed["ratio_min"], recomputed["ratio_max"]) == (0.2, 5.0)


def test_memory_that_could_not_be_measured_is_a_row_that_says_so(monkeypatch):
    def not_measured(work, device):
        work()  # as bench/memory.py does where it cannot measure: the step runs, unmeasured
        return None, "n/a: why"

    monkeypatch.setattr(checkpointing, "peak_memory_mb", not_measured)
    rows = checkpointing_rows_for(SMALL, 8, CPU, rounds=1)
    memory = [r for r in rows if r["section"] == "training memory"]
    assert all(r["value"] is None and r["note"] == "n/a: why" for r in memory)


def test_the_one_mapping_rows_say_how_they_were_measured(small_plan):
    rows = one_mapping_memory_rows(quick=True)
    assert [r["impl"] for r in rows] == [PLAIN, CHECKPOINTED]
    assert all(r["case"].endswith(", one mapping per tensor") for r in rows)
    assert all("MALLOC_MMAP_THRESHOLD_=131072" in r["note"] for r in rows)


def test_the_fresh_process_gets_the_fixed_threshold_and_this_processs_threads(monkeypatch):
    seen = {}

    def run(args, env, capture_output, text, check):
        seen.update(args=args, env=env)
        return subprocess.CompletedProcess(args, 0, stdout='noise\n[{"impl": "plain"}]\n')

    monkeypatch.setattr(checkpointing.subprocess, "run", run)
    assert fresh_process_memory_rows(quick=True) == [{"impl": "plain"}]
    assert seen["env"]["MALLOC_MMAP_THRESHOLD_"] == ONE_MAPPING_PER_TENSOR["MALLOC_MMAP_THRESHOLD_"]
    code = seen["args"][-1]
    assert f"set_num_threads({torch.get_num_threads()})" in code
    assert "one_mapping_memory_rows(True)" in code


def test_the_provider_adds_the_fresh_processs_rows_on_a_linux_cpu(small_plan, monkeypatch):
    monkeypatch.setattr(checkpointing, "fresh_process_memory_rows", lambda quick: ["fresh"])
    rows = activation_checkpointing_rows(quick=True, device=CPU)
    assert len(rows) == 5 and rows[-1] == "fresh"
    assert "checkpointing" in ROW_PROVIDERS
