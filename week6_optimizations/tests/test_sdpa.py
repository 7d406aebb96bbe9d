import pytest
import torch

from week3_model import ATTENTION, GPT
from week6_optimizations.kv_cache import KVCache, cached_forward
from week6_optimizations.sdpa import SDPAttention

# A case that runs a rope model also runs tasks 6.1 and 6.2 (see the lesson's Tasks table).
ROPE = pytest.param("rope", marks=pytest.mark.task("6.1", "6.2"))


def twin(make_gpt, position, **kwargs):
    """A naive model and an sdpa model with the very same weights."""
    naive = make_gpt(position=position, attention="naive", **kwargs)
    fused = make_gpt(position=position, attention="sdpa", **kwargs)
    fused.load_state_dict(naive.state_dict())
    return naive, fused


def test_sdpa_is_registered():
    assert ATTENTION.get("sdpa") is SDPAttention


@pytest.mark.task("6.3")
@pytest.mark.parametrize("position", ["learned", ROPE])
def test_sdpa_equals_naive_in_training_mode(make_gpt, position):
    naive, fused = twin(make_gpt, position)
    naive.train(), fused.train()  # dropout is 0, so train mode is deterministic
    x = torch.randint(0, 40, (3, 16))
    y = torch.randint(0, 40, (3, 16))
    logits_a, loss_a = naive(x, y)
    logits_b, loss_b = fused(x, y)
    torch.testing.assert_close(logits_b, logits_a, atol=1e-5, rtol=1e-5)
    loss_a.backward()
    loss_b.backward()
    for (name, a), b in zip(naive.named_parameters(), fused.parameters(), strict=True):
        torch.testing.assert_close(b.grad, a.grad, atol=1e-5, rtol=1e-4, msg=name)


@pytest.mark.task("6.3", "6.4", "6.5")
@pytest.mark.parametrize("position", ["learned", ROPE])
def test_sdpa_equals_naive_on_cached_chunks(make_gpt, position):
    """Chunks of 5, 3 and 1 tokens through a KV cache: T < S uses the mask rows S-T..S-1."""
    naive, fused = twin(make_gpt, position)
    x = torch.randint(0, 40, (2, 9))
    outputs = []
    for model in (naive, fused):
        cache = KVCache(model.config.n_layer, model.config.block_size)
        with torch.no_grad():
            chunks = [cached_forward(model, x[:, s:e], cache) for s, e in [(0, 5), (5, 8), (8, 9)]]
        outputs.append(torch.cat(chunks, dim=1))
    torch.testing.assert_close(outputs[1], outputs[0], atol=1e-5, rtol=1e-5)
    with torch.no_grad():
        torch.testing.assert_close(outputs[0], naive(x)[0], atol=1e-5, rtol=1e-5)


@pytest.mark.task("6.3")
def test_keep_weights_falls_back_to_the_naive_weights(make_gpt):
    naive, fused = twin(make_gpt, "learned")
    for model in (naive, fused):
        model.blocks[0].attn.keep_weights = True
    x = torch.randint(0, 40, (1, 7))
    naive(x), fused(x)
    torch.testing.assert_close(fused.blocks[0].attn.last_weights, naive.blocks[0].attn.last_weights)


@pytest.mark.task("6.3")
def test_dropout_is_used_in_training_only(make_gpt):
    model: GPT = make_gpt(attention="sdpa", dropout=0.5)
    x = torch.randint(0, 40, (2, 8))
    with torch.no_grad():
        torch.testing.assert_close(model(x)[0], model(x)[0])  # eval: deterministic
        model.train()
        assert not torch.allclose(model(x)[0], model(x)[0])
