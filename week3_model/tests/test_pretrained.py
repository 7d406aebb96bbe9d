"""Loading GPT-2 weights: equal logits to Hugging Face's GPT2LMHeadModel (test-only reference)."""

from __future__ import annotations

import json

import pytest
import torch
import transformers
from safetensors.torch import save_file

from shared.errors import CourseError
from week3_model import GPT, GPTConfig
from week3_model.pretrained import (
    course_name,
    gpt_from_gpt2_state_dict,
    gpt_from_safetensors,
    infer_gpt2_config,
    strip_gpt2_names,
)

SMALL = dict(n_embd=64, n_layer=2, n_head=4, vocab_size=101, n_positions=32)


def hf_gpt2(tie: bool = True):
    """A small random GPT-2 in eval mode, every weight (biases and LayerNorms too) randomised."""
    torch.manual_seed(0)
    config = transformers.GPT2Config(
        **SMALL,
        activation_function="gelu_new",
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        bos_token_id=0,
        eos_token_id=0,
        tie_word_embeddings=tie,
    )
    model = transformers.GPT2LMHeadModel(config).eval()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.normal_(0.0, 0.1)
    return model


def max_logit_error(hf, ours: GPT) -> float:
    idx = torch.randint(0, 101, (3, 32), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        return (hf(idx).logits - ours.eval()(idx)[0]).abs().max().item()


@pytest.fixture(scope="module")
def tied():
    return hf_gpt2(tie=True)


@pytest.mark.task("3.1", "3.2", "3.3", "3.4", "3.5", "3.6", "3.7", "3.8")
def test_tied_gpt2_logits_match(tied):
    ours = gpt_from_gpt2_state_dict(tied.state_dict(), n_head=4)
    assert ours.config == GPTConfig(
        vocab_size=101, block_size=32, n_layer=2, n_head=4, n_embd=64, bias=True, tie_weights=True
    )
    assert ours.lm_head.weight is ours.token_embedding.weight
    assert max_logit_error(tied, ours) < 1e-5


@pytest.mark.task("3.1", "3.2", "3.3", "3.4", "3.5", "3.7", "3.8")
def test_untied_gpt2_logits_match():
    hf = hf_gpt2(tie=False)
    ours = gpt_from_gpt2_state_dict(hf.state_dict(), n_head=4)
    assert not ours.config.tie_weights
    assert max_logit_error(hf, ours) < 1e-5


@pytest.mark.task("3.1", "3.2", "3.3", "3.4", "3.5", "3.6", "3.7", "3.8")
def test_names_without_prefix_and_mask_buffers(tied):
    state = {k.removeprefix("transformer."): v for k, v in tied.state_dict().items()}
    state.pop("lm_head.weight")  # as in the published model.safetensors
    state["h.0.attn.bias"] = torch.ones(1, 1, 32, 32)  # the old causal-mask buffer
    assert "h.0.attn.bias" not in strip_gpt2_names(state)
    assert "h.0.attn.c_attn.bias" in strip_gpt2_names(state)
    ours = gpt_from_gpt2_state_dict(state, n_head=4)
    assert max_logit_error(tied, ours) < 1e-5


def test_course_names():
    assert course_name("wte.weight") == "token_embedding.weight"
    assert course_name("wpe.weight") == "position_encoding.table.weight"
    assert course_name("h.11.mlp.c_fc.weight") == "blocks.11.mlp.c_fc.weight"
    assert course_name("ln_f.bias") == "ln_f.bias"


@pytest.mark.task("3.1", "3.2", "3.3", "3.4", "3.5", "3.6", "3.7", "3.8")
def test_explicit_config(tied):
    config = GPTConfig(vocab_size=101, block_size=32, n_layer=2, n_head=4, n_embd=64)
    ours = gpt_from_gpt2_state_dict(tied.state_dict(), config)
    assert max_logit_error(tied, ours) < 1e-5


@pytest.mark.task("3.1", "3.2", "3.3", "3.4", "3.5", "3.6", "3.7", "3.8")
def test_from_safetensors_with_and_without_config_json(tied, tmp_path):
    state = {k.removeprefix("transformer."): v.contiguous() for k, v in tied.state_dict().items()}
    del state["lm_head.weight"]
    path = tmp_path / "model.safetensors"
    save_file(state, str(path))
    with pytest.raises(CourseError, match="divisible by n_head=12"):
        gpt_from_safetensors(path)  # 64 channels cannot be 12 heads; GPT-2's default is 12
    assert max_logit_error(tied, gpt_from_safetensors(path, n_head=4)) < 1e-5
    (tmp_path / "config.json").write_text(json.dumps({"n_head": 4, "n_embd": 64}))
    assert max_logit_error(tied, gpt_from_safetensors(path)) < 1e-5


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(CourseError, match="no such safetensors file"):
        gpt_from_safetensors(tmp_path / "model.safetensors")


@pytest.mark.task("3.6", "3.7")
def test_wrong_weights_are_clear_errors(tied):
    state = dict(tied.state_dict())
    with pytest.raises(CourseError, match="not a GPT-2 state dict: no 'wpe.weight'"):
        infer_gpt2_config({"wte.weight": torch.zeros(3, 4)})
    no_bias = GPTConfig(vocab_size=101, block_size=32, n_layer=2, n_head=4, n_embd=64, bias=False)
    with pytest.raises(CourseError, match="'h.0.ln_1.bias' has no place in this model"):
        gpt_from_gpt2_state_dict(state, no_bias)
    wider = GPTConfig(vocab_size=101, block_size=64, n_layer=2, n_head=4, n_embd=64)
    with pytest.raises(CourseError, match=r"'wpe.weight' has shape \(32, 64\), the model expects"):
        gpt_from_gpt2_state_dict(state, wider)
    missing = {k: v for k, v in state.items() if "h.1.mlp" not in k}
    with pytest.raises(CourseError, match="missing blocks.1.mlp.c_fc.bias"):
        gpt_from_gpt2_state_dict(missing, n_head=4, config=GPTConfig(**shape_of(2)))


@pytest.mark.task("3.6", "3.7")
def test_tied_config_refuses_a_separate_head():
    hf = hf_gpt2(tie=False)
    with pytest.raises(CourseError, match="tie_weights is true but these weights have a separate"):
        gpt_from_gpt2_state_dict(hf.state_dict(), GPTConfig(**shape_of(2)))


def test_gpt2_weights_need_learned_positions(monkeypatch, tied):
    from week3_model import POSITION
    from week3_model.position import LearnedPosition

    monkeypatch.setitem(POSITION._entries, "other", LearnedPosition)
    config = GPTConfig(**shape_of(2), position="other")
    with pytest.raises(CourseError, match="need model.position 'learned', not 'other'"):
        gpt_from_gpt2_state_dict(tied.state_dict(), config)


def shape_of(n_layer: int) -> dict:
    return dict(vocab_size=101, block_size=32, n_layer=n_layer, n_head=4, n_embd=64)


def saved_gpt2(tied, folder, **changes):
    """`model.safetensors` of the tied test model in `folder`, with some tensors replaced."""
    state = {k.removeprefix("transformer."): v.contiguous() for k, v in tied.state_dict().items()}
    del state["lm_head.weight"]
    state.update(changes)
    path = folder / "model.safetensors"
    save_file(state, str(path))
    return path


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda data: data[: len(data) // 2], "incomplete metadata"),  # a download cut short
        (lambda data: b"", "header too small"),  # an empty file
        (lambda data: b"<!DOCTYPE html><html>Not Found</html>", "header too large"),  # not one
    ],
)
def test_a_damaged_safetensors_file_is_one_line_naming_it(tied, tmp_path, damage, reason):
    path = saved_gpt2(tied, tmp_path)
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(CourseError, match="not a readable safetensors file") as error:
        gpt_from_safetensors(path, n_head=4)
    assert str(error.value).startswith(f"{path}: ") and reason in str(error.value)


