"""The bench hook: the bench's row keys, MLX and PyTorch interleaved, ratios against PyTorch."""

from __future__ import annotations

import sys

import pytest

from week6_optimizations.bench.rows import ROW_KEYS
from week6_optimizations.mlx_port import MLX_MISSING, bench

TINY = {"n_layer": 1, "n_head": 2, "n_embd": 16, "batch_size": 2, "vocab_size": 64}


def test_rows_measure_both_frameworks_with_ratios_against_pytorch():
    rows = bench.rows_for(16, TINY, "tiny", [("mlx eager", False)], rounds=1, warmup=1)
    assert [(r["case"].split(",")[-1].strip(), r["impl"]) for r in rows] == [
        ("batch 2", "torch"),
        ("batch 2", "mlx eager"),
        ("kv cache", "torch"),
        ("kv cache", "mlx"),
    ]
    for row in rows:
        assert tuple(row) == ROW_KEYS and row["value"] > 0 and row["unit"] == "tokens/s"
        assert row["reference"] == "torch"
    torch_train, mlx_train = rows[0]["value"], rows[1]["value"]
    # one round: the ratio within the round is the ratio of the speeds
    assert rows[1]["ratio"] == pytest.approx(mlx_train / torch_train) and rows[0]["ratio"] == 1.0


def test_rounds_interleave_pytorch_and_mlx(monkeypatch):
    seen = []

    def fake_interleaved(work, rounds, warmup):
        seen.append((list(work), rounds, warmup))
        return {name: [1.0] * rounds for name in work}

    monkeypatch.setattr(bench, "interleaved", fake_interleaved)
    rows = bench.rows_for(16, TINY, "tiny", [("mlx eager", False)], rounds=3, warmup=2)
    assert seen == [(["torch", "mlx eager"], 3, 2), (["torch", "mlx"], 3, 2)]
    assert all(r["rounds"] == 3 and r["reliable"] is True for r in rows)


def test_without_mlx_the_mlx_rows_say_why(monkeypatch):
    monkeypatch.setitem(sys.modules, "mlx.core", None)
    rows = bench.rows_for(16, TINY, "tiny", [("mlx eager", False)], rounds=1, warmup=0)
    assert [r["impl"] for r in rows] == ["torch", "mlx eager", "torch", "mlx"]
    missing = [r for r in rows if r["impl"] != "torch"]
    assert missing and all(r["value"] is None and r["note"] == MLX_MISSING for r in missing)
    assert all(r["value"] > 0 for r in rows if r["impl"] == "torch")
