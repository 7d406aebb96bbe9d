"""The extension points a later week uses: a new attention, a new position encoding.

These tests register stand-ins (test-only, removed afterwards) to prove that a variant plugs in
through the tables without touching week 3's code.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from week3_model import ATTENTION, GPT, POSITION, CausalSelfAttention, make_attention


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

    def forward(self, x: Tensor, positions: Tensor) -> Tensor:
        self.seen.append(positions.tolist())
        return x

    @staticmethod
    def attention_class(cls: type[CausalSelfAttention]) -> type[CausalSelfAttention]:
        return cls


class CountingPosition(RecordingNoPosition):
    """A position encoding that acts inside attention: it wraps whatever attention it is given."""

    @staticmethod
    def attention_class(cls: type[CausalSelfAttention]) -> type[CausalSelfAttention]:
        class Counting(cls):
            def attend(self, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
                self.calls = getattr(self, "calls", 0) + 1
                return super().attend(q, k, v)

        return Counting


@pytest.mark.task("3.1", "3.2", "3.3", "3.4", "3.5", "3.6", "3.7", "3.8")
def test_a_new_attention_registers_without_editing_week3(monkeypatch, make_config, model):
    monkeypatch.setitem(ATTENTION._entries, "test_sdpa", TorchAttention)
    other = GPT(make_config(attention="test_sdpa")).eval()
    other.load_state_dict(model.state_dict())
    assert isinstance(other.blocks[0].attn, TorchAttention)
    idx = torch.randint(0, 61, (2, 9))
    with torch.no_grad():
        torch.testing.assert_close(other(idx)[0], model(idx)[0], atol=1e-5, rtol=1e-5)


@pytest.mark.task("3.1", "3.2", "3.3", "3.4", "3.5", "3.6", "3.7", "3.8")
def test_a_new_position_encoding_gets_absolute_positions(monkeypatch, make_config):
    monkeypatch.setitem(POSITION._entries, "test_none", RecordingNoPosition)
    model = GPT(make_config(position="test_none", n_layer=1)).eval()
    assert model.parameter_breakdown()["position embedding"] == 0
    with torch.no_grad():
        model(torch.randint(0, 61, (1, 3)))
        model(torch.randint(0, 61, (2, 5)))
    assert model.position_encoding.seen == [[0, 1, 2], [0, 1, 2, 3, 4]]


@pytest.mark.task("3.1", "3.4", "3.5", "3.6", "3.7", "3.8")
def test_a_position_encoding_adapts_any_attention(monkeypatch, make_config):
    monkeypatch.setitem(POSITION._entries, "test_counting", CountingPosition)
    monkeypatch.setitem(ATTENTION._entries, "test_sdpa", TorchAttention)
    config = make_config(position="test_counting", attention="test_sdpa")
    attention = make_attention(config)
    assert isinstance(attention, TorchAttention)  # the position's subclass of the attention
    model = GPT(config).eval()
    with torch.no_grad():
        model(torch.randint(0, 61, (1, 4)))
    assert [block.attn.calls for block in model.blocks] == [1] * config.n_layer


class CenteringNorm(nn.Module):
    """A norm that only subtracts the mean, and remembers how it was built."""

    def __init__(self, width: int, bias: bool = True, eps: float = 1e-5) -> None:
        super().__init__()
        self.width, self.bias, self.eps = width, bias, eps

    def forward(self, x: Tensor) -> Tensor:
        return x - x.mean(-1, keepdim=True)


class DoublingMLP(nn.Module):
    """An MLP with no parameters: 2x, so its contribution is easy to predict."""

    def __init__(self, config) -> None:
        super().__init__()

    def forward(self, x: Tensor) -> Tensor:
        return 2 * x


@pytest.mark.task("3.2", "3.3", "3.5", "3.6", "3.7")
def test_a_new_norm_and_mlp_register_without_editing_week3(monkeypatch, make_config):
    from week3_model import MLP_KIND, NORM

    monkeypatch.setitem(NORM._entries, "test_center", CenteringNorm)
    monkeypatch.setitem(MLP_KIND._entries, "test_double", DoublingMLP)
    config = make_config(norm="test_center", mlp="test_double", norm_eps=1e-3, bias=False)
    model = GPT(config).eval()
    norms = [model.ln_f, *(b.ln_1 for b in model.blocks), *(b.ln_2 for b in model.blocks)]
    assert all(isinstance(n, CenteringNorm) for n in norms)
    assert {(n.width, n.bias, n.eps) for n in norms} == {(config.n_embd, False, 1e-3)}
    assert all(isinstance(b.mlp, DoublingMLP) for b in model.blocks)
    assert (
        model.parameter_breakdown()["MLP"] == 0 and model.parameter_breakdown()["layer norms"] == 0
    )
    block, x = model.blocks[0], torch.randn(2, 5, config.n_embd)
    with torch.no_grad():
        after_attention = x + block.attn(block.ln_1(x))
        expected = after_attention + 2 * block.ln_2(after_attention)
        torch.testing.assert_close(block(x), expected)


def halving_values(cls: type[CausalSelfAttention]) -> type[CausalSelfAttention]:
    """An attention feature: the same attention with every value halved."""

    class HalvedValues(cls):
        def attend(self, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
            return super().attend(q, k, v / 2)

    return HalvedValues


class DoubledHead(nn.Linear):
    """A head: twice the logits of a plain Linear."""

    def forward(self, x: Tensor) -> Tensor:
        return 2 * super().forward(x)


def doubled_head(config, vocab_size: int) -> DoubledHead:
    """A HEAD entry: built from the config and the vocabulary size."""
    return DoubledHead(config.n_embd, vocab_size, bias=False)


@pytest.mark.task("3.1", "3.2", "3.3", "3.4", "3.5", "3.6", "3.7", "3.8")
def test_config_features_pick_their_attention_and_head_entries(monkeypatch, make_config, model):
    from week3_model import ATTENTION_FEATURE, HEAD

    monkeypatch.setitem(ATTENTION_FEATURE._entries, "qk_norm", halving_values)
    monkeypatch.setitem(HEAD._entries, "softcap", doubled_head)
    featured = GPT(make_config(qk_norm=True, logit_softcap=5.0)).eval()
    featured.load_state_dict(model.state_dict())
    assert all(b.attn.__class__.__name__ == "HalvedValues" for b in featured.blocks)
    assert isinstance(featured.lm_head, DoubledHead)
    assert featured.lm_head.weight is featured.token_embedding.weight  # still tied
    idx = torch.randint(0, 61, (2, 6))
    with torch.no_grad():
        x = featured.drop(featured.embed(idx))
        for plain_block, block in zip(model.blocks, featured.blocks, strict=True):
            a = plain_block.attn
            q, k, v = a.project(block.ln_1(x))
            x = x + a.output(a.attend(q, k, v / 2))
            x = x + block.mlp(block.ln_2(x))
        expected = 2 * model.lm_head(model.ln_f(x))
        torch.testing.assert_close(featured(idx)[0], expected)
