import dataclasses

import pytest
import torch
from torch import Tensor

from shared.errors import CourseError
from week3_model import GPT, POSITION, GPTConfig, LearnedPosition
from week5_generation.generate import DECODERS, FullContextLogits, generate
from week5_generation.sampling import GREEDY, SamplingSettings, make_generator
from week6_optimizations.cached_generation import CachedLogits, ContextWindow, WindowedLogits
from week6_optimizations.kv_cache import KVCache, LayerKVCache, cached_forward

# A rope case also runs tasks 6.1 and 6.2, an sdpa case task 6.3 (the lesson's Tasks table).
ROPE = pytest.param("rope", marks=pytest.mark.task("6.1", "6.2"))
SDPA = pytest.param("sdpa", marks=pytest.mark.task("6.3"))
SAMPLING = {"greedy": GREEDY, "sampled": SamplingSettings(temperature=1.0, top_k=20)}


def run(model, decoder, prompt, n, sampling, seed=7):
    tokens = generate(
        model, prompt, n, sampling, generator=make_generator(seed), next_token_logits=decoder
    )
    return list(tokens)


@pytest.mark.task("6.4", "6.5")
@pytest.mark.parametrize("position", ["learned", ROPE])
@pytest.mark.parametrize("attention", ["naive", SDPA])
def test_cached_forward_equals_full_forward_position_by_position(make_gpt, position, attention):
    model = make_gpt(position=position, attention=attention)
    x = torch.randint(0, 40, (2, 12))
    cache = KVCache(model.config.n_layer, model.config.block_size)
    with torch.no_grad():
        full = model(x)[0]
        prefill = cached_forward(model, x[:, :4], cache)
        steps = [cached_forward(model, x[:, t : t + 1], cache) for t in range(4, 12)]
    torch.testing.assert_close(torch.cat([prefill, *steps], dim=1), full, atol=1e-5, rtol=1e-5)
    assert cache.length == 12 and len(cache) == model.config.n_layer


