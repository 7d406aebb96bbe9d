"""Muon (week6_optimizations/muon.py): the update rule against references written here, the
quintic's band, the groups and their schedule, a float16 run, and a bit-identical resume."""

from __future__ import annotations

import math
import random

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import week2_tokenizer  # noqa: F401 - registers the tokenizer section
import week4_training.config  # noqa: F401 - registers the train section
from shared.config import ConfigError, config_from_dict
from shared.errors import CourseError
from shared.runs import read_metrics
from week3_model import GPT, GPTConfig
from week4_training.checkpoint import read_checkpoint
from week4_training.optim import build_optimizer, set_learning_rate
from week4_training.schedule import schedule_from_config
from week4_training.trainer import Trainer
from week6_optimizations.muon import Muon, newton_schulz

A, B, C = 3.4445, -4.7750, 2.0315  # Keller Jordan's published quintic
MEASURED = ("tokens_per_s", "train_seconds")
TASKS_OF_A_RUN = ("4.1", "4.2", "4.3", "4.4", "4.5", "4.6")  # a run passes through all six


def quintic_five_times(s: torch.Tensor) -> torch.Tensor:
    for _ in range(5):
        s = A * s + B * s**3 + C * s**5
    return s


# ----------------------------------------------------------------------------- the update rule


@pytest.mark.parametrize("shape", [(12, 4), (4, 10), (6, 6), (96, 32)])
def test_newton_schulz_is_the_quintic_applied_to_the_singular_values(shape):
    torch.manual_seed(0)
    u = torch.randn(*shape)
    x = u.double() / (u.double().norm() + 1e-7)
    left, s, right = torch.linalg.svd(x, full_matrices=False)
    expected = left @ torch.diag(quintic_five_times(s)) @ right
    result = newton_schulz(u)
    assert result.dtype == torch.float32 and result.shape == u.shape
    # float32 rounding of five iterations against float64: measured below 1e-6
    torch.testing.assert_close(result.double(), expected, rtol=0, atol=5e-6)


def test_one_muon_step_is_the_update_rule_written_out():
    torch.manual_seed(1)
    mu, lr, wd = 0.95, 0.02, 0.1
    tall, wide = torch.randn(12, 4), torch.randn(4, 10)
    params = [tall.clone().requires_grad_(), wide.clone().requires_grad_()]
    optimizer = Muon(params, lr=lr, momentum=mu, weight_decay=wd)
    expected = [tall.double(), wide.double()]
    momentum = [torch.zeros_like(w) for w in expected]
    for _ in range(3):  # three steps, so the momentum matters
        grads = [torch.randn_like(p) for p in params]
        for p, g in zip(params, grads, strict=True):
            p.grad = g.clone()
        optimizer.step()
        for i, g in enumerate(grads):
            g = g.double()
            momentum[i] = mu * momentum[i] + g
            u = g + mu * momentum[i]
            x = u / (u.norm() + 1e-7)  # no transpose here: X (X^T X) is the same polynomial
            for _ in range(5):
                gram = x.T @ x
                x = A * x + B * x @ gram + C * x @ gram @ gram
            rows, cols = u.shape
            expected[i] = expected[i] * (1 - lr * wd) - lr * math.sqrt(max(1, rows / cols)) * x
    for p, w in zip(params, expected, strict=True):
        torch.testing.assert_close(p.detach().double(), w, rtol=0, atol=1e-6)


def test_the_adamw_groups_are_torchs_adamw_bit_for_bit():
    torch.manual_seed(2)
    start = torch.randn(10)
    ours, theirs = start.clone().requires_grad_(), start.clone().requires_grad_()
    muon = Muon([{"params": [ours], "use_muon": False, "weight_decay": 0.1}], lr=1e-3)
    adamw = torch.optim.AdamW([theirs], lr=1e-3, betas=(0.9, 0.99), weight_decay=0.1)
    for _ in range(10):
        g = torch.randn(10)
        ours.grad, theirs.grad = g.clone(), g.clone()
        muon.step()
        adamw.step()
    assert torch.equal(ours, theirs)


def test_torchs_own_muon_agrees_to_bfloat16_rounding():
    # torch.optim.Muon (PyTorch 2.13) iterates in bfloat16 and averages its momentum instead of
    # summing it (a factor 1 - mu that NS5 divides out): the same update to about 1-2%
    if not hasattr(torch.optim, "Muon"):
        pytest.skip("this PyTorch has no torch.optim.Muon")
    torch.manual_seed(3)
    start = torch.randn(48, 16)
    ours, theirs = start.clone().requires_grad_(), start.clone().requires_grad_()
    mine = Muon([ours], lr=0.02, weight_decay=0.1, momentum=0.95)
    reference = torch.optim.Muon(
        [theirs], lr=0.02, weight_decay=0.1, momentum=0.95, nesterov=True, adjust_lr_fn="original"
    )
    for _ in range(5):
        g = torch.randn(48, 16)
        ours.grad, theirs.grad = g.clone(), g.clone()
        before_ours, before_theirs = ours.detach().clone(), theirs.detach().clone()
        mine.step()
        reference.step()
        step_ours, step_theirs = ours.detach() - before_ours, theirs.detach() - before_theirs
        relative = float((step_ours - step_theirs).norm() / step_ours.norm())
        assert relative < 0.05  # measured 0.013-0.017


