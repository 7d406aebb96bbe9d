"""Each part on its own: shapes, and equality with a reference computation."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from week3_model import (
    MLP,
    Block,
    CausalSelfAttention,
    LayerNorm,
    LearnedPosition,
    attention_weights,
)


@pytest.mark.task("3.1")
@pytest.mark.parametrize("bias", [True, False])
def test_layernorm_matches_torch(bias):
    torch.manual_seed(0)
    ours, reference = LayerNorm(24, bias=bias), nn.LayerNorm(24, bias=bias)
    with torch.no_grad():
        ours.weight.normal_()
        reference.weight.copy_(ours.weight)
        if bias:
            ours.bias.normal_()
            reference.bias.copy_(ours.bias)
    x = torch.randn(3, 5, 24) * 4 + 2
    torch.testing.assert_close(ours(x), reference(x))
    assert (ours.bias is None) == (not bias)
    assert len(list(ours.parameters())) == (2 if bias else 1)


@pytest.mark.task("3.1")
def test_layernorm_normalises_each_token():
    y = LayerNorm(16)(torch.randn(2, 7, 16) * 10 + 3)
    torch.testing.assert_close(y.mean(-1), torch.zeros(2, 7), atol=1e-5, rtol=0)
    torch.testing.assert_close(y.var(-1, unbiased=False), torch.ones(2, 7), atol=1e-3, rtol=0)


@pytest.mark.task("3.4")
def test_mlp_is_4x_wide_with_tanh_gelu(make_config):
    config = make_config(bias=True)
    mlp = MLP(config).eval()
    assert mlp.c_fc.weight.shape == (4 * config.n_embd, config.n_embd)
    assert mlp.c_proj.weight.shape == (config.n_embd, 4 * config.n_embd)
    x = torch.randn(2, 5, config.n_embd)
    h = mlp.c_fc(x)
    gelu = 0.5 * h * (1 + torch.tanh(math.sqrt(2 / math.pi) * (h + 0.044715 * h**3)))
    torch.testing.assert_close(mlp(x), mlp.c_proj(gelu))
    assert mlp(x).shape == x.shape


def test_no_bias_means_no_bias_anywhere(make_config):
    block = Block(make_config(bias=False))
    assert all(not name.endswith("bias") for name, _ in block.named_parameters())


def test_learned_position_adds_its_rows_and_leaves_attention_alone(make_config):
    config = make_config()
    position = LearnedPosition(config)
    positions = torch.arange(3, 8)
    assert positions.tolist() == [3, 4, 5, 6, 7]
    x = torch.randn(2, 5, config.n_embd)
    torch.testing.assert_close(position(x, positions), x + position.table.weight[3:8])
    assert LearnedPosition.attention_class(CausalSelfAttention) is CausalSelfAttention


@pytest.mark.task("3.2")
def test_attention_weights_are_causal_and_rows_sum_to_one():
    torch.manual_seed(0)
    T = 9
    q, k = torch.randn(2, 3, T, 8) * 3, torch.randn(2, 3, T, 8) * 3
    future = torch.ones(T, T, dtype=torch.bool).triu(1)
    weights = attention_weights(q, k, future)
    assert weights.shape == (2, 3, T, T)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 3, T))
    assert torch.all(weights[..., future] == 0)
    assert torch.all(weights[..., ~future] > 0)
    assert torch.all(weights[..., 0, 0] == 1)  # the first token can only look at itself


@pytest.mark.task("3.2")
def test_attention_weights_scale_by_sqrt_head_size():
    q, k = torch.randn(1, 1, 4, 16), torch.randn(1, 1, 4, 16)
    no_mask = torch.zeros(4, 4, dtype=torch.bool)
    expected = torch.softmax(q @ k.transpose(-2, -1) / 4.0, dim=-1)
    torch.testing.assert_close(attention_weights(q, k, no_mask), expected)


def test_split_and_merge_heads_are_inverse_reshapes(make_config):
    config = make_config()
    attention = CausalSelfAttention(config)
    x = torch.randn(2, 5, config.n_embd)
    heads = attention.split_heads(x)
    assert heads.shape == (2, config.n_head, 5, config.head_size)
    # head h holds channels h*d .. (h+1)*d - 1 of every token
    torch.testing.assert_close(heads[:, 1], x[..., config.head_size : 2 * config.head_size])
    torch.testing.assert_close(attention.merge_heads(heads), x)


@pytest.mark.task("3.2", "3.3")
def test_attention_matches_torch_scaled_dot_product(make_config):
    torch.manual_seed(0)
    config = make_config()
    attention = CausalSelfAttention(config).eval()
    x = torch.randn(3, 11, config.n_embd)
    out = attention(x)
    q, k, v = (attention.split_heads(t) for t in attention.c_attn(x).split(config.n_embd, dim=2))
    y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    expected = attention.c_proj(attention.merge_heads(y))
    assert out.shape == x.shape
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)


@pytest.mark.task("3.2", "3.3")
def test_attention_is_project_attend_output(make_config):
    config = make_config()
    attention = CausalSelfAttention(config).eval()
    x = torch.randn(2, 6, config.n_embd)
    q, k, v = attention.project(x)
    assert q.shape == k.shape == v.shape == (2, config.n_head, 6, config.head_size)
    y = attention.attend(q, k, v)
    assert y.shape == q.shape
    assert attention.output(y).shape == x.shape
    torch.testing.assert_close(attention.output(y), attention(x), atol=0, rtol=0)


@pytest.mark.task("3.2", "3.3")
def test_the_last_queries_over_all_keys_are_the_last_rows(make_config):
    """`attend` takes T queries that are the last T of S keys: the mask is rows S-T..S-1."""
    config = make_config()
    attention = CausalSelfAttention(config).eval()
    q, k, v = attention.project(torch.randn(2, 9, config.n_embd))
    every_row = attention.attend(q, k, v)
    torch.testing.assert_close(attention.attend(q[:, :, -3:], k, v), every_row[:, :, -3:])
    torch.testing.assert_close(attention.attend(q[:, :, -1:], k, v), every_row[:, :, -1:])


@pytest.mark.task("3.2", "3.3")
def test_attention_keeps_weights_only_when_asked(make_config):
    config = make_config()
    attention = CausalSelfAttention(config).eval()
    x = torch.randn(2, 6, config.n_embd)
    attention(x)
    assert attention.last_weights is None
    attention.keep_weights = True
    attention(x)
    assert attention.last_weights.shape == (2, config.n_head, 6, 6)
    assert not attention.last_weights.requires_grad


def test_causal_mask_is_a_non_persistent_buffer(make_config):
    config = make_config()
    attention = CausalSelfAttention(config)
    assert attention.future.shape == (config.block_size, config.block_size)
    assert attention.future.dtype == torch.bool
    assert "future" not in attention.state_dict()


@pytest.mark.task("3.1", "3.2", "3.3", "3.4", "3.5")
def test_block_shapes_and_residual(make_config):
    config = make_config()
    block = Block(config).eval()
    x = torch.randn(2, 7, config.n_embd)
    assert block(x).shape == x.shape
    # With both residual branches zeroed out, a Block is exactly the identity.
    with torch.no_grad():
        block.attn.c_proj.weight.zero_()
        block.attn.c_proj.bias.zero_()
        block.mlp.c_proj.weight.zero_()
        block.mlp.c_proj.bias.zero_()
    torch.testing.assert_close(block(x), x)


@pytest.mark.task("3.1")
def test_the_mlp_width_and_the_norm_epsilon_follow_the_config():
    from week3_model import GPTConfig, make_mlp, make_norm

    config = GPTConfig(vocab_size=11, block_size=8, n_layer=1, n_head=2, n_embd=16)
    assert make_mlp(config).c_fc.weight.shape == (64, 16)  # GPT-2's 4 x n_embd by default
    wide = GPTConfig(vocab_size=11, block_size=8, n_layer=1, n_head=2, n_embd=16, d_ff=40)
    mlp = make_mlp(wide)
    assert mlp.c_fc.weight.shape == (40, 16) and mlp.c_proj.weight.shape == (16, 40)
    loose = GPTConfig(vocab_size=11, block_size=8, n_layer=1, n_head=2, n_embd=16, norm_eps=0.5)
    norm = make_norm(loose)
    x = torch.randn(3, 16) * 0.1  # small variance: the epsilon matters
    reference = F.layer_norm(x, (16,), norm.weight, norm.bias, eps=0.5)
    torch.testing.assert_close(norm(x), reference)
    assert not torch.allclose(make_norm(config)(x), reference)
