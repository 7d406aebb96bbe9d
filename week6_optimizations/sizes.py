"""A size dial: one number, the depth, sets the width, the heads and the learning rate.

    n_layer = depth
    n_embd  = ASPECT_RATIO x depth, rounded up to a multiple of HEAD_DIM   = 64 x depth
    n_head  = n_embd / HEAD_DIM                                             = depth
    lr      = REFERENCE_LR x (n_embd / REFERENCE_WIDTH) ** -0.5            = 6e-4 x (12/depth)**0.5

The rule is nanochat's (Andrej Karpathy's project after nanoGPT): its scripts/base_train.py
derives the whole model from `--depth`, model_dim = depth x aspect_ratio (64) rounded up to a
multiple of `--head-dim`, num_heads = model_dim / head_dim; and its AdamW learning rates are
multiplied by (model_dim / 768) ** -0.5, having been tuned at width 768. Two choices are the
course's: the head size is GPT-2's 64 (nanochat's default is 128), so the rounding never changes
anything and depth 12 is GPT-2 small's shape exactly (12 layers, 768 wide, 12 heads); and the
rate at width 768 is GPT-2 small's 6e-4 (the GPT-3 paper's for its 125M model, nanoGPT's).
nanochat applies the factor to its AdamW groups and not to Muon's rate; the dial likewise scales
`train.lr` and leaves `train.muon_lr` as it is.

Why the rate falls as the width grows: with Adam every weight moves by about lr per step, so
a layer whose n_embd inputs all push the same way moves its output by about lr x n_embd; a wider
layer needs a smaller step for the same change of its output. nanochat scales by the square
root; muP (Yang et al.) scales the hidden layers' Adam rates by 1 / width.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.errors import CourseError

ASPECT_RATIO = 64  # channels of width per layer of depth (nanochat's default)
HEAD_DIM = 64  # channels per attention head: GPT-2's (nanochat's default is 128)
REFERENCE_WIDTH = 768  # the width at which the learning rate was tuned
REFERENCE_LR = 6e-4  # GPT-2 small's peak rate at that width


@dataclass(frozen=True)
class Size:
    """A model's size on the dial: its depth and what the depth sets."""

    depth: int
    n_embd: int
    n_head: int
    lr: float

    @property
    def head_size(self) -> int:
        return self.n_embd // self.n_head


def learning_rate(n_embd: int) -> float:
    """REFERENCE_LR at REFERENCE_WIDTH, scaled by (n_embd / REFERENCE_WIDTH) ** -0.5."""
    return REFERENCE_LR * (n_embd / REFERENCE_WIDTH) ** -0.5


def size_for_depth(depth: int, aspect_ratio: int = ASPECT_RATIO, head_dim: int = HEAD_DIM) -> Size:
    """The dial's model for `depth` Blocks (see the module docstring); `aspect_ratio` and
    `head_dim` are nanochat's two knobs, here at the course's values unless given."""
    if depth < 1:
        raise CourseError(f"depth: must be a positive integer (the number of Blocks), got {depth}")
    n_embd = -(-depth * aspect_ratio // head_dim) * head_dim  # round up to a multiple of head_dim
    return Size(depth=depth, n_embd=n_embd, n_head=n_embd // head_dim, lr=learning_rate(n_embd))
