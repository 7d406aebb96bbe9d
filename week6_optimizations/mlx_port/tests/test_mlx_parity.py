"""The same model in two frameworks: logits, loss, KV cache, and lossless weight conversion."""

from __future__ import annotations

import itertools

import mlx.core as mx
import numpy as np
import pytest
import torch

from shared.errors import CourseError
from week3_model import GPT, GPTConfig
from week6_optimizations.mlx_port.convert import (
    load_weights_into,
    mlx_to_state_dict,
    model_weights,
    mx_to_torch,
    state_dict_to_mlx,
    torch_to_mx,
)
from week6_optimizations.mlx_port.kv_cache import KVCache, cached_forward
from week6_optimizations.mlx_port.layers import LearnedPosition, RotaryPosition, SDPAttention
from week6_optimizations.mlx_port.model import MLXGPT, language_model_loss
from week6_optimizations.mlx_port.tests.fixtures import (
    paired_models,
    tiny_config,
    trained_torch_model,
)

# The PyTorch twins of these cases are week 6's own code: in the workbook, tasks 6.1-6.3.
ROPE_TASKS = pytest.mark.task("6.1", "6.2")
SDPA_TASK = pytest.mark.task("6.3")


def option(attention: str, position: str, tie: bool) -> object:
    """One (attention, position, tie) case, marked with the week-6 tasks its PyTorch side runs."""
    marks = [SDPA_TASK] * (attention == "sdpa") + [ROPE_TASKS] * (position == "rope")
    return pytest.param(attention, position, tie, marks=marks)


OPTIONS = [
    option(*case)
    for case in itertools.product(["naive", "sdpa"], ["learned", "rope"], [True, False])
]


@pytest.mark.parametrize(("attention", "position", "tie"), OPTIONS)
def test_logits_and_loss_match_pytorch(attention, position, tie):
    config = tiny_config(attention=attention, position=position, tie_weights=tie, bias=not tie)
    torch_model, mlx_model = paired_models(config)
    x = torch.randint(
        0, config.vocab_size, (3, config.block_size), generator=torch.Generator().manual_seed(1)
    )
    y = torch.roll(x, -1, dims=1)
    y[0, :4] = -1  # ignored targets are ignored in both
    with torch.no_grad():
        torch_logits, torch_loss = torch_model(x, y)
    logits = mlx_model(mx.array(x.numpy()))
    loss = language_model_loss(logits, mx.array(y.numpy()))
    np.testing.assert_allclose(np.array(logits), torch_logits.numpy(), atol=1e-4, rtol=0)
    assert abs(loss.item() - torch_loss.item()) < 1e-4


# Trained weights make larger logits than a fresh model's, and float32 rounding grows with
# them: measured on the models below (max |logit| about 11 after 60 steps), MLX differed from
# PyTorch by at most 4.8e-6 and PyTorch's own naive and sdpa attention from each other by 2.9e-6
# (baby shape after 300 steps: 1.05e-5 and 8.6e-6, see the README).
TRAINED_LOGITS_TOLERANCE = 1e-5


@SDPA_TASK
@pytest.mark.parametrize(
    ("position", "tie"),
    [
        pytest.param(p, t, marks=[ROPE_TASKS] * (p == "rope"))
        for p in ("learned", "rope")
        for t in (True, False)
    ],
)
def test_logits_match_pytorch_on_a_trained_model(position, tie):
    config = tiny_config(vocab_size=257, block_size=32, n_embd=32, position=position)
    config = GPTConfig(**{**vars(config), "tie_weights": tie, "bias": not tie})
    trained, text = trained_torch_model(config)
    x, y = text[:-1].reshape(4, -1), text[1:].reshape(4, -1)
    for attention in ("naive", "sdpa"):
        torch_model = GPT(GPTConfig(**{**vars(config), "attention": attention})).eval()
        torch_model.load_state_dict(trained.state_dict())
        mlx_model = MLXGPT(torch_model.config)
        load_weights_into(mlx_model, state_dict_to_mlx(trained.state_dict(), config), "test")
        mlx_model.eval()
        with torch.no_grad():
            torch_logits, loss = torch_model(x, y)
        assert loss.item() < 4.0  # trained: a fresh model scores ln(257) = 5.55 nats
        with mx.stream(mx.cpu):  # the bound was measured on the CPU (Apple's GPU: unmeasured)
            mlx_logits = np.array(mlx_model(mx.array(x.numpy())))
        np.testing.assert_allclose(
            mlx_logits, torch_logits.numpy(), atol=TRAINED_LOGITS_TOLERANCE, rtol=0
        )


