"""The whole model: shapes, causality, gradients, init, learning, tying, dropout, counts."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.errors import CourseError
from week3_model import GPT, GPTConfig, LayerNorm


@pytest.mark.task("3.1", "3.2", "3.3", "3.4", "3.5", "3.6", "3.7", "3.8", "3.9")
def test_forward_shapes(model):
    idx = torch.randint(0, 61, (3, 10))
    logits, loss = model(idx)
    assert logits.shape == (3, 10, 61)
    assert loss is None
    logits, loss = model(idx, idx)
    assert loss.shape == ()


@pytest.mark.task("3.1", "3.2", "3.3", "3.4", "3.5", "3.6", "3.7", "3.8")
@settings(max_examples=25, deadline=None)
@given(
    data=st.data(),
    length=st.integers(2, 16),
)
def test_changing_the_future_never_changes_the_past(frozen_model, data, length):
    model = frozen_model
    t = data.draw(st.integers(0, length - 2), label="t")
    tokens = data.draw(st.lists(st.integers(0, 60), min_size=length, max_size=length))
    changed = data.draw(st.lists(st.integers(0, 60), min_size=length, max_size=length))
    idx = torch.tensor([tokens])
    other = torch.tensor([tokens[: t + 1] + changed[t + 1 :]])
    with torch.no_grad():
        logits, _ = model(idx)
        other_logits, _ = model(other)
    torch.testing.assert_close(logits[:, : t + 1], other_logits[:, : t + 1], atol=1e-5, rtol=0)


@pytest.mark.task("3.1", "3.2", "3.3", "3.4", "3.5", "3.6", "3.7", "3.8")
def test_the_future_does_matter(model):
    """The causal test above would pass for a model that ignores its input; this one would not."""
    idx = torch.randint(0, 61, (1, 8))
    other = idx.clone()
    other[0, 3] = (other[0, 3] + 1) % 61
    with torch.no_grad():
        assert not torch.allclose(model(idx)[0][:, 3:], model(other)[0][:, 3:])


@pytest.mark.task("3.1", "3.2", "3.3", "3.4", "3.5", "3.6", "3.7", "3.8")
def test_attention_weights_of_the_model_are_causal(model):
    for block in model.blocks:
        block.attn.keep_weights = True
    model(torch.randint(0, 61, (2, 12)))
    for block in model.blocks:
        weights = block.attn.last_weights
        assert weights.shape == (2, 4, 12, 12)
        torch.testing.assert_close(weights.sum(-1), torch.ones(2, 4, 12))
        assert torch.all(weights.triu(1) == 0)


@pytest.mark.task("3.1", "3.2", "3.3", "3.4", "3.5", "3.7", "3.8", "3.9")
@pytest.mark.parametrize("tie_weights", [pytest.param(True, marks=pytest.mark.task("3.6")), False])
def test_every_parameter_gets_a_finite_nonzero_gradient(make_config, tie_weights):
    torch.manual_seed(0)
    config = make_config(tie_weights=tie_weights, vocab_size=13)
    model = GPT(config)
    idx = torch.randint(0, 13, (4, config.block_size))  # every position, every token likely used
    idx[0, :13] = torch.arange(13)
    _, loss = model(idx, torch.roll(idx, -1, dims=1))
    loss.backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None, name
        assert torch.isfinite(parameter.grad).all(), name
        assert parameter.grad.abs().sum() > 0, name


@pytest.mark.task("3.1", "3.2", "3.3", "3.4", "3.5", "3.6", "3.7", "3.8", "3.9")
def test_loss_at_initialisation_is_log_vocab_size(make_config):
    torch.manual_seed(0)
    config = make_config(vocab_size=512, n_embd=64)
    model = GPT(config)
    idx = torch.randint(0, 512, (8, 16))
    _, loss = model(idx, torch.randint(0, 512, (8, 16)))
    assert abs(loss.item() - math.log(512)) < 0.1


@pytest.mark.task("3.1", "3.2", "3.3", "3.4", "3.5", "3.6", "3.7", "3.8", "3.9")
def test_a_tiny_model_overfits_one_batch(make_config):
    torch.manual_seed(0)
    model = GPT(make_config())
    idx = torch.randint(0, 61, (4, 16))
    targets = torch.randint(0, 61, (4, 16))
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
    for _ in range(150):
        _, loss = model(idx, targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.05


@pytest.mark.task("3.1", "3.2", "3.3", "3.4", "3.5", "3.6", "3.7", "3.8", "3.9")
def test_targets_of_minus_one_are_ignored(model):
    idx = torch.randint(0, 61, (2, 8))
    targets = torch.randint(0, 61, (2, 8))
    masked = targets.clone()
    masked[:, :3] = -1
    logits, loss = model(idx, masked)
    kept = torch.nn.functional.cross_entropy(logits[:, 3:].reshape(-1, 61), targets[:, 3:].ravel())
    torch.testing.assert_close(loss, kept)


@pytest.mark.task("3.1", "3.2", "3.3", "3.4", "3.5", "3.6", "3.7", "3.8")
def test_input_errors_are_clear(model):
    with pytest.raises(CourseError, match="longer than block_size=16"):
        model(torch.zeros(1, 17, dtype=torch.long))
    with pytest.raises(CourseError, match=r"must be \(batch, time\) token ids, got shape \(5,\)"):
        model(torch.zeros(5, dtype=torch.long))
    with pytest.raises(CourseError, match=r"targets must have the input's shape \(1, 4\)"):
        model(torch.zeros(1, 4, dtype=torch.long), torch.zeros(4, dtype=torch.long))


@pytest.mark.task("3.6", "3.7")
def test_embed_adds_the_position_table_to_the_token_embeddings(model):
    idx = torch.randint(0, 61, (2, 5))
    expected = model.token_embedding(idx) + model.position_encoding.table.weight[:5]
    torch.testing.assert_close(model.embed(idx), expected, atol=0, rtol=0)


@pytest.mark.task("3.6", "3.7")
def test_weight_tying_shares_one_tensor(make_config):
    tied = GPT(make_config(tie_weights=True))
    assert tied.lm_head.weight is tied.token_embedding.weight
    untied = GPT(make_config(tie_weights=False))
    assert untied.lm_head.weight is not untied.token_embedding.weight
    V, C = 61, 32
    assert untied.num_parameters() - tied.num_parameters() == V * C


@pytest.mark.task("3.1", "3.2", "3.3", "3.4", "3.5", "3.6", "3.7", "3.8")
def test_eval_is_deterministic_and_dropout_acts_in_training(make_config):
    torch.manual_seed(0)
    model = GPT(make_config(dropout=0.2))
    idx = torch.randint(0, 61, (2, 10))
    model.train()
    assert not torch.equal(model(idx)[0], model(idx)[0])
    model.eval()
    torch.testing.assert_close(model(idx)[0], model(idx)[0], atol=0, rtol=0)


@pytest.mark.task("3.6", "3.7")
def test_gpt2_initialisation(make_config):
    torch.manual_seed(0)
    config = make_config(n_layer=8, n_embd=128, block_size=64)
    model = GPT(config)
    residual_std = 0.02 / math.sqrt(2 * config.n_layer)
    for name, parameter in model.named_parameters():
        if name.endswith("c_proj.weight"):
            assert parameter.std().item() == pytest.approx(residual_std, rel=0.05), name
        elif name.endswith("bias"):
            assert torch.all(parameter == 0), name
        elif parameter.dim() == 2:
            assert parameter.std().item() == pytest.approx(0.02, rel=0.05), name
            assert abs(parameter.mean().item()) < 0.002, name
    for module in model.modules():
        if isinstance(module, LayerNorm):
            assert torch.all(module.weight == 1)


def expected_parameters(V: int, T: int, L: int, C: int, tied: bool = True) -> dict[str, int]:
    """GPT-2's parameter count from its shapes (with biases)."""
    return {
        "token embedding": V * C,
        "position embedding": T * C,
        "attention": L * (C * 3 * C + 3 * C + C * C + C),
        "MLP": L * (C * 4 * C + 4 * C + 4 * C * C + C),
        "layer norms": (2 * L + 1) * 2 * C,
        "LM head": 0 if tied else V * C,
    }


