import math

import pytest

from week4_training.config import TrainConfig
from week4_training.schedule import learning_rate, schedule_from_config

ARGS = {"lr": 1e-3, "min_lr": 1e-4, "warmup_iters": 10, "lr_decay_iters": 110}


def test_warmup_is_linear_and_reaches_the_peak():
    assert learning_rate(0, **ARGS) == pytest.approx(1e-4)
    assert learning_rate(4, **ARGS) == pytest.approx(5e-4)
    assert learning_rate(9, **ARGS) == pytest.approx(1e-3)


def test_cosine_starts_at_peak_halves_midway_and_ends_at_floor():
    assert learning_rate(10, **ARGS) == pytest.approx(1e-3)
    assert learning_rate(60, **ARGS) == pytest.approx(1e-4 + 0.5 * 9e-4)
    quarter = 1e-4 + 9e-4 * 0.5 * (1 + math.cos(math.pi * 0.25))
    assert learning_rate(35, **ARGS) == pytest.approx(quarter)
    assert learning_rate(110, **ARGS) == pytest.approx(1e-4)
    assert learning_rate(10_000, **ARGS) == pytest.approx(1e-4)


def test_decay_is_monotone_after_warmup():
    rates = [learning_rate(s, **ARGS) for s in range(10, 120)]
    assert all(a >= b for a, b in zip(rates, rates[1:], strict=False))


def test_no_warmup_starts_at_peak():
    assert learning_rate(0, lr=1.0, min_lr=0.0, warmup_iters=0, lr_decay_iters=10) == 1.0


def test_schedule_from_config_matches():
    train = TrainConfig(lr=2e-3, min_lr=2e-4, warmup_iters=5, lr_decay_iters=50)
    at = schedule_from_config(train)
    for step in (0, 3, 5, 20, 49, 50, 70):
        expected = learning_rate(step, lr=2e-3, min_lr=2e-4, warmup_iters=5, lr_decay_iters=50)
        assert at(step) == expected
