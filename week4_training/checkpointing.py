"""Activation checkpointing: trade compute for memory by recomputing each Block in backward.

Backward needs what forward computed: every Block keeps its attention weights, its MLP's hidden
activations and more until the gradients have passed through it, so activation memory grows
with n_layer x batch x block_size (and, for naive attention, x block_size again). With
`train.activation_checkpointing: true` a Block keeps only its input:

    forward     x -> block(x), its inner activations thrown away at once
    backward    block(x) computed again from the kept x, then its gradients as usual

The loss and the gradients are those of the ordinary step (the same operations on the same
numbers); the price is one more forward pass per step. Dropout draws random masks, so the
recomputation must draw the very masks that the forward pass drew: `torch.utils.checkpoint`
saves the random state at the forward pass and restores it for the recomputation
(`preserve_rng_state=True`, its default, kept here).

`checkpoint_blocks` changes how each Block is *called*, not what it holds: its parameters, their
names and the state_dict keys stay those of week 3's GPT, so checkpoints load either way.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

import torch
from torch import Tensor
from torch.utils.checkpoint import checkpoint

if TYPE_CHECKING:
    from week3_model import GPT


def recompute_in_backward(forward: Callable[..., Tensor], *inputs: Tensor) -> Tensor:
    """`forward(*inputs)`, keeping only the inputs for backward, which runs `forward` again.

    Without gradients (evaluation, sampling) nothing would be kept anyway: it is a plain call.
    `use_reentrant=False` is the implementation PyTorch recommends: unlike the older reentrant
    one it works when the inputs need no gradient and with `torch.autograd.grad`, and it stops
    recomputing as soon as backward has what it needs. The random state is preserved by default.
    """
    if not torch.is_grad_enabled():
        return forward(*inputs)
    return checkpoint(forward, *inputs, use_reentrant=False)


def checkpoint_blocks(model: GPT) -> int:
    """Make every Block of `model.blocks` recompute its activations in backward; returns how many.

    Each Block's own `forward` is replaced, on that Block only, by `recompute_in_backward` around
    the original one (call it once per model). The partial holds the Block's bound method, so
    `copy.deepcopy(model)` gives a copy whose Blocks recompute with their own (copied) weights.
    """
    for block in model.blocks:
        block.forward = partial(recompute_in_backward, block.forward)
    return len(model.blocks)