def test_weights_holding_nan_or_infinity_are_refused(tied, tmp_path):
    wpe = tied.state_dict()["transformer.wpe.weight"].clone()
    wpe[3, 5] = float("nan")
    path = saved_gpt2(tied, tmp_path, **{"wpe.weight": wpe})
    with pytest.raises(CourseError, match=r"weight 'wpe.weight' holds NaN or infinite values"):
        gpt_from_safetensors(path, n_head=4)
    wpe[3, 5] = float("-inf")
    path = saved_gpt2(tied, tmp_path, **{"wpe.weight": wpe})
    with pytest.raises(CourseError, match=f"^{path}: weight 'wpe.weight'"):
        gpt_from_safetensors(path, n_head=4)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b"{n_head: 4", "not a readable JSON file"),
        (b"\xff\xfe\x00garbage", "not a readable JSON file"),
        (b'{"n_head": "four"}', "n_head must be a positive integer, got 'four'"),
        (b"[4]", "n_head must be a positive integer, got None"),
    ],
)
def test_a_broken_config_json_is_one_line_naming_it(tied, tmp_path, text, message):
    path = saved_gpt2(tied, tmp_path)
    (tmp_path / "config.json").write_bytes(text)
    with pytest.raises(CourseError, match=message) as error:
        gpt_from_safetensors(path)
    assert str(error.value).startswith(f"{tmp_path / 'config.json'}: ")
