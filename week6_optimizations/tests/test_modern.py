"""The modern blocks (week6_optimizations/modern): each against its formula, then every option
composed with naive and sdpa attention and learned and rope positions."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor, nn

from shared.config import ConfigError, load_config
from week3_model import (
    ATTENTION,
    ATTENTION_FEATURE,
    GPT,
    HEAD,
    MLP,
    MLP_KIND,
    NORM,
    CausalSelfAttention,
    GPTConfig,
    make_norm,
)
from week6_optimizations.kv_cache import KVCache, cached_forward
from week6_optimizations.modern import (
    ReLU2,
    RMSNorm,
    SoftCappedHead,
    SwiGLU,
    grouped_query,
    qk_normed,
    softcap_head,
)
from week6_optimizations.rope import rope_frequencies, rotate_interleaved, rotation_angles

# A case that runs a rope model also runs tasks 6.1 and 6.2, an sdpa one task 6.3.
ROPE = pytest.param("rope", marks=pytest.mark.task("6.1", "6.2"))
SDPA = pytest.param("sdpa", marks=pytest.mark.task("6.3"))

# What pyproject.toml lists for these blocks: table, name, entry.
MODERN = [
    (NORM, "rmsnorm", RMSNorm),
    (MLP_KIND, "swiglu", SwiGLU),
    (MLP_KIND, "relu2", ReLU2),
    (ATTENTION_FEATURE, "grouped_query", grouped_query),
    (ATTENTION_FEATURE, "qk_norm", qk_normed),
    (HEAD, "softcap", softcap_head),
]


def small_config(**changes) -> GPTConfig:
    settings = dict(vocab_size=40, block_size=16, n_layer=2, n_head=4, n_embd=32, dropout=0.0)
    settings.update(changes)
    return GPTConfig(**settings)


def small_gpt(seed: int = 0, **changes) -> GPT:
    torch.manual_seed(seed)
    return GPT(small_config(**changes)).eval()


@pytest.mark.parametrize(("table", "name", "entry"), MODERN, ids=[m[1] for m in MODERN])
def test_each_block_is_found_by_its_name(table, name, entry):
    assert table.get(name) is entry
    assert table.source(name) == f"{entry.__module__}:{entry.__name__}"  # listed, not patched in


# --- RMSNorm -------------------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(
    shape=st.lists(st.integers(1, 5), min_size=0, max_size=2),
    width=st.integers(1, 48),
    eps=st.sampled_from([1e-6, 1e-5, 1e-2]),
    bias=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_rmsnorm_follows_its_formula(shape, width, eps, bias, seed):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(*shape, width, generator=generator) * 3 + 1
    norm = RMSNorm(width, bias=bias, eps=eps)
    with torch.no_grad():
        norm.weight.copy_(torch.randn(width, generator=generator))
        if bias:
            norm.bias.copy_(torch.randn(width, generator=generator))
    x64, weight = x.double(), norm.weight.double()
    expected = x64 / torch.sqrt((x64**2).mean(-1, keepdim=True) + eps) * weight
    if bias:
        expected = expected + norm.bias.double()
    torch.testing.assert_close(norm(x), expected.float())
    assert len(list(norm.parameters())) == (2 if bias else 1)


def test_rmsnorm_equals_torch_rmsnorm_and_ignores_scale_but_not_shift():
    torch.manual_seed(0)
    ours, reference = RMSNorm(24, eps=1e-5), nn.RMSNorm(24, eps=1e-5)
    with torch.no_grad():
        ours.weight.normal_()
        reference.weight.copy_(ours.weight)
    x = torch.randn(3, 5, 24) * 4 + 2
    torch.testing.assert_close(ours(x), reference(x))
    torch.testing.assert_close(ours(7.0 * x), ours(x))  # RMS(c x) = c RMS(x)
    assert not torch.allclose(ours(x + 1.0), ours(x))  # no mean subtraction


def test_rmsnorm_keeps_the_input_dtype_and_is_built_from_the_config():
    norm = make_norm(small_config(norm="rmsnorm", bias=False, norm_eps=1e-6))
    assert isinstance(norm, RMSNorm) and norm.eps == 1e-6 and norm.bias is None
    assert norm.weight.shape == (32,)
    x = torch.randn(2, 3, 32, dtype=torch.bfloat16)
    assert norm(x).dtype == torch.bfloat16
    assert make_norm(small_config(norm="rmsnorm")).bias is not None  # model.bias: true (GPT-2)


# --- SwiGLU and ReLU² ----------------------------------------------------------------------


def test_swiglu_follows_its_formula():
    torch.manual_seed(0)
    mlp = SwiGLU(small_config())
    x = torch.randn(2, 5, 32)
    gate = x @ mlp.w_gate.weight.T + mlp.w_gate.bias
    up = x @ mlp.w_up.weight.T + mlp.w_up.bias
    expected = (gate * torch.sigmoid(gate) * up) @ mlp.c_proj.weight.T + mlp.c_proj.bias
    torch.testing.assert_close(mlp(x), expected)


@given(n_embd=st.integers(1, 4096))
def test_swiglu_default_width_is_8_thirds_rounded_up_to_64(n_embd):
    width = SwiGLU.default_width(n_embd)
    assert width % 64 == 0
    assert 3 * width >= 8 * n_embd > 3 * (width - 64)  # the least such multiple of 64


def test_swiglu_width_examples_and_its_parameters_equal_the_gelu_mlp():
    assert [SwiGLU.default_width(n) for n in (16, 32, 768)] == [64, 128, 2048]
    assert SwiGLU(small_config(d_ff=48)).w_up.out_features == 48
    config = small_config(n_embd=96, bias=False)  # 8/3 x 96 = 256, a multiple of 64
    count = lambda module: sum(p.numel() for p in module.parameters())  # noqa: E731
    assert count(SwiGLU(config)) == count(MLP(config)) == 3 * 96 * 256


def test_relu2_follows_its_formula_and_is_week3s_mlp():
    torch.manual_seed(0)
    mlp = ReLU2(small_config())
    assert isinstance(mlp, MLP) and not hasattr(mlp, "gelu")
    assert mlp.c_fc.out_features == 4 * 32
    x = torch.randn(2, 5, 32)
    hidden = x @ mlp.c_fc.weight.T + mlp.c_fc.bias
    expected = torch.where(hidden > 0, hidden, 0.0) ** 2 @ mlp.c_proj.weight.T + mlp.c_proj.bias
    torch.testing.assert_close(mlp(x), expected)
    assert ReLU2(small_config(d_ff=40)).c_fc.out_features == 40


@pytest.mark.parametrize("kind", [SwiGLU, ReLU2])
def test_the_mlps_honour_bias_and_dropout(kind):
    assert all(p.dim() == 2 for p in kind(small_config(bias=False)).parameters())
    torch.manual_seed(0)
    mlp = kind(small_config(dropout=0.5))
    x = torch.randn(2, 5, 32)
    evaluated = mlp.eval()(x)
    torch.manual_seed(1)
    trained = mlp.train()(x)
    torch.manual_seed(1)
    assert torch.equal(trained, F.dropout(evaluated, 0.5, training=True))


@pytest.mark.parametrize(("mlp", "inner"), [("swiglu", "w_gate"), ("relu2", "c_fc")])
def test_gpt2_init_scales_the_mlps_output_projection(mlp, inner):
    model = small_gpt(mlp=mlp, n_layer=8, n_embd=64)
    block = model.blocks[0].mlp
    residual_std = 0.02 / math.sqrt(2 * 8)  # 0.005
    assert abs(block.c_proj.weight.std().item() - residual_std) < 0.001
    assert abs(getattr(block, inner).weight.std().item() - 0.02) < 0.002


# --- Grouped-query attention ---------------------------------------------------------------


@pytest.mark.parametrize("attention", ["naive", SDPA])
def test_grouped_query_with_a_kv_head_per_query_is_week3_attention(attention):
    config = small_config(attention=attention)  # n_kv_head: null = n_head
    base = ATTENTION.get(attention)
    torch.manual_seed(0)
    multi_head = base(config).eval()
    grouped = grouped_query(base)(config).eval()
    grouped.load_state_dict(multi_head.state_dict())  # the same c_attn shape, (3C, C)
    x = torch.randn(2, 9, 32)
    with torch.no_grad():
        assert torch.equal(grouped(x), multi_head(x))


def grouped_attention_reference(attention: CausalSelfAttention, x: Tensor, kv_heads: int):
    """Grouped-query attention written by grouping the QUERY heads: the n_head // kv_heads
    queries of group j form one batch against key/value head j (broadcast, no repeat)."""
    B, T, C = x.shape
    n_head = attention.n_head
    d, group = C // n_head, n_head // kv_heads
    q, k, v = attention.c_attn(x).split([C, kv_heads * d, kv_heads * d], dim=-1)
    q = q.view(B, T, kv_heads, group, d).permute(0, 2, 3, 1, 4)  # (B, kv, group, T, d)
    k = k.view(B, T, kv_heads, 1, d).permute(0, 2, 3, 1, 4)  # (B, kv, 1, T, d)
    v = v.view(B, T, kv_heads, 1, d).permute(0, 2, 3, 1, 4)
    scores = q @ k.transpose(-2, -1) / math.sqrt(d)
    future = torch.ones(T, T, dtype=torch.bool).triu(1)
    y = scores.masked_fill(future, float("-inf")).softmax(-1) @ v  # (B, kv, group, T, d)
    return attention.c_proj(y.permute(0, 3, 1, 2, 4).reshape(B, T, C))


def multi_query_reference(attention: CausalSelfAttention, x: Tensor) -> Tensor:
    """Multi-query attention (Shazeer 2019): n_head queries, ONE key and value head, looped."""
    B, T, C = x.shape
    d = C // attention.n_head
    q, k, v = attention.c_attn(x).split([C, d, d], dim=-1)
    future = torch.ones(T, T, dtype=torch.bool).triu(1)
    heads = []
    for h in range(attention.n_head):
        scores = q[..., h * d : (h + 1) * d] @ k.transpose(-2, -1) / math.sqrt(d)
        heads.append(scores.masked_fill(future, float("-inf")).softmax(-1) @ v)
    return attention.c_proj(torch.cat(heads, dim=-1))


@pytest.mark.parametrize("attention", ["naive", SDPA])
def test_one_kv_head_is_multi_query_attention(attention):
    torch.manual_seed(0)
    layer = grouped_query(ATTENTION.get(attention))(small_config(attention=attention, n_kv_head=1))
    assert layer.c_attn.out_features == 32 + 2 * 8
    x = torch.randn(2, 7, 32)
    with torch.no_grad():
        torch.testing.assert_close(layer.eval()(x), multi_query_reference(layer, x))


@pytest.mark.task("6.3")
@settings(max_examples=20, deadline=None)
@given(
    data=st.data(),
    n_head=st.sampled_from([1, 2, 4, 8]),
    T=st.integers(1, 9),
    attention=st.sampled_from(["naive", "sdpa"]),
)
def test_grouped_query_attention_equals_the_grouped_reference(data, n_head, T, attention):
    kv_heads = data.draw(st.sampled_from([k for k in (1, 2, 4, 8) if n_head % k == 0]))
    config = small_config(n_head=n_head, n_kv_head=kv_heads, attention=attention)
    torch.manual_seed(T)
    layer = grouped_query(ATTENTION.get(attention))(config).eval()
    x = torch.randn(2, T, 32)
    q, k, v = layer.project(x)
    assert q.shape == (2, n_head, T, 32 // n_head)
    assert k.shape == v.shape == (2, kv_heads, T, 32 // n_head)
    with torch.no_grad():
        reference = grouped_attention_reference(layer, x, kv_heads)
        torch.testing.assert_close(layer(x), reference, atol=1e-6, rtol=1e-5)


@pytest.mark.task("6.4", "6.5")
def test_a_grouped_query_cache_holds_only_the_key_value_heads():
    """n_layer 2, batch 3, block_size 16, n_head 4, d 8, float32: 2 x 2 x 3 x 16 x kv x 8 x 4 B."""
    x = torch.randint(0, 40, (3, 5))
    sizes = {}
    for kv_heads in (4, 2, 1):
        model = small_gpt(n_kv_head=kv_heads)
        cache = KVCache(model.config.n_layer, model.config.block_size)
        with torch.no_grad():
            cached_forward(model, x, cache)
        assert all(layer.keys.shape == (3, kv_heads, 16, 8) for layer in cache)
        tensors = [t for layer in cache for t in (layer.keys, layer.values)]
        sizes[kv_heads] = sum(t.numel() * t.element_size() for t in tensors)
    assert sizes == {4: 24576, 2: 12288, 1: 6144}  # multi-head, grouped, multi-query


# --- QK-norm -------------------------------------------------------------------------------


def rms_normed(z: Tensor, gain: Tensor, eps: float) -> Tensor:
    return z / torch.sqrt(z.square().mean(-1, keepdim=True) + eps) * gain


@pytest.mark.parametrize("kv_heads", [None, 2])
def test_qk_norm_normalises_each_query_and_key_head(kv_heads):
    config = small_config(n_kv_head=kv_heads, norm_eps=1e-6)
    base = CausalSelfAttention if kv_heads is None else grouped_query(CausalSelfAttention)
    torch.manual_seed(0)
    plain = base(config)
    normed = qk_normed(base)(config)
    normed.load_state_dict(plain.state_dict(), strict=False)  # all but the two gains
    with torch.no_grad():
        normed.q_norm.weight.normal_()
        normed.k_norm.weight.normal_()
    assert normed.q_norm.weight.shape == normed.k_norm.weight.shape == (8,)  # one per feature
    x = torch.randn(2, 6, 32)
    q, k, v = plain.project(x)
    nq, nk, nv = normed.project(x)
    torch.testing.assert_close(nq, rms_normed(q, normed.q_norm.weight, 1e-6))
    torch.testing.assert_close(nk, rms_normed(k, normed.k_norm.weight, 1e-6))
    assert torch.equal(nv, v) and nk.size(1) == config.kv_heads


@pytest.mark.task("6.1", "6.2")
def test_qk_norm_comes_before_rope():
    model = small_gpt(position="rope", qk_norm=True)
    attention = model.blocks[0].attn
    with torch.no_grad():
        attention.q_norm.weight.normal_()
        q, k, v = attention.project(torch.randn(1, 7, 32))  # normalised here, not rotated
        cos, sin = rotation_angles(torch.arange(7), rope_frequencies(8))
        rotated_q, rotated_k = rotate_interleaved(q, cos, sin), rotate_interleaved(k, cos, sin)
        expected = CausalSelfAttention.attend(attention, rotated_q, rotated_k, v)
        assert torch.equal(attention.attend(q, k, v), expected)


@pytest.mark.task("6.1")
def test_norm_then_rotate_keeps_scores_relative_and_rotate_then_norm_does_not():
    torch.manual_seed(0)
    d, gain = 8, torch.randn(8)  # gains that differ within the rotated pairs
    q, k = torch.randn(1, d, dtype=torch.float64), torch.randn(1, d, dtype=torch.float64)
    norm = lambda z: rms_normed(z, gain.double(), 1e-6)  # noqa: E731

    def rotate(z: Tensor, position: int) -> Tensor:
        cos, sin = rotation_angles(torch.tensor([position]), rope_frequencies(d))
        return rotate_interleaved(z, cos.double(), sin.double())

    def score(order: str, m: int, n: int) -> Tensor:
        if order == "norm then rotate":
            return (rotate(norm(q), m) * rotate(norm(k), n)).sum()
        return (norm(rotate(q, m)) * norm(rotate(k, n))).sum()

    torch.testing.assert_close(score("norm then rotate", 9, 3), score("norm then rotate", 6, 0))
    assert not torch.allclose(score("rotate then norm", 9, 3), score("rotate then norm", 6, 0))


# --- Logit soft-cap ------------------------------------------------------------------------


@settings(max_examples=50, deadline=None)
@given(
    logits=st.lists(st.floats(-(2.0**100), 2.0**100, width=32), min_size=1, max_size=20),
    cap=st.floats(0.5, 50.0),
)
def test_soft_capped_logits_stay_inside_the_cap(logits, cap):
    head = SoftCappedHead(1, len(logits), cap=cap)
    with torch.no_grad():
        head.weight.copy_(torch.tensor(logits)[:, None])
        z = head.weight[:, 0]
        capped = head(torch.ones(1))
    torch.testing.assert_close(capped, cap * torch.tanh(z / cap))
    assert (capped.abs() <= cap).all()  # float32 tanh rounds to +-1 past |u| ~ 9 (docstring)
    moderate = z.abs() < 8 * cap
    assert (capped[moderate].abs() < cap).all()
    small = z.abs() < 0.1 * cap  # tanh(u) ~ u: |tanh u - u| <= |u|^3 / 3
    assert ((capped - z)[small].abs() <= z[small].abs() ** 3 / (3 * cap**2) + 1e-6).all()


@pytest.mark.parametrize("tie_weights", [True, False])
def test_the_softcap_head_caps_the_models_logits_and_keeps_tying(tie_weights):
    plain = small_gpt(tie_weights=tie_weights)
    capped = small_gpt(tie_weights=tie_weights, logit_softcap=0.1)
    capped.load_state_dict(plain.state_dict())
    assert isinstance(capped.lm_head, SoftCappedHead)
    assert (capped.lm_head.weight is capped.token_embedding.weight) == tie_weights
    idx = torch.randint(0, 40, (2, 9))
    with torch.no_grad():
        logits, plain_logits = capped(idx)[0], plain(idx)[0]
    torch.testing.assert_close(logits, 0.1 * torch.tanh(plain_logits / 0.1))
    assert plain_logits.abs().max() > 0.1 > logits.abs().max()  # the cap bends some logits


def test_the_softcap_head_needs_a_cap():
    with pytest.raises(ConfigError, match="logit_softcap: must be a positive number"):
        softcap_head(small_config(), 40)


# --- rope_theta ----------------------------------------------------------------------------


@pytest.mark.task("6.1", "6.2")
def test_rope_theta_sets_the_base_and_10000_gives_the_previous_numbers():
    default = small_gpt(position="rope")
    llama3 = small_gpt(position="rope", rope_theta=500000.0)
    llama3.load_state_dict(default.state_dict())
    exponents = torch.arange(0, 8, 2, dtype=torch.float32) / 8
    assert torch.equal(default.blocks[0].attn.frequencies, 10000.0**-exponents)
    assert torch.equal(default.blocks[0].attn.frequencies, rope_frequencies(8))  # ROPE_BASE
    assert torch.equal(llama3.blocks[1].attn.frequencies, 500000.0**-exponents)
    attention = llama3.blocks[0].attn
    q, k, v = attention.project(torch.randn(1, 5, 32))
    cos, sin = rotation_angles(torch.arange(5), 500000.0**-exponents)
    expected = CausalSelfAttention.attend(
        attention, rotate_interleaved(q, cos, sin), rotate_interleaved(k, cos, sin), v
    )
    assert torch.equal(attention.attend(q, k, v), expected)
    idx = torch.randint(0, 40, (1, 6))
    with torch.no_grad():
        a, b = default(idx)[0], llama3(idx)[0]
    assert torch.equal(a[:, 0], b[:, 0])  # position 0 is not rotated, whatever the base
    assert not torch.allclose(a[:, 1:], b[:, 1:])


# --- Every option, with every attention and position ---------------------------------------

OPTIONS = {
    "rmsnorm": {"norm": "rmsnorm"},
    "swiglu": {"mlp": "swiglu"},
    "relu2": {"mlp": "relu2"},
    "gqa": {"n_kv_head": 2},
    "mqa": {"n_kv_head": 1},
    "qk_norm": {"qk_norm": True},
    "softcap": {"logit_softcap": 2.0},
    "all": {
        "norm": "rmsnorm",
        "mlp": "swiglu",
        "n_kv_head": 2,
        "qk_norm": True,
        "logit_softcap": 2.0,
        "bias": False,
        "tie_weights": False,
    },
}
EVERY_OPTION = pytest.mark.parametrize("option", list(OPTIONS))
EVERY_ATTENTION = pytest.mark.parametrize("attention", ["naive", SDPA])
EVERY_POSITION = pytest.mark.parametrize("position", ["learned", ROPE])


def decisive_gpt(option: str, attention: str, position: str) -> GPT:
    """A small model with weights std 0.3, so that a wrong context changes the logits."""
    model = small_gpt(attention=attention, position=position, **OPTIONS[option])
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.dim() >= 2:
                parameter.normal_(0.0, 0.3)
    return model


@EVERY_OPTION
@EVERY_ATTENTION
@EVERY_POSITION
def test_changing_the_future_never_changes_the_past(option, attention, position):
    model = decisive_gpt(option, attention, position)
    idx = torch.randint(0, 40, (1, 12))
    other = idx.clone()
    other[0, 6:] = (other[0, 6:] + 1) % 40
    with torch.no_grad():
        logits, other_logits = model(idx)[0], model(other)[0]
    assert torch.equal(logits[:, :6], other_logits[:, :6])
    assert not torch.allclose(logits[:, 6:], other_logits[:, 6:])


@pytest.mark.task("6.4", "6.5")
@EVERY_OPTION
@EVERY_ATTENTION
@EVERY_POSITION
def test_kv_cache_decoding_equals_the_full_forward(option, attention, position):
    model = decisive_gpt(option, attention, position)
    idx = torch.randint(0, 40, (2, 12))
    cache = KVCache(model.config.n_layer, model.config.block_size)
    with torch.no_grad():
        full = model(idx)[0]
        prefill = cached_forward(model, idx[:, :4], cache)
        steps = [cached_forward(model, idx[:, t : t + 1], cache) for t in range(4, 12)]
    torch.testing.assert_close(torch.cat([prefill, *steps], dim=1), full, atol=1e-5, rtol=1e-5)
    assert cache[0].keys.size(1) == model.config.kv_heads


@EVERY_OPTION
@EVERY_ATTENTION
@EVERY_POSITION
def test_every_parameter_gets_a_finite_nonzero_gradient(option, attention, position):
    model = small_gpt(attention=attention, position=position, **OPTIONS[option]).train()
    idx = torch.randint(0, 40, (4, 16))
    _, loss = model(idx, torch.roll(idx, -1, dims=1))
    loss.backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None, name
        assert torch.isfinite(parameter.grad).all(), name
        assert parameter.grad.abs().sum() > 0, name


@pytest.mark.task("6.1", "6.2", "6.3")
def test_a_llama_style_stack_builds_and_learns():
    model = small_gpt(
        norm="rmsnorm",
        mlp="swiglu",
        position="rope",
        attention="sdpa",
        n_kv_head=2,
        tie_weights=False,
        bias=False,
    ).train()
    assert not [name for name, _ in model.named_parameters() if name.endswith("bias")]
    assert model.lm_head.weight is not model.token_embedding.weight
    assert model.blocks[0].attn.c_attn.out_features == 32 + 2 * 2 * 8
    idx = torch.randint(0, 40, (4, 16))
    targets = torch.roll(idx, -1, dims=1)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(15):
        _, loss = model(idx, targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert abs(losses[0] - math.log(40)) < 0.2  # about uniform at initialisation
    assert losses[-1] < losses[0] - 1.0


def test_the_modern_keys_load_from_a_run_config(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(
        "model:\n  vocab_size: 10\n  block_size: 8\n  norm: rmsnorm\n  mlp: swiglu\n"
        "  n_kv_head: 2\n  qk_norm: true\n  logit_softcap: 30\n  rope_theta: 500000\n"
    )
    model = load_config(path, []).model
    assert model.attention_features() == ["grouped_query", "qk_norm"]
    assert (model.norm, model.mlp, model.head_kind()) == ("rmsnorm", "swiglu", "softcap")
