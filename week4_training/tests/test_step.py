import math

import pytest
import torch

from shared.device import autocast
from week3_model import GPT, GPTConfig
from week4_training.optim import make_optimizer
from week4_training.step import accumulate_gradients, clip_gradients, make_scaler, optimizer_step

CPU = torch.device("cpu")


def tiny_gpt(seed: int = 0) -> GPT:
    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=50, block_size=8, n_layer=2, n_head=2, n_embd=16))


def batch(n: int, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    window = torch.randint(50, (n, 9), generator=g)
    return window[:, :-1], window[:, 1:]


def grads(model: GPT) -> list[torch.Tensor]:
    return [p.grad.detach().clone() for p in model.parameters()]


@pytest.mark.task("4.4")
def test_accumulating_k_micro_batches_equals_one_big_batch():
    x, y = batch(12)
    big, small = tiny_gpt(), tiny_gpt()
    scaler = make_scaler(CPU, "float32")
    loss_big = accumulate_gradients(big, [(x, y)], scaler)
    micro = [(x[i : i + 3], y[i : i + 3]) for i in range(0, 12, 3)]
    loss_small = accumulate_gradients(small, micro, scaler)
    assert loss_small == pytest.approx(loss_big, abs=1e-6)
    for a, b in zip(grads(big), grads(small), strict=True):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=0)


def test_clipping_bounds_the_global_norm_and_reports_the_norm_before():
    model = tiny_gpt()
    for p in model.parameters():
        p.grad = torch.full_like(p, 3.0)
    expected = math.sqrt(sum(9.0 * p.numel() for p in model.parameters()))
    before = clip_gradients(model.parameters(), 1.0)
    assert before == pytest.approx(expected, rel=1e-5)
    after = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in model.parameters()]))
    assert float(after) == pytest.approx(1.0, rel=1e-5)


def test_clip_zero_means_off():
    model = tiny_gpt()
    for p in model.parameters():
        p.grad = torch.full_like(p, 3.0)
    clip_gradients(model.parameters(), 0.0)
    assert all(torch.all(p.grad == 3.0) for p in model.parameters())


@pytest.mark.task("4.3")
@pytest.mark.task("4.4")
@pytest.mark.task("4.5")
def test_float16_inf_gradient_skips_the_step_and_halves_the_scale():
    model = tiny_gpt()
    optimizer = make_optimizer(model, lr=1e-2, weight_decay=0.1, betas=(0.9, 0.95), device=CPU)
    scaler = make_scaler(CPU, "float16")
    assert scaler.is_enabled()
    x, y = batch(2)
    poison = model.ln_f.weight.register_hook(lambda g: torch.full_like(g, math.inf))
    before = [p.detach().clone() for p in model.parameters()]
    scale = scaler.get_scale()
    result = optimizer_step(
        model, optimizer, scaler, [(x, y)], grad_clip=1.0, precision=autocast(CPU, "float16")
    )
    assert result.skipped
    assert scaler.get_scale() == scale / 2
    for a, b in zip(before, model.parameters(), strict=True):
        assert torch.equal(a, b)
    poison.remove()
    result = optimizer_step(
        model, optimizer, scaler, [(x, y)], grad_clip=1.0, precision=autocast(CPU, "float16")
    )
    assert not result.skipped and math.isfinite(result.loss)
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def test_scaler_is_off_for_float32_and_bfloat16():
    assert not make_scaler(CPU, "float32").is_enabled()
    assert not make_scaler(CPU, "bfloat16").is_enabled()


@pytest.mark.task("4.3")
@pytest.mark.task("4.4")
@pytest.mark.task("4.5")
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_a_tiny_model_overfits_one_batch(dtype):
    model = tiny_gpt()
    optimizer = make_optimizer(model, lr=1e-2, weight_decay=0.0, betas=(0.9, 0.95), device=CPU)
    scaler = make_scaler(CPU, dtype)
    x, y = batch(4)
    first = None
    for _ in range(80):
        result = optimizer_step(
            model, optimizer, scaler, [(x, y)], grad_clip=1.0, precision=autocast(CPU, dtype)
        )
        first = result.loss if first is None else first
    assert first > 3.5  # about ln(50) = 3.9 at the start
    assert result.loss < 0.3
