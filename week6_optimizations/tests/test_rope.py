import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.errors import CourseError
from week3_model import POSITION, CausalSelfAttention, GPTConfig
from week6_optimizations.kv_cache import KVCache, cached_forward
from week6_optimizations.rope import (
    RotaryAttention,
    RotaryPosition,
    interleaved_to_half_split,
    rope_frequencies,
    rotary_attention,
    rotate_half_split,
    rotate_interleaved,
    rotation_angles,
)
from week6_optimizations.sdpa import SDPAttention

# A case that runs an sdpa model also runs task 6.3 (see the lesson's Tasks table).
SDPA = pytest.param("sdpa", marks=pytest.mark.task("6.3"))


def angles(positions, head_size):
    return rotation_angles(torch.as_tensor(positions), rope_frequencies(head_size))


@pytest.mark.task("6.1")
@settings(max_examples=25, deadline=None)
@given(
    head_half=st.integers(1, 16),
    start=st.integers(0, 5000),
    seed=st.integers(0, 2**16),
)
def test_rotation_preserves_the_norm_of_every_pair(head_half, start, seed):
    d = 2 * head_half
    x = torch.randn(3, 5, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    cos, sin = angles(torch.arange(start, start + 5), d)
    y = rotate_interleaved(x, cos.double(), sin.double())
    pair_norms = lambda t: t.unflatten(-1, (head_half, 2)).norm(dim=-1)  # noqa: E731
    torch.testing.assert_close(pair_norms(y), pair_norms(x))
    torch.testing.assert_close(y.norm(dim=-1), x.norm(dim=-1))


@pytest.mark.task("6.1")
@settings(max_examples=25, deadline=None)
@given(
    m=st.integers(0, 400),
    n=st.integers(0, 400),
    shift=st.integers(0, 400),
    seed=st.integers(0, 2**16),
)
def test_scores_depend_only_on_the_relative_position(m, n, shift, seed):
    d = 8
    g = torch.Generator().manual_seed(seed)
    q, k = torch.randn(1, d, generator=g), torch.randn(1, d, generator=g)

    def score(query_pos, key_pos):
        cq, sq = angles([query_pos], d)
        ck, sk = angles([key_pos], d)
        return (rotate_interleaved(q, cq, sq) * rotate_interleaved(k, ck, sk)).sum()

    torch.testing.assert_close(score(m + shift, n + shift), score(m, n), atol=1e-4, rtol=1e-4)


@pytest.mark.task("6.1")
def test_position_zero_is_the_identity_and_others_are_not():
    x = torch.randn(2, 3, 4, 8)
    cos, sin = angles([0, 0, 0, 0], 8)
    torch.testing.assert_close(rotate_interleaved(x, cos, sin), x)
    cos, sin = angles([1, 2, 3, 4], 8)
    assert not torch.allclose(rotate_interleaved(x, cos, sin), x)


def test_frequencies_follow_the_formula():
    theta = rope_frequencies(8, base=10000.0)
    expected = torch.tensor([10000.0 ** (-2 * i / 8) for i in range(4)])
    torch.testing.assert_close(theta, expected)


@pytest.mark.task("6.1")
def test_the_two_pairings_differ_by_a_feature_permutation():
    d = 8
    x = torch.randn(2, 5, d)
    cos, sin = angles(torch.arange(5), d)
    p = interleaved_to_half_split(d)
    assert sorted(p.tolist()) == list(range(d))
    torch.testing.assert_close(
        rotate_half_split(x[..., p], cos, sin), rotate_interleaved(x, cos, sin)[..., p]
    )
    # Unpermuted, the layouts disagree: loading weights across conventions needs the permutation.
    assert not torch.allclose(rotate_half_split(x, cos, sin), rotate_interleaved(x, cos, sin))


@pytest.mark.task("6.1")
def test_rotation_keeps_the_input_dtype():
    x = torch.randn(1, 2, 3, 8, dtype=torch.bfloat16)
    cos, sin = angles([0, 1, 2], 8)
    assert rotate_interleaved(x, cos, sin).dtype == torch.bfloat16


def test_rope_is_registered_and_has_no_learned_table(make_gpt):
    assert POSITION.get("rope") is RotaryPosition
    model = make_gpt(position="rope")
    x = torch.randn(2, 4, 16)
    assert model.position_encoding(x, torch.arange(4)) is x  # nothing added to the stream
    assert sum(p.numel() for p in model.position_encoding.parameters()) == 0
    assert "position_encoding.frequencies" not in model.state_dict()
    assert not any(name.endswith("frequencies") for name in model.state_dict())


@pytest.mark.parametrize(
    ("attention", "base"), [("naive", CausalSelfAttention), ("sdpa", SDPAttention)]
)
def test_rope_is_a_subclass_of_the_attention_it_adapts(make_gpt, attention, base):
    model = make_gpt(position="rope", attention=attention)
    kind = type(model.blocks[0].attn)
    assert kind is rotary_attention(base) and kind is type(model.blocks[1].attn)  # built once
    assert kind.__mro__[1:3] == (RotaryAttention, base)  # rotate, then attend as `base` does
    assert RotaryPosition.attention_class(base) is kind


@pytest.mark.task("6.1", "6.2")
def test_rope_attention_rotates_the_last_queries_and_every_key(make_gpt):
    """attend(q, k, v) with T < S rotates q at S-T..S-1 and k at 0..S-1, then attends."""
    model = make_gpt(position="rope")
    attention = model.blocks[0].attn
    q, k, v = attention.project(torch.randn(1, 7, 16))
    cos, sin = angles(torch.arange(7), 8)
    expected = CausalSelfAttention.attend(
        attention, rotate_interleaved(q, cos, sin)[:, :, -2:], rotate_interleaved(k, cos, sin), v
    )
    assert torch.equal(attention.attend(q[:, :, -2:], k, v), expected)


@pytest.mark.task("6.1")
def test_rotating_keys_together_gives_each_the_bits_of_rotating_it_alone():
    """Why the cache may hold keys unrotated: rotation is elementwise, so rotating all S keys
    at every step gives exactly (bit for bit) what rotating each chunk once at its positions did."""
    d, S = 32, 40
    k = torch.randn(2, 3, S, d)
    cos, sin = angles(torch.arange(S), d)
    together = rotate_interleaved(k, cos, sin)
    for start, end in [(0, 7), (7, 8), (8, 33), (33, 40)]:
        cos_c, sin_c = angles(torch.arange(start, end), d)
        alone = rotate_interleaved(k[:, :, start:end], cos_c, sin_c)
        assert torch.equal(together[:, :, start:end], alone)


@pytest.mark.task("6.1", "6.2", "6.4", "6.5")
@pytest.mark.parametrize("attention", ["naive", SDPA])
def test_cached_rope_logits_equal_the_full_forward(make_gpt, attention):
    model = make_gpt(position="rope", attention=attention)
    x = torch.randint(0, 40, (2, 10))
    cache = KVCache(model.config.n_layer, model.config.block_size)
    with torch.no_grad():
        full = model(x)[0]
        stepped = [cached_forward(model, x[:, t : t + 1], cache) for t in range(10)]
    torch.testing.assert_close(torch.cat(stepped, dim=1), full, atol=1e-5, rtol=1e-5)


def test_odd_head_size_is_a_clear_error():
    with pytest.raises(CourseError, match="even head size"):
        RotaryPosition(GPTConfig(vocab_size=10, block_size=8, n_layer=1, n_head=2, n_embd=6))


@pytest.mark.task("6.1", "6.2")
def test_rope_model_is_order_aware_without_a_table(make_gpt):
    """Swapping two earlier tokens changes the last logits: positions reach attention."""
    model = make_gpt(position="rope")
    a = torch.tensor([[1, 2, 3, 4, 5]])
    b = torch.tensor([[2, 1, 3, 4, 5]])
    assert not torch.allclose(model(a)[0][0, -1], model(b)[0][0, -1])