# ----------------------------------------------------------------------------- the quintic's band


@settings(max_examples=40, deadline=None)
@given(start=st.floats(min_value=2e-3, max_value=1.0))
def test_five_quintic_steps_end_in_the_band_around_1(start):
    # not exactly 1: the published coefficients trade convergence for a steep slope at 0
    end = float(quintic_five_times(torch.tensor(start, dtype=torch.float64)))
    assert 0.68 <= end <= 1.21  # the extremes over [2e-3, 1]: 0.6818 and 1.2024


@settings(max_examples=25, deadline=None)
@given(
    short=st.integers(min_value=2, max_value=24),
    aspect=st.integers(min_value=3, max_value=6),
    tall=st.booleans(),
    seed=st.integers(min_value=0, max_value=2**16),
)
def test_the_orthogonalised_update_has_singular_values_near_1(short, aspect, tall, seed):
    # a random matrix 3-6 times longer than wide: its singular values start far from 0
    generator = torch.Generator().manual_seed(seed)
    shape = (short * aspect, short) if tall else (short, short * aspect)
    singular_values = torch.linalg.svdvals(newton_schulz(torch.randn(*shape, generator=generator)))
    assert singular_values.min() >= 0.68 and singular_values.max() <= 1.21


def test_a_zero_gradient_gives_a_zero_update():
    assert torch.equal(newton_schulz(torch.zeros(3, 5)), torch.zeros(3, 5))


def test_a_vector_in_a_muon_group_is_one_clear_error():
    with pytest.raises(CourseError, match=r"shape \(7,\); give it to a group with use_muon=False"):
        Muon([torch.zeros(4, 4), torch.zeros(7)], lr=0.02)


# ----------------------------------------------------------------------------- groups, schedule


def baby_like(tie_weights: bool = True) -> GPT:
    shape = dict(vocab_size=40, block_size=8, n_layer=2, n_head=2, n_embd=16)
    return GPT(GPTConfig(**shape, tie_weights=tie_weights))


def train_section(*overrides: str):
    values = {"tokenizer": {"kind": "bytes"}}
    return config_from_dict(values, list(overrides), sections=("tokenizer", "train")).train


@pytest.mark.task("4.3")
@pytest.mark.parametrize("tie_weights", [True, False])
def test_muon_takes_the_blocks_matrices_and_adamw_the_rest(tie_weights):
    model = baby_like(tie_weights)
    train = train_section("train.optimizer=muon", "train.lr=1e-3", "train.muon_lr=0.02")
    optimizer = build_optimizer(model, train, torch.device("cpu"))
    assert isinstance(optimizer, Muon)
    names = {id(p): n for n, p in model.named_parameters()}
    muon, *adamw = optimizer.param_groups
    assert muon["use_muon"] and not any(g["use_muon"] for g in adamw)
    blocks_matrices = {n for n, p in model.named_parameters() if n.startswith("blocks.")}
    blocks_matrices = {n for n in blocks_matrices if model.get_parameter(n).dim() == 2}
    assert {names[id(p)] for p in muon["params"]} == blocks_matrices
    assert muon["lr_scale"] == 20.0 and muon["weight_decay"] == 0.1
    decay, no_decay = adamw  # week 4's rule for everything else
    decayed = {names[id(p)] for p in decay["params"]}
    heads = set() if tie_weights else {"lm_head.weight"}
    assert decayed == {"token_embedding.weight", "position_encoding.table.weight"} | heads
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert all(p.dim() == 1 for p in no_decay["params"])
    assert all(g["lr_scale"] == 1.0 and g["lr"] == 1e-3 for g in adamw)
    total = sum(len(g["params"]) for g in optimizer.param_groups)
    assert total == len(list(model.parameters()))  # every parameter exactly once


@pytest.mark.task("4.2")
@pytest.mark.task("4.3")
def test_each_group_follows_the_schedule_at_its_own_peak():
    train = train_section(
        "train.optimizer=muon", "train.lr=1e-3", "train.min_lr=1e-4", "train.muon_lr=0.02",
        "train.max_iters=40", "train.warmup_iters=5", "train.lr_decay_iters=30",
    )  # fmt: skip
    optimizer = build_optimizer(baby_like(), train, torch.device("cpu"))
    schedule = schedule_from_config(train)
    for step in range(40):
        set_learning_rate(optimizer, schedule(step))
        muon, *adamw = (g["lr"] for g in optimizer.param_groups)
        assert all(lr == schedule(step) for lr in adamw)
        assert muon == pytest.approx(schedule(step) * 20, rel=1e-12)
    set_learning_rate(optimizer, schedule(4))  # the end of warmup: each group at its peak
    assert [g["lr"] for g in optimizer.param_groups] == pytest.approx([0.02, 1e-3, 1e-3])
    set_learning_rate(optimizer, schedule(39))  # after the decay: each at its floor
    assert [g["lr"] for g in optimizer.param_groups] == pytest.approx([2e-3, 1e-4, 1e-4])


