"""The extension points week 6 uses: a new attention, a new position encoding, a KV cache.

These tests register stand-ins (test-only, removed afterwards) to prove the protocol documented in
gpt.py works without touching week 3's code.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from week3_model import ATTENTION, GPT, POSITION, CausalSelfAttention


class ListCache:
    """The smallest KV cache that follows the `LayerCache` protocol: concatenate and return."""

    def __init__(self) -> None:
        self.k: Tensor | None = None
        self.v: Tensor | None = None

    def update(self, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        self.k = k if self.k is None else torch.cat([self.k, k], dim=2)
        self.v = v if self.v is None else torch.cat([self.v, v], dim=2)
        return self.k, self.v


class TorchAttention(CausalSelfAttention):
    """Like week 6's sdpa: overrides only `attend`."""

    def attend(self, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        T, S = q.size(-2), k.size(-2)
        allowed = ~self.future[S - T : S, :S]
        return F.scaled_dot_product_attention(q, k, v, attn_mask=allowed)


class RecordingNoPosition(nn.Module):
    """A position encoding with no table that records the positions it is given."""

    def __init__(self, config) -> None:
        super().__init__()
        self.seen: list[list[int]] = []

    def embed(self, positions: Tensor) -> None:
        return None

    def rotate(self, q: Tensor, k: Tensor, positions: Tensor) -> tuple[Tensor, Tensor]:
        self.seen.append(positions.tolist())
        return q, k


def test_kv_cache_gives_the_same_logits_as_a_full_forward(model):
    idx = torch.randint(0, 61, (2, 12))
    with torch.no_grad():
        full, _ = model(idx)
        cache = [ListCache() for _ in model.blocks]
        prompt, _ = model(idx[:, :5], kv_cache=cache)  # a prompt of 5, then one token at a time
        steps = [model(idx[:, t : t + 1], start_pos=t, kv_cache=cache)[0] for t in range(5, 12)]
    incremental = torch.cat([prompt, *steps], dim=1)
    torch.testing.assert_close(incremental, full, atol=1e-5, rtol=1e-5)
    assert cache[0].k.shape == (2, 4, 12, 8)


def test_a_new_attention_registers_without_editing_week3(monkeypatch, make_config, model):
    monkeypatch.setitem(ATTENTION._entries, "test_sdpa", TorchAttention)
    other = GPT(make_config(attention="test_sdpa")).eval()
    other.load_state_dict(model.state_dict())
    assert isinstance(other.blocks[0].attn, TorchAttention)
    idx = torch.randint(0, 61, (2, 9))
    with torch.no_grad():
        torch.testing.assert_close(other(idx)[0], model(idx)[0], atol=1e-5, rtol=1e-5)


def test_a_new_position_encoding_gets_absolute_positions(monkeypatch, make_config):
    monkeypatch.setitem(POSITION._entries, "test_none", RecordingNoPosition)
    model = GPT(make_config(position="test_none", n_layer=1)).eval()
    assert model.parameter_breakdown()["position embedding"] == 0
    cache = [ListCache()]
    with torch.no_grad():
        model(torch.randint(0, 61, (1, 3)), kv_cache=cache)
        model(torch.randint(0, 61, (1, 1)), start_pos=3, kv_cache=cache)
    assert model.position_encoding.seen == [[0, 1, 2], [3]]
