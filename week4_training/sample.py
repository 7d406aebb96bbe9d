"""A few lines of text from a trained model, for samples.txt: the smallest sampling loop.

Feed the context, take the logits at the last position, divide by a temperature (< 1 sharpens
the distribution towards the most likely tokens), draw one token, append, repeat. Week 5 builds
the real sampler (top-k, top-p, a KV cache); this one only shows what a run has learned.
"""

from __future__ import annotations

import torch
from torch import nn


@torch.no_grad()
def sample_ids(
    model: nn.Module,
    prompt: list[int],
    n_tokens: int,
    *,
    block_size: int,
    temperature: float = 0.8,
    seed: int = 0,
    device: torch.device | str = "cpu",
) -> list[int]:
    """`n_tokens` new ids after `prompt`, drawn at `temperature` from a seeded generator."""
    generator = torch.Generator(device=device).manual_seed(seed)
    ids = torch.tensor([prompt], dtype=torch.long, device=device)
    was_training = model.training
    model.eval()
    for _ in range(n_tokens):
        logits, _ = model(ids[:, -block_size:])
        probs = torch.softmax(logits[:, -1, :].float() / temperature, dim=-1)
        next_id = torch.multinomial(probs, 1, generator=generator)
        ids = torch.cat([ids, next_id], dim=1)
    model.train(was_training)
    return ids[0, len(prompt) :].tolist()
