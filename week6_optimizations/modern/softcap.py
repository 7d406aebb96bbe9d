"""Logit soft-capping, `model.logit_softcap: cap`: squash the logits smoothly into (-cap, cap).

    logits = cap * tanh( (x W^T) / cap )

For |z| much smaller than cap, cap * tanh(z / cap) ~ z (tanh(u) ~ u near 0): ordinary logits pass
almost unchanged. Large ones bend towards +-cap and never pass it, so no logit can run away and
make the softmax overconfident, and the gradient of a saturated logit fades instead of growing.
Gemma 2 caps its final logits at 30 (and its attention scores at 50); the loss sees the capped
logits, so the model learns within the cap. (A hard clamp would also bound them, but its
gradient is 0 beyond the cap: tanh keeps every logit trainable.)

In floating point "never passes" holds as |logit| <= cap: float32's tanh(u) rounds to exactly
+-1 once |u| exceeds about 9 (measured on PyTorch 2.13's CPU build), so a logit beyond about
9 x cap lands on the cap itself; below that the bound is strict.

The head stays an `nn.Linear` (a subclass with another `forward`), so weight tying works as in
week 3: GPT assigns `lm_head.weight = token_embedding.weight`, whatever the head's class.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from shared.config import ConfigError
from week3_model import GPTConfig


class SoftCappedHead(nn.Linear):
    """The LM head, Linear(n_embd, vocab_size) without bias, with logits soft-capped at `cap`."""

    def __init__(self, in_features: int, out_features: int, cap: float) -> None:
        super().__init__(in_features, out_features, bias=False)
        self.cap = cap

    def forward(self, x: Tensor) -> Tensor:
        """(..., n_embd) -> (..., vocab_size) logits inside [-cap, cap]."""
        return self.cap * torch.tanh(super().forward(x) / self.cap)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, cap={self.cap}"


def softcap_head(config: GPTConfig, vocab_size: int) -> SoftCappedHead:
    """The `softcap` entry of week 3's HEAD table, chosen when `model.logit_softcap` is set."""
    if config.logit_softcap is None:  # GPTConfig.head_kind() picks this entry only with a cap
        raise ConfigError("logit_softcap: must be a positive number for the softcap head, got null")
    return SoftCappedHead(config.n_embd, vocab_size, cap=config.logit_softcap)
