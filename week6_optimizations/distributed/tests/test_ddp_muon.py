"""Muon under DDP: two gloo processes train like one process on the union of their batches.

DDP averages the gradients during backward, so each rank's Muon orthogonalises the same update.
"""

from __future__ import annotations

import pytest

from week4_training.checkpoint import read_checkpoint
from week6_optimizations.distributed.tests.test_ddp_two_processes import (
    deterministic_rows,
    max_parameter_difference,
    union_run,
)

MUON = ("train.optimizer=muon", "train.grad_accum_steps=2")  # no_sync, then one all-reduce


@pytest.fixture(scope="module")
def two_processes(workspace):
    args = ("--config", str(workspace.config_file), "run.name=muon2", *MUON)
    done = workspace.torchrun(2, *args)
    assert done.returncode == 0, done.stderr[-3000:]
    return workspace.runs / "muon2"


def test_two_muon_processes_train_like_one_process_on_the_union_batch(workspace, two_processes):
    saved = read_checkpoint(two_processes / "last.pt")
    assert saved["config"]["train"]["optimizer"] == "muon" and saved["world_size"] == 2
    assert saved["optimizer"]["param_groups"][0]["use_muon"]  # the ranks trained with Muon
    reference = union_run(workspace, "muon_union", *MUON)
    difference = max_parameter_difference(two_processes, reference)
    print(f"muon, accumulation 2: max |parameter difference| = {difference:.3g}")
    assert difference < 1e-5  # the order of the additions in the all-reduce, nothing else
    two, one = deterministic_rows(two_processes), deterministic_rows(reference)
    assert [r["step"] for r in two] == [r["step"] for r in one]
    for a, b in zip(two, one, strict=True):
        for key in a:
            assert a[key] == pytest.approx(b[key], rel=1e-4, abs=1e-6), (a["step"], key)
