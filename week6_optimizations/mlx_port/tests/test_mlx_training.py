"""The MLX training step: accumulation, clipping, AdamW groups, compile, and learning at all."""

from __future__ import annotations

import mlx.core as mx
import numpy as np
import pytest
import torch
from mlx.utils import tree_flatten

from week4_training.optim import make_optimizer as make_torch_optimizer
from week6_optimizations.mlx_port.convert import model_weights
from week6_optimizations.mlx_port.model import MLXGPT, language_model_loss
from week6_optimizations.mlx_port.tests.fixtures import paired_models, tiny_config
from week6_optimizations.mlx_port.train_step import (
    accumulate_gradients,
    clip_gradients,
    global_norm,
    make_optimizer,
    make_train_step,
)


def batches(k: int, batch: int, config, seed: int = 0) -> tuple[mx.array, mx.array]:
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, config.vocab_size, size=(k, batch, config.block_size + 1))
    return mx.array(ids[..., :-1].astype(np.int32)), mx.array(ids[..., 1:].astype(np.int32))


def flat(grads) -> dict[str, np.ndarray]:
    return {k: np.array(v) for k, v in tree_flatten(grads)}


def test_accumulating_micro_batches_equals_one_larger_batch():
    config = tiny_config()
    _, model = paired_models(config)
    xs, ys = batches(3, 2, config)
    loss_k, grads_k = accumulate_gradients(model, xs, ys)
    big_x, big_y = xs.reshape(1, 6, -1), ys.reshape(1, 6, -1)
    loss_1, grads_1 = accumulate_gradients(model, big_x, big_y)
    assert abs(loss_k.item() - loss_1.item()) < 1e-5
    big, small = flat(grads_1), flat(grads_k)
    for name in big:
        np.testing.assert_allclose(small[name], big[name], atol=1e-5, rtol=0, err_msg=name)


@pytest.mark.task("6.1", "6.2")  # the PyTorch side is week 6's RoPE
def test_gradients_equal_pytorchs():
    config = tiny_config(position="rope")
    torch_model, model = paired_models(config)
    xs, ys = batches(1, 3, config)
    _, grads = accumulate_gradients(model, xs, ys)
    _, loss = torch_model(
        torch.from_numpy(np.array(xs[0])).long(), torch.from_numpy(np.array(ys[0])).long()
    )
    loss.backward()
    ours = flat(grads)
    for name, parameter in torch_model.named_parameters():
        np.testing.assert_allclose(ours[name], parameter.grad.numpy(), atol=1e-5, err_msg=name)


@pytest.mark.parametrize("max_norm", [0.05, 1.0, 1e6])
def test_clipping_bounds_the_global_norm_and_reports_the_norm_before(max_norm):
    config = tiny_config()
    _, model = paired_models(config)
    _, grads = accumulate_gradients(model, *batches(1, 2, config))
    before = global_norm(grads).item()
    clipped, reported = clip_gradients(grads, max_norm)
    after = global_norm(clipped).item()
    assert reported.item() == pytest.approx(before, rel=1e-6)
    assert after <= max_norm * (1 + 1e-5)
    assert after == pytest.approx(min(before, max_norm), rel=1e-4)
    unclipped, norm = clip_gradients(grads, 0.0)  # 0 turns clipping off
    assert norm.item() == pytest.approx(before) and global_norm(unclipped).item() == pytest.approx(
        before
    )


def test_adamw_steps_match_pytorchs_adamw_with_the_same_decay_groups():
    """Three steps of week 4's AdamW (two groups) and MLX's MultiOptimizer agree."""
    config = tiny_config(tie_weights=False)
    torch_model, model = paired_models(config)
    settings = dict(lr=1e-2, weight_decay=0.5, betas=(0.9, 0.99))
    torch_opt = make_torch_optimizer(torch_model, device=torch.device("cpu"), **settings)
    optimizer = make_optimizer(**settings)
    step = make_train_step(model, optimizer, grad_clip=0.0, compile=False)
    model.train()
    torch_model.train()
    for seed in range(3):
        xs, ys = batches(1, 2, config, seed)
        step(xs, ys)
        torch_opt.zero_grad()
        _, loss = torch_model(
            torch.from_numpy(np.array(xs[0])).long(), torch.from_numpy(np.array(ys[0])).long()
        )
        loss.backward()
        torch_opt.step()
    ours = model_weights(model)
    for name, parameter in torch_model.named_parameters():
        np.testing.assert_allclose(
            np.array(ours[name]), parameter.detach().numpy(), atol=2e-5, err_msg=name
        )


def test_weight_decay_touches_matrices_only():
    config = tiny_config()
    _, model = paired_models(config)
    before = {k: np.array(v) for k, v in model_weights(model).items()}
    optimizer = make_optimizer(lr=0.1, weight_decay=1.0, betas=(0.9, 0.99))
    zero = {k: mx.zeros_like(v) for k, v in model_weights(model).items()}
    from mlx.utils import tree_unflatten

    optimizer.update(model, tree_unflatten(list(zero.items())))
    after = model_weights(model)
    for name, value in before.items():
        if value.ndim >= 2:  # decayed: w <- w (1 - lr wd)
            np.testing.assert_allclose(np.array(after[name]), value * 0.9, rtol=1e-6)
        else:
            np.testing.assert_array_equal(np.array(after[name]), value)


def test_compiled_step_equals_the_eager_step_with_dropout():
    config = tiny_config(dropout=0.2)
    results = []
    for compile in (False, True):
        _, model = paired_models(config)
        model.train()
        optimizer = make_optimizer(lr=1e-2, weight_decay=0.1, betas=(0.9, 0.99))
        step = make_train_step(model, optimizer, grad_clip=1.0, compile=compile)
        mx.random.seed(5)
        losses = []
        for seed in range(3):
            optimizer.learning_rate = 1e-2 / (seed + 1)
            loss, _ = step(*batches(2, 2, config, seed))
            losses.append(loss.item())
        results.append((losses, np.array(model_weights(model)["blocks.0.attn.c_attn.weight"])))
    (eager_losses, eager_w), (compiled_losses, compiled_w) = results
    np.testing.assert_allclose(compiled_losses, eager_losses, atol=1e-5)
    np.testing.assert_allclose(compiled_w, eager_w, atol=1e-5)


def test_a_tiny_model_overfits_one_batch(seeded_mlx):
    config = tiny_config(vocab_size=32)
    model = MLXGPT(config)
    optimizer = make_optimizer(lr=1e-2, weight_decay=0.0, betas=(0.9, 0.99))
    step = make_train_step(model, optimizer, grad_clip=1.0, compile=False)
    xs, ys = batches(1, 2, config)
    first = language_model_loss(model(xs[0]), ys[0]).item()
    for _ in range(60):
        loss, _ = step(xs, ys)
        mx.eval(loss)
    assert first > 3.0
    assert loss.item() < 0.2