def test_an_unknown_optimizer_names_the_known_ones():
    with pytest.raises(ConfigError) as caught:
        train_section("train.optimizer=sgd")
    assert str(caught.value).startswith("train.optimizer: must be one of adamw, muon")
    assert "got 'sgd'" in str(caught.value)


# ----------------------------------------------------------------------------- training runs

WORDS = ("the", "king", "queen", "lord", "love", "night", "day", "sword", "crown", "heart", "fair")


@pytest.fixture
def run_config(tmp_path, monkeypatch):
    """A tiny byte-level run (a few thousand parameters, 8 steps) with Muon."""
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "cache"))
    rng = random.Random(0)
    lines = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 7))) for _ in range(300)]
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    values = {
        "data": {"corpus": str(corpus)},
        "tokenizer": {"kind": "bytes"},
        "model": {"block_size": 16, "n_layer": 1, "n_head": 2, "n_embd": 16},
        "train": {
            "optimizer": "muon",
            "batch_size": 4,
            "max_iters": 8,
            "lr": 3e-3,
            "min_lr": 3e-4,
            "warmup_iters": 2,
            "lr_decay_iters": 8,
            "eval_interval": 4,
            "log_interval": 1,
            "sample_tokens": 0,
        },
        "run": {"name": "muon", "out_dir": str(tmp_path / "runs"), "device": "cpu"},
    }

    def make(*overrides: str):
        return config_from_dict(values, list(overrides))

    return make


def quiet(cfg, **kwargs) -> Trainer:
    return Trainer(cfg, progress=False, log=lambda _: None, **kwargs)


def deterministic_rows(run_dir):
    rows = read_metrics(run_dir / "metrics.jsonl")
    return [{k: v for k, v in row.items() if k not in MEASURED} for row in rows]


@pytest.mark.task(*TASKS_OF_A_RUN)
@pytest.mark.parametrize("dropout", [0.0, 0.2])
def test_a_muon_run_stopped_and_resumed_is_the_uninterrupted_run(run_config, dropout):
    drop = f"model.dropout={dropout}"
    whole = quiet(run_config(drop, "run.name=whole")).run()
    first = quiet(run_config(drop, "run.name=halves", "train.max_iters=4")).run()
    saved = read_checkpoint(first.run_dir / "last.pt", resume=True)
    assert saved["optimizer"]["param_groups"][0]["use_muon"]  # Muon's own state was saved
    cfg = config_from_dict(saved["config"], ["train.max_iters=8"])
    resumed = quiet(cfg, resume=first.run_dir).run()
    assert deterministic_rows(resumed.run_dir) == deterministic_rows(whole.run_dir)
    ends = [read_checkpoint(r.run_dir / "last.pt", resume=True) for r in (whole, resumed)]
    for key, tensor in ends[0]["model"].items():
        assert torch.equal(tensor, ends[1]["model"][key]), key
    states = [e["optimizer"]["state"] for e in ends]  # momenta, moments and AdamW's step counts
    assert states[0].keys() == states[1].keys()
    for index, state in states[0].items():
        other = states[1][index]
        assert state.keys() == other.keys()
        for key, value in state.items():
            same = torch.equal(value, other[key]) if torch.is_tensor(value) else value == other[key]
            assert same, (index, key)
    evals = [
        r["val_loss"] for r in read_metrics(whole.run_dir / "metrics.jsonl") if "val_loss" in r
    ]
    assert evals[-1] < evals[0]  # it learns


@pytest.mark.task(*TASKS_OF_A_RUN)
def test_a_float16_muon_run_steps_through_the_grad_scaler(run_config):
    result = quiet(run_config("train.dtype=float16", "train.max_iters=3")).run()
    rows = [r for r in read_metrics(result.run_dir / "metrics.jsonl") if "loss" in r]
    assert len(rows) == 3 and all("scale" in r and math.isfinite(r["loss"]) for r in rows)


@pytest.mark.task(*TASKS_OF_A_RUN)
def test_a_resume_keeps_the_optimizer_that_wrote_the_state(run_config):
    first = quiet(run_config("run.name=switch", "train.max_iters=4")).run()
    saved = read_checkpoint(first.run_dir / "last.pt", resume=True)
    cfg = config_from_dict(saved["config"], ["train.max_iters=8", "train.optimizer=adamw"])
    with pytest.raises(CourseError, match=r"holds the state of train.optimizer='muon'"):
        quiet(cfg, resume=first.run_dir)


def test_the_mlx_port_refuses_muon_in_one_line(run_config):
    pytest.importorskip("mlx.core")
    from week6_optimizations.mlx_port.trainer import check_config

    with pytest.raises(CourseError, match=r"^train.optimizer: the MLX port trains with adamw"):
        check_config(run_config())
