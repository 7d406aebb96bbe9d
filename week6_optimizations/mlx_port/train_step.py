"""One optimizer step in MLX: function transforms instead of `.backward()`.

    loss_and_grad = nn.value_and_grad(model, loss)     a NEW function: (x, y) -> (loss, grads)
    grads: a tree of arrays shaped like model.trainable_parameters()

PyTorch accumulates gradients into `.grad` fields as a side effect of `backward()`; MLX returns
them as values, so accumulation is explicit: add the k micro-batch gradient trees, then scale the
sum by 1/k (the gradient of the mean loss, as one k-times-larger batch would give).

Weight decay only on matrices (dim >= 2), as week 4: MLX's `AdamW` decays every parameter it is
given, so the port uses `optim.MultiOptimizer` with two AdamWs, one with `weight_decay` for
parameters whose filter `ndim >= 2` holds and one with 0 for the rest (biases, LayerNorm gains).
`bias_correction=True` matches PyTorch's AdamW (MLX's default leaves it off).

`train.dtype: bfloat16` runs the forward and backward in bfloat16 with float32 master weights
(precision.py): the gradients, the clipping and AdamW are float32 in both precisions.

`mx.compile` traces the step once and fuses it. A compiled function must not hide state: the
model's parameters, the optimizer's moments and learning rate, and the random key (dropout) are
read and written by the step, so they are declared as its `inputs` and `outputs`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import mlx.core as mx
import mlx.nn as nn
import mlx.optimizers as optim
from mlx.utils import tree_map, tree_reduce

from week6_optimizations.mlx_port.model import language_model_loss
from week6_optimizations.mlx_port.precision import value_and_grad_in


def loss_function(model: nn.Module) -> Callable[[mx.array, mx.array], mx.array]:
    """(x, y) -> mean cross-entropy of `model` on that batch."""

    def loss(x: mx.array, y: mx.array) -> mx.array:
        return language_model_loss(model(x), y)

    return loss


def accumulate_gradients(
    model: nn.Module, xs: mx.array, ys: mx.array, dtype: mx.Dtype = mx.float32
) -> tuple[mx.array, dict]:
    """(k, B, T) micro-batches -> (mean loss, mean gradient): sum the k gradients, then scale.
    The model computes in `dtype`; the gradients are float32 (the weights' own dtype)."""
    loss_and_grad = value_and_grad_in(model, loss_function(model), dtype)
    k = xs.shape[0]
    total_loss, total_grads = loss_and_grad(xs[0], ys[0])
    for i in range(1, k):
        loss, grads = loss_and_grad(xs[i], ys[i])
        total_loss = total_loss + loss
        total_grads = tree_map(mx.add, total_grads, grads)
    return total_loss / k, tree_map(lambda g: g / k, total_grads)


def global_norm(grads: dict) -> mx.array:
    """sqrt of the sum of every gradient entry squared: the norm of all gradients as one vector."""
    return mx.sqrt(tree_reduce(lambda total, g: total + (g * g).sum(), grads, mx.array(0.0)))


def clip_gradients(grads: dict, max_norm: float) -> tuple[dict, mx.array]:
    """Scale all gradients together so their global norm is at most `max_norm` (0: no limit);
    returns (gradients, norm before clipping)."""
    if max_norm > 0:
        return optim.clip_grad_norm(grads, max_norm)
    return grads, global_norm(grads)


def decays(path: str, parameter: mx.array) -> bool:
    """The decay group's filter: matrices and embedding tables (ndim >= 2), as in week 4."""
    return parameter.ndim >= 2


def make_optimizer(
    *, lr: float, weight_decay: float, betas: tuple[float, float]
) -> optim.MultiOptimizer:
    """AdamW in two groups: `weight_decay` on ndim >= 2 parameters, 0 on the rest."""

    def adamw(decay: float) -> optim.AdamW:
        return optim.AdamW(
            learning_rate=lr, betas=list(betas), eps=1e-8, weight_decay=decay, bias_correction=True
        )

    return optim.MultiOptimizer([adamw(weight_decay), adamw(0.0)], filters=[decays])


def make_train_step(
    model: nn.Module,
    optimizer: optim.Optimizer,
    grad_clip: float,
    compile: bool = True,
    dtype: mx.Dtype = mx.float32,
) -> Callable[[mx.array, mx.array], tuple[mx.array, mx.array]]:
    """(xs, ys) of shape (k, B, T) -> (mean loss, gradient norm), updating model and optimizer;
    the forward and backward in `dtype` (float32 or bfloat16), the update in float32.

    The optimizer state must exist before tracing (`optimizer.init`), and a resumed state must be
    loaded before this is called: compile captures the state containers it sees now. Set the
    learning rate with `optimizer.learning_rate = lr` before each call (it lives in the state).
    """
    optimizer.init(model.trainable_parameters())

    def step(xs: mx.array, ys: mx.array) -> tuple[mx.array, mx.array]:
        loss, grads = accumulate_gradients(model, xs, ys, dtype)
        grads, norm = clip_gradients(grads, grad_clip)
        optimizer.update(model, grads)
        return loss, norm

    if not compile:
        return step
    state = [model.state, optimizer.state, mx.random.state]
    return partial(mx.compile, inputs=state, outputs=state)(step)