@pytest.mark.parametrize("position", ["learned", "rope"])
def test_kv_cache_gives_the_logits_of_a_full_forward(position):
    config = tiny_config(position=position, attention="sdpa")
    _, model = paired_models(config)
    ids = mx.array(np.arange(11).reshape(1, 11) % config.vocab_size)
    full = model(ids)
    cache = KVCache(config.n_layer, config.block_size)
    prefill = cached_forward(model, ids[:, :7], cache)
    steps = [cached_forward(model, ids[:, t : t + 1], cache) for t in range(7, 11)]
    assert cache.length == 11
    stepped = mx.concatenate([prefill, *steps], axis=1)
    np.testing.assert_allclose(np.array(stepped), np.array(full), atol=1e-5)


def test_cached_forward_stops_at_block_size():
    config = tiny_config()
    _, model = paired_models(config)
    cache = KVCache(config.n_layer, config.block_size)
    cached_forward(model, mx.zeros((1, 12), dtype=mx.int32), cache)
    with pytest.raises(CourseError, match="starting at position 12 .* block_size=16"):
        cached_forward(model, mx.zeros((1, 5), dtype=mx.int32), cache)
    cache.reset()
    assert cache.length == 0


def test_the_causal_mask_is_future_as_in_pytorch_and_not_a_parameter():
    torch_model, model = paired_models(tiny_config())
    future = model.blocks[0].attn.future
    assert future.dtype == mx.bool_
    np.testing.assert_array_equal(np.array(future), torch_model.blocks[0].attn.future.numpy())
    assert not [name for name in model_weights(model) if "future" in name]


def test_rope_adapts_any_attention_class_once():
    rotary = RotaryPosition.attention_class(SDPAttention)
    assert rotary is RotaryPosition.attention_class(SDPAttention)
    assert issubclass(rotary, SDPAttention) and rotary.__name__ == "RotarySDPAttention"
    assert LearnedPosition.attention_class(SDPAttention) is SDPAttention
    attention = MLXGPT(tiny_config(position="rope", attention="sdpa")).blocks[0].attn
    assert type(attention) is rotary


def test_torch_to_mlx_to_torch_returns_identical_tensors():
    config = tiny_config(position="rope")
    torch_model, _ = paired_models(config)
    state = torch_model.state_dict()
    back = mlx_to_state_dict(state_dict_to_mlx(state, config), config)
    assert list(back) == list(state)
    for name, tensor in state.items():
        assert back[name].dtype == tensor.dtype
        assert torch.equal(back[name], tensor), name
    # the tied head is one tensor again, as in PyTorch's own state_dict
    assert back["lm_head.weight"] is back["token_embedding.weight"]
    assert "lm_head.weight" not in state_dict_to_mlx(state, config)


def test_untied_head_crosses_under_its_own_name():
    config = tiny_config(tie_weights=False)
    torch_model, mlx_model = paired_models(config)
    assert "lm_head.weight" in model_weights(mlx_model)
    back = mlx_to_state_dict(model_weights(mlx_model), config)
    assert torch.equal(back["lm_head.weight"], torch_model.lm_head.weight.detach())


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_single_tensors_cross_bit_for_bit(dtype):
    tensor = torch.randn(5, 7).to(dtype)
    array = torch_to_mx(tensor)
    assert str(array.dtype).endswith(str(dtype).split(".")[-1])
    assert torch.equal(mx_to_torch(array), tensor)


def test_loading_weights_of_another_shape_is_a_clear_error():
    small, big = tiny_config(), tiny_config(n_embd=32)
    weights = model_weights(MLXGPT(small))
    with pytest.raises(CourseError, match="another shape"):
        load_weights_into(MLXGPT(big), weights, "x.safetensors")
    del weights["ln_f.bias"]
    with pytest.raises(CourseError, match="missing: ln_f.bias"):
        load_weights_into(MLXGPT(small), weights, "x.safetensors")


def test_bad_inputs_are_clear_errors():
    model = MLXGPT(tiny_config())
    with pytest.raises(CourseError, match="batch, time"):
        model(mx.zeros((4,), dtype=mx.int32))
    with pytest.raises(CourseError, match="block_size=16"):
        model(mx.zeros((1, 17), dtype=mx.int32))
    with pytest.raises(CourseError, match="vocab_size"):
        MLXGPT(tiny_config(vocab_size=None))
    with pytest.raises(CourseError, match="even head size"):
        MLXGPT(tiny_config(position="rope", n_embd=6, n_head=2))


def test_parameter_count_matches_pytorch():
    for tie in (True, False):
        torch_model, mlx_model = paired_models(tiny_config(tie_weights=tie))
        assert mlx_model.num_parameters() == torch_model.num_parameters()
