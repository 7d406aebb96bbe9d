"""bfloat16 training in MLX, by hand: compute in bfloat16, keep float32 master weights.

    w16 = bf16(w32)                       the model computes with a bfloat16 copy of its weights
    loss, dL/dw16 = forward, backward     in bfloat16 (the loss itself in float32)
    dL/dw32 = f32(dL/dw16)                the gradient through the cast: the cast's backward
    w32 <- AdamW(w32, dL/dw32)            the optimizer updates the float32 masters

PyTorch's `train.dtype: bfloat16` is autocast: the parameters stay float32 and each matrix
product casts its inputs to bfloat16 as it runs. MLX has no autocast, so the port does the cast
itself, once per step for every weight: `value_and_grad_in` differentiates the loss of the
bfloat16 copy with respect to the float32 weights, so the gradients arrive in float32 and
AdamW's moments and updates stay float32, as with autocast.

Why keep float32 masters rather than train bfloat16 weights: bfloat16 keeps 8 significant bits,
so the neighbours of 1.0 are 1 - 2^-8 and 1 + 2^-7. An AdamW step moves a weight by about lr,
and a norm gain at 1.0 moved by lr = 1e-3 (baby.yaml's peak) rounds back to 1.0 in bfloat16
(checked: 1 - 1e-3 and 1 + 1e-3 both round to 1), so bfloat16 weights would stop training where
the steps are small. The float32 master takes each small step, and a later cast sees their sum.

What runs in bfloat16: the forward and the backward, every matrix product, attention, the
norms and rope (MLX's fused kernels take bfloat16 in and give bfloat16 out). What stays float32:
the loss (`language_model_loss` casts the logits), RMSNorm's mean of squares (modern.py), the
sums of the written-out attention's softmax (`precise=True`), the gradients and AdamW.
Evaluation runs in the run's dtype as week 4's does (`computing_in`); samples and checkpoints
use the float32 masters. float16 is refused: its 5 exponent bits underflow small gradients,
which needs week 4's loss scaling (the GradScaler), and the port has none.

Not faster on a Linux CPU: MLX's CPU backend multiplies bfloat16 matrices about 19x slower than
float32 ones (one 512 x 512 x 512 product: 37.6 ms, against 2.0 ms on OpenBLAS), so a baby step
took 4.7x as long as float32's eager and 5.1x compiled (course machine, Intel Xeon with
AVX-512 BF16, 2 cores, one thread, load about 1.5). On Apple silicon, measure (not done here).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import mlx.core as mx
import mlx.nn as nn
from mlx.utils import tree_map

from shared.errors import CourseError

# train.dtype -> the dtype the MLX port computes in.
COMPUTE_DTYPES = {"float32": mx.float32, "bfloat16": mx.bfloat16}


def compute_dtype(name: str) -> mx.Dtype:
    """The MLX dtype of `train.dtype`; float16 (or anything else) is a clear error."""
    if name not in COMPUTE_DTYPES:
        raise CourseError(
            f"train.dtype: the MLX port trains in {' or '.join(COMPUTE_DTYPES)}, got {name!r} "
            "(float16 needs loss scaling, week 4's GradScaler, which the port does not have); "
            "set train.dtype=bfloat16"
        )
    return COMPUTE_DTYPES[name]


def cast_floats(tree: Any, dtype: mx.Dtype) -> Any:
    """Every floating-point array of a parameter tree in `dtype` (other arrays unchanged)."""

    def cast(array: mx.array) -> mx.array:
        return array.astype(dtype) if mx.issubdtype(array.dtype, mx.floating) else array

    return tree_map(cast, tree)


@contextmanager
def computing_in(model: nn.Module, dtype: mx.Dtype) -> Iterator[None]:
    """Inside the block `model` holds `dtype` copies of its weights; after it, its own again.
    float32 changes nothing (the weights are float32 already)."""
    if dtype == mx.float32:
        yield
        return
    master = model.parameters()
    model.update(cast_floats(master, dtype))
    try:
        yield
    finally:
        model.update(master)


def value_and_grad_in(
    model: nn.Module, fn: Callable[..., mx.array], dtype: mx.Dtype
) -> Callable[..., tuple[mx.array, dict]]:
    """`nn.value_and_grad(model, fn)` with `fn` computed in `dtype`: the gradients are with
    respect to the model's own (float32) weights, through the cast, so they are float32."""

    def in_dtype(*args: Any) -> mx.array:
        with computing_in(model, dtype):  # the cast is inside the differentiated function
            return fn(*args)

    return nn.value_and_grad(model, in_dtype)
