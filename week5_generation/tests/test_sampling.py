"""Temperature, top-k, top-p and the seeded draw, each pinned on its own."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.config import ConfigError
from week5_generation.sampling import (
    GREEDY,
    PURE_SAMPLING,
    SamplingSettings,
    apply_temperature,
    choose_next,
    draw,
    filtered_probabilities,
    make_generator,
    top_k_filter,
    top_p_filter,
)

logit_lists = st.lists(
    st.floats(min_value=-8, max_value=8, allow_nan=False, width=32), min_size=1, max_size=40
)


def kept(logits: torch.Tensor) -> set[int]:
    return set(torch.nonzero(torch.isfinite(logits)).flatten().tolist())


@pytest.mark.task("5.1")
def test_temperature_divides_the_logits():
    logits = torch.tensor([1.0, -2.0, 4.0])
    assert torch.equal(apply_temperature(logits, 2.0), torch.tensor([0.5, -1.0, 2.0]))


@pytest.mark.task("5.2")
@given(logit_lists, st.integers(min_value=1, max_value=50))
@settings(max_examples=60, deadline=None)
def test_top_k_keeps_exactly_k_of_the_largest(values, k):
    logits = torch.tensor(values)
    filtered = top_k_filter(logits, k)
    survivors = kept(filtered)
    assert len(survivors) == min(k, len(values))
    dropped = set(range(len(values))) - survivors
    if dropped:
        assert min(logits[list(survivors)]) >= max(logits[list(dropped)])
    assert torch.equal(filtered[list(survivors)], logits[list(survivors)])


@pytest.mark.task("5.2")
def test_top_k_breaks_ties_towards_the_lower_token_id():
    logits = torch.tensor([1.0, 3.0, 2.0, 3.0, 3.0, 0.0])
    assert kept(top_k_filter(logits, 2)) == {1, 3}
    assert kept(top_k_filter(logits, 4)) == {1, 2, 3, 4}


@pytest.mark.task("5.2")
def test_top_k_works_on_a_batch_of_rows():
    logits = torch.tensor([[0.0, 1.0, 2.0], [2.0, 1.0, 0.0]])
    filtered = top_k_filter(logits, 1)
    assert kept(filtered[0]) == {2} and kept(filtered[1]) == {0}


@pytest.mark.task("5.3")
@given(logit_lists, st.floats(min_value=0.01, max_value=1.0))
@settings(max_examples=80, deadline=None)
def test_top_p_keeps_the_smallest_most_likely_set_reaching_p(values, p):
    logits = torch.tensor(values)
    probs = torch.softmax(logits.double(), dim=-1)
    survivors = kept(top_p_filter(logits, p))
    dropped = set(range(len(values))) - survivors
    # the most likely token always stays; where probabilities tie (logits 1e-22 apart are one
    # probability even in float64), the lower id is the most likely one, as the sort is stable
    assert int(torch.argmax(probs)) in survivors
    mass = float(probs[list(survivors)].sum())
    assert mass >= p - 1e-9  # enough mass ...
    smallest_kept = min(float(probs[i]) for i in survivors)
    assert mass - smallest_kept < p + 1e-9  # ... and no token could be spared
    if dropped:  # the survivors are the most likely tokens
        assert smallest_kept >= max(float(probs[i]) for i in dropped)


@pytest.mark.task("5.3")
def test_top_p_on_a_worked_example():
    probs = torch.tensor([0.5, 0.3, 0.15, 0.05])
    logits = probs.log()
    assert kept(top_p_filter(logits, 0.5)) == {0}
    assert kept(top_p_filter(logits, 0.6)) == {0, 1}
    assert kept(top_p_filter(logits, 0.8)) == {0, 1}
    assert kept(top_p_filter(logits, 0.81)) == {0, 1, 2}
    assert kept(top_p_filter(logits, 1.0)) == {0, 1, 2, 3}
    assert kept(top_p_filter(logits, 0.01)) == {0}


@pytest.mark.task("5.1", "5.2", "5.3")
@given(logit_lists, st.integers(1, 10), st.floats(0.05, 1.0), st.floats(0.1, 3.0))
@settings(max_examples=60, deadline=None)
def test_filtered_distribution_renormalises_the_survivors(values, k, p, temperature):
    logits = torch.tensor(values)
    probs = filtered_probabilities(logits, SamplingSettings(temperature, top_k=k, top_p=p))
    assert torch.isclose(probs.sum(), torch.tensor(1.0), atol=1e-5)
    survivors = sorted(kept(top_p_filter(top_k_filter(logits / temperature, k), p)))
    assert set(torch.nonzero(probs).flatten().tolist()) <= set(survivors)
    expected = torch.softmax(logits[survivors] / temperature, dim=-1)
    assert torch.allclose(probs[survivors], expected, atol=1e-5)


@pytest.mark.task("5.1")
def test_temperature_towards_zero_becomes_the_argmax():
    logits = torch.tensor([0.3, 2.0, 1.99, -1.0])
    colder = [SamplingSettings(t) for t in (1, 0.1, 0.01, 1e-4)]
    mass_on_argmax = [float(filtered_probabilities(logits, s)[1]) for s in colder]
    assert mass_on_argmax == sorted(mass_on_argmax)  # colder, more certain
    assert mass_on_argmax[-1] > 1 - 1e-6
    greedy = filtered_probabilities(logits, GREEDY)
    assert torch.equal(greedy, torch.tensor([0.0, 1.0, 0.0, 0.0]))
    generator = make_generator(0)
    assert all(choose_next(logits, generator, GREEDY) == 1 for _ in range(5))
    assert choose_next(torch.tensor([1.0, 5.0, 5.0]), generator, GREEDY) == 1  # first max


def chi_square_p_value(counts: torch.Tensor, probs: torch.Tensor) -> float:
    """P(statistic >= observed) under the chi-square law with len(probs) - 1 degrees of freedom."""
    expected = probs * counts.sum()
    statistic = float(((counts - expected) ** 2 / expected).sum())
    dof = len(probs) - 1
    return float(torch.special.gammaincc(torch.tensor(dof / 2), torch.tensor(statistic / 2)))


def test_draw_frequencies_match_the_distribution():
    probs = torch.tensor([0.4, 0.25, 0.15, 0.1, 0.07, 0.03])
    generator = make_generator(1234)
    n = 20_000
    counts = torch.bincount(
        torch.tensor([draw(probs, generator) for _ in range(n)]), minlength=len(probs)
    ).double()
    assert chi_square_p_value(counts, probs.double()) > 1e-3
    # The same test must reject a wrong distribution: swap the two middle probabilities.
    wrong = probs[[0, 1, 3, 2, 4, 5]].double()
    assert chi_square_p_value(counts, wrong) < 1e-6


@pytest.mark.task("5.1", "5.2", "5.3")
def test_the_same_seed_gives_the_same_draws_and_different_seeds_differ():
    logits = torch.randn(50, generator=torch.Generator().manual_seed(0))

    def run(seed: int) -> list[int]:
        generator = make_generator(seed)
        sampling = SamplingSettings(1.0, top_k=40, top_p=0.95)
        return [choose_next(logits, generator, sampling) for _ in range(30)]

    assert run(5) == run(5)
    assert run(5) != run(6)


@pytest.mark.parametrize(
    ("temperature", "top_k", "top_p", "key"),
    [(-0.1, None, None, "temperature"), (1.0, 0, None, "top_k"), (1.0, None, 0.0, "top_p"),
     (1.0, None, 1.5, "top_p")],
)  # fmt: skip
def test_out_of_range_settings_name_the_setting(temperature, top_k, top_p, key):
    with pytest.raises(ConfigError, match=f"^{key}: must be"):
        SamplingSettings(temperature, top_k, top_p)
    with pytest.raises(ConfigError, match=f"^{key}: must be"):  # a sampler never meets them
        choose_next(torch.zeros(3), make_generator(0), SamplingSettings(temperature, top_k, top_p))


@pytest.mark.task("5.1", "5.2", "5.3")
@pytest.mark.parametrize("temperature", [1e-30, 1e-38, 1e-45, 1e-300, 5e-324])
def test_a_tiny_temperature_is_the_greedy_limit_not_nan(temperature):
    logits = torch.tensor([0.3, 2.0, 1.99, -1.0])
    probs = filtered_probabilities(logits, SamplingSettings(temperature, top_k=3, top_p=0.9))
    assert torch.equal(probs, torch.tensor([0.0, 1.0, 0.0, 0.0]))
    scaled = apply_temperature(logits, temperature)
    assert not torch.isnan(scaled).any() and int(scaled.argmax()) == 1
    assert choose_next(logits, make_generator(0), SamplingSettings(temperature, top_p=0.95)) == 1


@pytest.mark.task("5.1")
def test_only_a_row_that_overflows_is_shifted():
    logits = torch.tensor([[1.0, -2.0, 4.0], [3e-37, 0.0, -3e-37]])
    scaled = apply_temperature(logits, 1e-2)
    assert torch.equal(scaled[0], logits[0] / 1e-2)  # finite: divided as written
    assert torch.equal(scaled[1], torch.tensor([3e-35, 0.0, -3e-35]))
    tiny = apply_temperature(logits, 1e-38)
    assert torch.equal(tiny[1], logits[1] / 1e-38)  # still finite at 1e-38
    assert torch.equal(tiny[0], torch.tensor([-3.0, -6.0, 0.0]) / 1e-38)  # overflowed: shifted


@pytest.mark.task("5.1")
@given(logit_lists, st.floats(min_value=1e-3, max_value=100.0))
@settings(max_examples=80, deadline=None)
def test_ordinary_temperatures_divide_bit_for_bit(values, temperature):
    logits = torch.tensor(values)
    assert torch.equal(apply_temperature(logits, temperature), logits / temperature)


def test_settings_are_one_frozen_value_with_the_defaults_of_pure_sampling():
    assert PURE_SAMPLING == SamplingSettings() == SamplingSettings(1.0, None, None)
    assert GREEDY.greedy and not PURE_SAMPLING.greedy and not SamplingSettings(1e-300).greedy
    with pytest.raises(dataclasses.FrozenInstanceError):
        PURE_SAMPLING.temperature = 0.5  # type: ignore[misc]
    assert SamplingSettings(0.7, top_k=5) == SamplingSettings(temperature=0.7, top_k=5)


def test_greedy_ignores_the_filters():
    logits = torch.tensor([0.3, 2.0, 1.99, -1.0])
    for sampling in (GREEDY, SamplingSettings(0.0, top_k=1), SamplingSettings(0.0, top_p=0.01)):
        assert torch.equal(filtered_probabilities(logits, sampling), torch.tensor([0, 1.0, 0, 0]))
        assert choose_next(logits, make_generator(0), sampling) == 1
