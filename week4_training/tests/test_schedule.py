import math

import pytest

from shared.paths import CONFIGS_DIR
from week4_training.config import TrainConfig
from week4_training.schedule import learning_rate, schedule_from_config, schedule_warnings

ARGS = {"lr": 1e-3, "min_lr": 1e-4, "warmup_iters": 10, "lr_decay_iters": 110}


@pytest.mark.task("4.2")
def test_warmup_is_linear_and_reaches_the_peak():
    assert learning_rate(0, **ARGS) == pytest.approx(1e-4)
    assert learning_rate(4, **ARGS) == pytest.approx(5e-4)
    assert learning_rate(9, **ARGS) == pytest.approx(1e-3)


@pytest.mark.task("4.2")
def test_cosine_starts_at_peak_halves_midway_and_ends_at_floor():
    assert learning_rate(10, **ARGS) == pytest.approx(1e-3)
    assert learning_rate(60, **ARGS) == pytest.approx(1e-4 + 0.5 * 9e-4)
    quarter = 1e-4 + 9e-4 * 0.5 * (1 + math.cos(math.pi * 0.25))
    assert learning_rate(35, **ARGS) == pytest.approx(quarter)
    assert learning_rate(110, **ARGS) == pytest.approx(1e-4)
    assert learning_rate(10_000, **ARGS) == pytest.approx(1e-4)


@pytest.mark.task("4.2")
def test_decay_is_monotone_after_warmup():
    rates = [learning_rate(s, **ARGS) for s in range(10, 120)]
    assert all(a >= b for a, b in zip(rates, rates[1:], strict=False))


@pytest.mark.task("4.2")
def test_no_warmup_starts_at_peak():
    assert learning_rate(0, lr=1.0, min_lr=0.0, warmup_iters=0, lr_decay_iters=10) == 1.0


@pytest.mark.task("4.2")
def test_schedule_from_config_matches():
    train = TrainConfig(lr=2e-3, min_lr=2e-4, warmup_iters=5, lr_decay_iters=50)
    at = schedule_from_config(train)
    for step in (0, 3, 5, 20, 49, 50, 70):
        expected = learning_rate(step, lr=2e-3, min_lr=2e-4, warmup_iters=5, lr_decay_iters=50)
        assert at(step) == expected


@pytest.mark.task("4.2")
@pytest.mark.parametrize(
    ("max_iters", "warmup", "decay"), [(2000, 100, 2000), (100, 5, 100), (19, 0, 19)]
)
def test_warmup_and_decay_left_out_follow_the_run_length(max_iters, warmup, decay):
    train = TrainConfig(max_iters=max_iters)
    assert (train.warmup_iters, train.lr_decay_iters) == (warmup, decay)
    at = schedule_from_config(train)
    assert at(max_iters) == train.min_lr  # a short run decays all the way, as a long one does
    assert schedule_warnings(train) == []


def test_set_values_are_kept_and_a_decay_never_ends_before_warmup():
    assert TrainConfig(max_iters=100, warmup_iters=30).lr_decay_iters == 100
    assert TrainConfig(max_iters=10, warmup_iters=30).lr_decay_iters == 30
    train = TrainConfig(max_iters=100, warmup_iters=7, lr_decay_iters=50)
    assert (train.warmup_iters, train.lr_decay_iters) == (7, 50)


def test_every_course_config_keeps_the_schedule_it_trained_with():
    """configs/*.yaml set both values themselves: the defaults must not change their runs."""
    import yaml

    for path in sorted(CONFIGS_DIR.glob("*.yaml")):
        written = yaml.safe_load(path.read_text())["train"]
        train = TrainConfig(**written)
        assert (train.warmup_iters, train.lr_decay_iters) == (
            written["warmup_iters"],
            written["lr_decay_iters"],
        ), path


@pytest.mark.task("4.2")
def test_a_schedule_that_does_not_fit_the_run_is_named():
    (never_warm,) = schedule_warnings(TrainConfig(max_iters=100, warmup_iters=100))
    assert never_warm.startswith("train.warmup_iters=100 is not below train.max_iters=100")
    (never_decays,) = schedule_warnings(
        TrainConfig(max_iters=200, warmup_iters=100, lr_decay_iters=2000, lr=1e-3, min_lr=1e-4)
    )
    assert "train.lr_decay_iters=2000 is beyond train.max_iters=200" in never_decays
    assert "ends at lr 9.94e-04" in never_decays and "leave it out of the config" in never_decays