class ListCache:
    """The smallest layer cache `cached_forward` can use: concatenate and return."""

    def __init__(self) -> None:
        self.k: Tensor | None = None
        self.v: Tensor | None = None

    def update(self, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        self.k = k if self.k is None else torch.cat([self.k, k], dim=2)
        self.v = v if self.v is None else torch.cat([self.v, v], dim=2)
        return self.k, self.v


class ListKVCache(list):
    """One `ListCache` per layer; `length` is how many positions they hold."""

    @property
    def length(self) -> int:
        return 0 if self[0].k is None else self[0].k.size(2)


@pytest.mark.task("6.5")
def test_any_cache_that_appends_gives_the_same_logits_as_a_full_forward():
    torch.manual_seed(0)
    config = GPTConfig(vocab_size=61, block_size=16, n_layer=2, n_head=4, n_embd=32)
    model = GPT(config).eval()
    idx = torch.randint(0, 61, (2, 12))
    with torch.no_grad():
        full, _ = model(idx)
        cache = ListKVCache(ListCache() for _ in model.blocks)
        prompt = cached_forward(model, idx[:, :5], cache)  # a prompt of 5, then one at a time
        steps = [cached_forward(model, idx[:, t : t + 1], cache) for t in range(5, 12)]
    incremental = torch.cat([prompt, *steps], dim=1)
    torch.testing.assert_close(incremental, full, atol=1e-5, rtol=1e-5)
    assert cache[0].k.shape == (2, 4, 12, 8)


class RecordingPosition(LearnedPosition):
    """Week 3's learned table, noting the positions each call looks up."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__(config)
        self.seen: list[list[int]] = []

    def forward(self, x: Tensor, positions: Tensor) -> Tensor:
        self.seen.append(positions.tolist())
        return super().forward(x, positions)


@pytest.mark.task("6.4", "6.5")
def test_cached_tokens_get_their_absolute_positions(monkeypatch):
    monkeypatch.setitem(POSITION._entries, "test_recording", RecordingPosition)
    config = GPTConfig(vocab_size=61, block_size=16, n_layer=1, n_head=4, n_embd=32)
    model = GPT(dataclasses.replace(config, position="test_recording")).eval()
    cache = KVCache(config.n_layer, config.block_size)
    with torch.no_grad():
        cached_forward(model, torch.randint(0, 61, (1, 3)), cache)
        cached_forward(model, torch.randint(0, 61, (1, 1)), cache)
    assert model.position_encoding.seen == [[0, 1, 2], [3]]


@pytest.mark.task("6.4", "6.5")
def test_a_cached_forward_past_block_size_is_a_clear_error(make_gpt):
    model = make_gpt()  # block_size 16
    cache = KVCache(model.config.n_layer, model.config.block_size)
    with torch.no_grad():
        cached_forward(model, torch.zeros(1, 10, dtype=torch.long), cache)
        with pytest.raises(
            CourseError, match="starting at position 10 is longer than block_size=16"
        ):
            cached_forward(model, torch.zeros(1, 7, dtype=torch.long), cache)
        with pytest.raises(CourseError, match=r"must be \(batch, time\) token ids"):
            cached_forward(model, torch.zeros(5, dtype=torch.long), cache)
    assert cache.length == 10  # a refused call leaves the cache as it was


@pytest.mark.task("6.4", "6.5")
@pytest.mark.parametrize("position", ["learned", ROPE])
@pytest.mark.parametrize("mode", ["greedy", "sampled"])
def test_cached_generation_equals_week5_generation_past_block_size(make_gpt, position, mode):
    """block_size 16, 3-token prompt, 30 new tokens: the window slides for the last 17 steps."""
    model = make_gpt(position=position)
    prompt = [3, 1, 4]
    expected = run(model, FullContextLogits(model), prompt, 30, SAMPLING[mode])
    cached = run(model, DECODERS.get("kv_cache")(model), prompt, 30, SAMPLING[mode])
    assert cached == expected
    assert len(set(expected)) > 3  # a varied text, not one repeated token


@pytest.mark.task("6.3", "6.4", "6.5")
@pytest.mark.parametrize("position", ["learned", ROPE])
@pytest.mark.parametrize("mode", ["greedy", "sampled"])
def test_cached_generation_with_jumps_equals_the_uncached_same_rule(make_gpt, position, mode):
    model = make_gpt(position=position, attention="sdpa")
    prompt = [5, 9]
    keep = model.config.block_size // 2
    expected = run(model, WindowedLogits(model, keep), prompt, 40, SAMPLING[mode])
    cached = run(model, CachedLogits(model, keep), prompt, 40, SAMPLING[mode])
    assert cached == expected
    # The rule matters: the sliding window sees other contexts and (here) chooses other tokens.
    assert run(model, FullContextLogits(model), prompt, 40, SAMPLING[mode]) != expected


@pytest.mark.task("6.4", "6.5")
def test_windowed_reference_with_full_keep_is_week5_cropping(make_gpt):
    model = make_gpt()
    prompt = list(range(20))  # longer than block_size from the start
    expected = run(model, FullContextLogits(model), prompt, 10, SAMPLING["sampled"])
    assert run(model, WindowedLogits(model), prompt, 10, SAMPLING["sampled"]) == expected
    assert run(model, CachedLogits(model), prompt, 10, SAMPLING["sampled"]) == expected


def test_context_window_rule():
    window = ContextWindow(block_size=8, keep=4)
    assert [window.advance(n) for n in (3, 8)] == [False, False] and window.start == 0
    assert window.advance(9) and window.start == 5  # 9 tokens > 8: keep the last 4
    assert not window.advance(13) and window.start == 5  # 8 tokens: still fits
    assert window.advance(14) and window.start == 10
    assert window.advance(2) and window.start == 0  # a new, shorter sequence
    sliding = ContextWindow(block_size=8)
    assert sliding.advance(9) and sliding.start == 1
    assert sliding.advance(10) and sliding.start == 2


@pytest.mark.parametrize("keep", [0, 9])
def test_keep_out_of_range_is_a_clear_error(keep):
    with pytest.raises(CourseError, match="keep"):
        ContextWindow(block_size=8, keep=keep)


@pytest.mark.task("6.4", "6.5")
def test_cached_logits_restart_for_a_new_sequence(make_gpt):
    model = make_gpt()
    step = CachedLogits(model)
    a = torch.tensor([[1, 2, 3, 4]])
    step(a)
    b = torch.tensor([[7, 8]])
    torch.testing.assert_close(step(b), model(b)[0][0, -1], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(step(b), model(b)[0][0, -1], atol=1e-5, rtol=1e-5)  # same ids again


@pytest.mark.task("6.4")
def test_layer_cache_appends_and_refuses_overflow():
    layer = LayerKVCache(capacity=4)
    k = torch.randn(1, 2, 3, 5)
    keys, values = layer.update(k, k + 1)
    torch.testing.assert_close(keys, k)
    keys, values = layer.update(k[:, :, :1], k[:, :, :1] + 1)
    assert keys.shape == (1, 2, 4, 5) and layer.length == 4
    torch.testing.assert_close(values[:, :, 3:], k[:, :, :1] + 1)
    with pytest.raises(CourseError, match="at most 4 positions"):
        layer.update(k[:, :, :1], k[:, :, :1])
    layer.reset()
    assert layer.length == 0
    assert layer.update(k.double(), k.double())[0].dtype == torch.float64  # reallocates


def test_rope_and_sdpa_work_from_a_config(tmp_path):
    from shared.config import load_config

    path = tmp_path / "c.yaml"
    path.write_text(
        "model:\n  vocab_size: 10\n  block_size: 8\n  position: rope\n  attention: sdpa\n"
    )
    config = load_config(path, [])
    assert (config.model.position, config.model.attention) == ("rope", "sdpa")