@pytest.mark.task("3.7")
@pytest.mark.parametrize(
    "V, T, L, H, C, tied",
    [
        pytest.param(256, 64, 4, 4, 128, True, marks=pytest.mark.task("3.6")),  # baby
        pytest.param(1024, 256, 4, 4, 256, True, marks=pytest.mark.task("3.6")),  # tiny
        (1024, 256, 4, 4, 256, False),
        pytest.param(50257, 1024, 12, 12, 768, True, marks=pytest.mark.task("3.6")),  # GPT-2 small
    ],
)
def test_parameter_breakdown_matches_the_formula(V, T, L, H, C, tied):
    config = GPTConfig(vocab_size=V, block_size=T, n_layer=L, n_head=H, n_embd=C, tie_weights=tied)
    with torch.device("meta"):  # shapes only, no memory
        model = GPT(config)
    breakdown = model.parameter_breakdown()
    assert breakdown == expected_parameters(V, T, L, C, tied)
    assert sum(breakdown.values()) == model.num_parameters()
    embeddings = breakdown["token embedding"] + breakdown["position embedding"]
    assert model.num_parameters(include_embeddings=False) == model.num_parameters() - embeddings


@pytest.mark.task("3.6", "3.7")
def test_gpt2_small_has_124_439_808_parameters():
    with torch.device("meta"):
        model = GPT(GPTConfig(vocab_size=50257))
    assert model.num_parameters() == sum(expected_parameters(50257, 1024, 12, 768).values())
    assert model.num_parameters() == 124_439_808
