"""Device choice (with availability mocked), autocast dtypes, and seeding."""

from __future__ import annotations

import random
import sys
import types

import numpy as np
import pytest
import torch

from shared import device as dev
from shared.errors import CourseError


def _availability(monkeypatch, cuda: bool, mps: bool) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(dev, "_mps_available", lambda: mps)


@pytest.mark.parametrize(
    ("cuda", "mps", "expected"),
    [(True, True, "cuda"), (False, True, "mps"), (False, False, "cpu"), (True, False, "cuda")],
)
def test_auto_prefers_cuda_then_mps_then_cpu(monkeypatch, cuda, mps, expected):
    _availability(monkeypatch, cuda, mps)
    assert dev.pick_device("auto").type == expected


def test_a_named_device_is_used_when_available(monkeypatch):
    _availability(monkeypatch, cuda=True, mps=True)
    assert dev.pick_device("cpu") == torch.device("cpu")
    assert dev.pick_device("cuda:1") == torch.device("cuda:1")
    assert dev.pick_device("mps").type == "mps"


def test_an_unavailable_or_unknown_device_is_a_clear_error(monkeypatch):
    _availability(monkeypatch, cuda=False, mps=False)
    with pytest.raises(CourseError, match="device 'cuda' is not available on this machine"):
        dev.pick_device("cuda")
    with pytest.raises(CourseError, match="device 'tpu': allowed are auto, cpu"):
        dev.pick_device("tpu")


def test_the_real_mps_check_runs():
    assert isinstance(dev._mps_available(), bool)


def test_autocast_dtypes_per_device(monkeypatch):
    assert dev.autocast_dtypes(torch.device("cpu")) == ["float32", "bfloat16", "float16"]
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    assert dev.autocast_dtypes(torch.device("cuda")) == ["float32", "float16"]
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert dev.autocast_dtypes(torch.device("cuda")) == ["float32", "bfloat16", "float16"]
    assert dev.autocast_dtypes(torch.device("meta")) == ["float32"]


def test_cpu_autocast_really_changes_the_matmul_dtype():
    a = torch.randn(4, 4)
    with dev.autocast(torch.device("cpu"), "bfloat16"):
        assert (a @ a).dtype == torch.bfloat16
    with dev.autocast(torch.device("cpu"), "float32"):
        assert (a @ a).dtype == torch.float32


def test_autocast_rejects_unknown_and_unsupported_dtypes():
    with pytest.raises(CourseError, match="dtype 'float8': allowed are float32, bfloat16, float16"):
        dev.autocast(torch.device("cpu"), "float8")
    with pytest.raises(CourseError, match="not supported by autocast on meta"):
        dev.autocast(torch.device("meta"), "float16")


def _draws() -> tuple:
    return random.random(), float(np.random.rand()), float(torch.rand(1))


def test_one_seed_gives_the_same_draws_everywhere():
    dev.seed_everything(123)
    first = _draws()
    dev.seed_everything(123)
    assert _draws() == first
    dev.seed_everything(124)
    assert _draws() != first


def test_seed_everything_seeds_mlx_when_present(monkeypatch):
    seen = []
    fake_core = types.SimpleNamespace(random=types.SimpleNamespace(seed=seen.append))
    fake_mlx = types.ModuleType("mlx")
    fake_mlx.core = fake_core
    monkeypatch.setitem(sys.modules, "mlx", fake_mlx)
    monkeypatch.setitem(sys.modules, "mlx.core", fake_core)
    dev.seed_everything(7)
    assert seen == [7]


def test_seed_everything_works_without_mlx(monkeypatch):
    monkeypatch.setitem(sys.modules, "mlx", None)
    monkeypatch.setitem(sys.modules, "mlx.core", None)
    dev.seed_everything(7)
    assert torch.initial_seed() == 7


@pytest.mark.parametrize(
    ("features", "dtype", "slow"),
    [
        (set(), "bfloat16", True),  # AVX2 only: bfloat16 is emulated
        ({"avx512_bf16"}, "bfloat16", False),
        ({"amx_tile"}, "bfloat16", False),
        ({"avx512_bf16"}, "float16", True),  # float16 needs AMX-FP16
        ({"amx_fp16"}, "float16", False),
        (set(), "float32", False),  # no autocast at all
    ],
)
def test_a_run_is_told_when_its_cpu_dtype_is_emulated(monkeypatch, features, dtype, slow):
    for feature in ("avx512_bf16", "amx_tile", "amx_fp16"):
        monkeypatch.setattr(
            torch.cpu, f"_is_{feature}_supported", lambda f=feature: f in features, raising=False
        )
    note = dev.slow_precision_note(torch.device("cpu"), dtype)
    assert (note is not None) == slow
    if slow:
        assert dtype in note and "train.dtype=float32" in note and "\n" not in note


def test_no_precision_note_off_the_cpu_or_where_pytorch_cannot_tell(monkeypatch):
    assert dev.slow_precision_note(torch.device("cuda"), "bfloat16") is None
    monkeypatch.delattr(torch.cpu, "_is_avx512_bf16_supported", raising=False)
    assert dev._cpu_has("avx512_bf16") is False
