import dataclasses
import importlib
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from week2_tokenizer import Tokenizer
from week3_model import GPT, GPTConfig
from week4_training.data import encode_split
from week4_training.evaluate import estimate_subset, evaluate, evaluation_windows


@settings(max_examples=40, deadline=None)
@given(n_tokens=st.integers(2, 60), block_size=st.integers(1, 9))
def test_every_token_but_the_first_is_a_target_exactly_once(n_tokens, block_size):
    tokens = np.arange(100, 100 + n_tokens)
    inputs, targets = evaluation_windows(tokens, block_size)
    kept = targets[targets >= 0].tolist()
    assert kept == list(range(101, 100 + n_tokens))
    # each target's input is its predecessor in the stream, within the same window
    mask = targets >= 0
    assert torch.equal(inputs[mask][1:] + 1, targets[mask][1:])
    assert inputs.shape == targets.shape and inputs.shape[1] == block_size


def tiny_model(vocab: int = 257) -> GPT:
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=vocab, block_size=8, n_layer=1, n_head=2, n_embd=16))


def brute_force_nats(model: GPT, tokens: np.ndarray, block_size: int) -> float:
    """Window by window, one at a time, no padding: the definition, slowly."""
    total = 0.0
    with torch.no_grad():
        for start in range(0, len(tokens) - 1, block_size):
            window = torch.tensor(tokens[start : start + block_size + 1], dtype=torch.long)
            logits, _ = model(window[None, :-1])
            total += float(F.cross_entropy(logits[0], window[1:], reduction="sum"))
    return total


def test_evaluate_matches_the_definition_and_counts_every_byte_once():
    tokenizer = Tokenizer.bytes_only()
    text = "Now is the winter of our discontent,\nmade glorious summer. Ü!"
    split = encode_split(tokenizer, text)
    model = tiny_model()
    result = evaluate(model, split, block_size=8, batch_size=3)
    total = brute_force_nats(model, split.tokens, 8)
    assert result.n_tokens == len(text.encode()) == result.n_bytes
    assert result.loss == pytest.approx(total / result.n_tokens, rel=1e-5)
    assert result.bits_per_byte == pytest.approx(total / math.log(2) / len(text.encode()), rel=1e-5)
    assert result.perplexity == pytest.approx(math.exp(result.loss))


def test_evaluate_is_deterministic_and_restores_training_mode():
    split = encode_split(Tokenizer.bytes_only(), "to be or not to be, that is the question " * 5)
    model = tiny_model()
    model.train()
    first = evaluate(model, split, block_size=8, batch_size=4)
    second = evaluate(model, split, block_size=8, batch_size=4)
    assert first == second
    assert model.training
    other_batching = evaluate(model, split, block_size=8, batch_size=1)
    assert other_batching.loss == pytest.approx(first.loss, rel=1e-6)


def test_evaluate_under_bfloat16_is_close_to_float32():
    split = encode_split(Tokenizer.bytes_only(), "all the world's a stage " * 4)
    model = tiny_model()
    exact = evaluate(model, split, block_size=8, batch_size=4, device="cpu", dtype="float32")
    half = evaluate(model, split, block_size=8, batch_size=4, device="cpu", dtype="bfloat16")
    assert half.loss == pytest.approx(exact.loss, rel=2e-2)


def test_evaluation_settings_are_named_and_the_result_is_a_value():
    split = encode_split(Tokenizer.bytes_only(), "all the world's a stage " * 4)
    model = tiny_model()
    with pytest.raises(TypeError):
        evaluate(model, split, 8, 4)  # which is the block size? the call must say
    result = evaluate(model, split, block_size=8, batch_size=4)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.loss = 0.0  # type: ignore[misc]


def test_evaluation_needs_two_tokens():
    with pytest.raises(ValueError):
        evaluation_windows(np.array([1]), 4)


def test_a_slow_evaluation_shows_progress(monkeypatch, capsys):
    split = encode_split(Tokenizer.bytes_only(), "all the world's a stage " * 4)
    model = tiny_model()
    # quicker than the delay: no bar
    quiet = evaluate(model, split, block_size=8, batch_size=4, progress=True)
    assert "evaluating" not in capsys.readouterr().err
    # the package re-exports the function `evaluate` under the module's own name
    module = importlib.import_module("week4_training.evaluate")
    monkeypatch.setattr(module, "PROGRESS_DELAY_S", 0.0)
    shown = evaluate(model, split, block_size=8, batch_size=4, progress=True)
    assert "evaluating" in capsys.readouterr().err
    assert shown == quiet


@settings(max_examples=60, deadline=None)
@given(n_windows=st.integers(1, 500), wanted=st.integers(1, 600))
def test_an_estimate_takes_evenly_spaced_windows_from_first_to_last(n_windows, wanted):
    chosen = estimate_subset(n_windows, wanted)
    if wanted >= n_windows:
        assert chosen is None  # nothing left out: the exact walk
        return
    assert chosen is not None
    assert chosen[0] == 0 and (wanted == 1 or chosen[-1] == n_windows - 1)
    assert np.all(np.diff(chosen) > 0) and len(chosen) <= wanted
    gaps = np.diff(chosen)
    assert len(gaps) == 0 or gaps.max() - gaps.min() <= 1  # even: gaps differ by at most one
    assert len(chosen) == wanted or gaps.min() == 1  # fewer only when windows ran out
    assert estimate_subset(n_windows, None) is None


def test_an_estimate_scores_its_windows_and_says_it_is_one():
    split = encode_split(Tokenizer.bytes_only(), "to be or not to be, that is the question " * 5)
    model = tiny_model()
    inputs, targets = evaluation_windows(split.tokens, 8)
    chosen = estimate_subset(len(inputs), 5)
    assert chosen is not None
    with torch.no_grad():
        logits, _ = model(inputs[chosen])
    scored = targets[chosen].flatten()
    nats = float(F.cross_entropy(logits.flatten(0, 1), scored, ignore_index=-1, reduction="sum"))
    n_scored = int((scored >= 0).sum())  # the last window is chosen, its padding is not scored
    assert n_scored < 5 * 8
    estimate = evaluate(model, split, block_size=8, batch_size=2, max_windows=5)
    assert not estimate.exact and estimate.n_tokens == n_scored
    assert estimate.loss == pytest.approx(nats / n_scored, rel=1e-6)
    all_targets = int((targets >= 0).sum())
    assert estimate.n_bytes == round(split.n_bytes * n_scored / all_targets)
    assert estimate.bits_per_byte == pytest.approx(nats / math.log(2) / estimate.n_bytes)
    assert evaluate(model, split, block_size=8, batch_size=2, max_windows=5) == estimate
    exact = evaluate(model, split, block_size=8, batch_size=2)
    assert exact.exact and exact.n_bytes == split.n_bytes
    # a limit that covers every window is the exact walk, bit for bit
    assert evaluate(model, split, block_size=8, batch_size=2, max_windows=len(inputs)) == exact
    with pytest.raises(ValueError, match="max_windows"):
        estimate_subset(10, 0)
