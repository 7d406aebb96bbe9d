"""Sampling in MLX: week 5's filters, seeds, the KV cache, and the sample commands."""

from __future__ import annotations

import io

import mlx.core as mx
import numpy as np
import pytest
import torch

from shared.errors import CourseError, run_cli
from week5_generation.cli import main as week5_main
from week5_generation.generate import generate
from week5_generation.sampling import GREEDY, SamplingSettings, filtered_probabilities
from week6_optimizations.mlx_port import sample_mlx, train_mlx
from week6_optimizations.mlx_port.cli import main
from week6_optimizations.mlx_port.sampling import filtered_logits, generate_ids
from week6_optimizations.mlx_port.tests.fixtures import paired_models, run_config, tiny_config

SETTINGS = [(1.0, None, None), (0.7, 5, None), (1.3, None, 0.6), (0.9, 7, 0.8), (0.5, 1, 0.1)]


@pytest.mark.parametrize(("temperature", "top_k", "top_p"), SETTINGS)
def test_filters_give_week5s_distribution(temperature, top_k, top_p):
    settings = SamplingSettings(temperature, top_k, top_p)
    logits = np.random.default_rng(0).integers(0, 5, size=(2, 50)).astype(np.float32)  # ties
    ours = np.array(mx.softmax(filtered_logits(mx.array(logits), settings), -1))
    week5 = filtered_probabilities(torch.from_numpy(logits), settings).numpy()
    np.testing.assert_allclose(ours, week5, atol=1e-6)
    assert ((ours > 0) == (week5 > 0)).all()


def tokens(model, seed, settings, n=12, **keywords):
    return list(generate_ids(model, [1, 2, 3], n, settings, seed=seed, **keywords))


def test_same_seed_same_tokens_different_seeds_differ():
    _, model = paired_models(tiny_config())
    hot = SamplingSettings(temperature=1.5)
    assert tokens(model, 7, hot) == tokens(model, 7, hot)
    assert tokens(model, 7, hot) != tokens(model, 8, hot)


@pytest.mark.parametrize(
    "position", ["learned", pytest.param("rope", marks=pytest.mark.task("6.1", "6.2"))]
)
def test_greedy_tokens_equal_pytorchs_past_the_context_window(position):
    config = tiny_config(position=position)
    torch_model, model = paired_models(config, seed=3)
    n = 2 * config.block_size  # the window slides: prefills and cached steps both run
    ours = tokens(model, 0, GREEDY, n=n)
    theirs = list(generate(torch_model, [1, 2, 3], n, GREEDY))
    assert ours == theirs


def test_stop_ids_end_generation_and_bad_settings_are_errors():
    _, model = paired_models(tiny_config())
    first = tokens(model, 0, GREEDY, n=5)
    stop = first[2]
    assert tokens(model, 0, GREEDY, n=5, stop_ids={stop}) == first[: first.index(stop)]
    with pytest.raises(CourseError, match="temperature"):
        tokens(model, 0, SamplingSettings(temperature=-1.0))
    with pytest.raises(CourseError, match="no tokens"):
        list(generate_ids(model, [], 3))


def test_sample_commands_on_a_run(corpus, tmp_path, capsys):
    cfg = run_config(corpus, tmp_path / "runs", max_iters=2, eval_interval=2, sample_tokens=0)
    run_dir = train_mlx(cfg)
    capsys.readouterr()
    out = io.StringIO()
    text = sample_mlx(str(run_dir), "ROMEO:", max_new_tokens=10, seed=4, temperature=1.0, out=out)
    assert out.getvalue() == f"ROMEO:{text}\n"
    assert text == sample_mlx(str(run_dir), "ROMEO:", max_new_tokens=10, seed=4, temperature=1.0)
    flags = [
        "--checkpoint",
        str(run_dir),
        "--prompt",
        "JULIET:",
        "--max-new-tokens",
        "6",
        "--seed",
        "2",
        "--device",
        "cpu",
    ]
    assert run_cli(main, ["sample", *flags]) == 0
    via_mlx_port = capsys.readouterr().out
    assert run_cli(week5_main, ["sample", *flags, "--backend", "mlx"]) == 0
    assert capsys.readouterr().out == via_mlx_port
    assert via_mlx_port.startswith("JULIET:")
    assert run_cli(main, ["sample", *flags, "--interactive"]) == 2
    assert "--interactive" in capsys.readouterr().err


@pytest.mark.parametrize("temperature", [1e-30, 1e-45, 1e-300, 5e-324])
def test_a_tiny_temperature_is_greedy_not_nan(temperature):
    logits = mx.array([[0.3, 2.0, 1.99, -1.0], [1.0, -2.0, 4.0, 0.0]])
    settings = SamplingSettings(temperature, top_p=0.9)
    probs = np.array(mx.softmax(filtered_logits(logits, settings), -1))
    np.testing.assert_array_equal(probs, [[0, 1, 0, 0], [0, 0, 1, 0]])
    week5 = filtered_probabilities(torch.from_numpy(np.array(logits)), settings)
    np.testing.assert_array_equal(probs, week5.numpy())


def test_ordinary_temperatures_divide_as_written():
    from week6_optimizations.mlx_port.sampling import apply_temperature

    logits = mx.array(np.random.default_rng(1).normal(size=(3, 40)).astype(np.float32))
    for temperature in (0.01, 0.7, 1.0, 3.0):
        assert mx.array_equal(apply_temperature(logits, temperature), logits / temperature)
