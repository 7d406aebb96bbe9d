"""GPTConfig: defaults, range checks with clear messages, the `model` config section, registries."""

from __future__ import annotations

import re

import pytest

from shared.config import ConfigError, config_from_dict
from shared.errors import CourseError
from shared.registry import Registry
from week3_model import ATTENTION, GPT, POSITION, GPTConfig
from week3_model.config import check_registered


def test_defaults_are_gpt2_small():
    config = GPTConfig()
    assert (config.n_layer, config.n_head, config.n_embd, config.block_size) == (12, 12, 768, 1024)
    assert config.vocab_size is None
    assert (config.attention, config.position) == ("naive", "learned")
    assert config.head_size == 64


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"n_embd": 30, "n_head": 4}, "n_embd: must be divisible by n_head=4"),
        ({"n_layer": 0}, "n_layer: must be a positive integer"),
        ({"n_head": -1}, "n_head: must be a positive integer"),
        ({"block_size": 0}, "block_size: must be a positive integer"),
        ({"n_embd": 0}, "n_embd: must be a positive integer"),
        ({"vocab_size": 0}, "vocab_size: must be a positive integer"),
        ({"dropout": 1.0}, "dropout: must be in [0, 1)"),
        ({"dropout": -0.1}, "dropout: must be in [0, 1)"),
        (
            {"attention": "magic"},
            "attention: must be one of naive, sdpa (the tiny_gpt.attention",
        ),
        ({"position": "magic"}, "position: must be one of learned, rope (the tiny_gpt.position"),
        ({"norm": "magic"}, "norm: must be one of layernorm, rmsnorm (the tiny_gpt.norm table)"),
        ({"mlp": "magic"}, "mlp: must be one of gelu, relu2, swiglu (the tiny_gpt.mlp table)"),
        ({"norm_eps": 0.0}, "norm_eps: must be a positive number, got 0.0"),
        ({"d_ff": 0}, "d_ff: must be a positive integer, or null for the MLP's default width"),
        ({"n_head": 4, "n_embd": 32, "n_kv_head": 3}, "n_kv_head: must be a divisor of n_head=4"),
        ({"n_head": 4, "n_embd": 32, "n_kv_head": 8}, "n_kv_head: must be a divisor of n_head=4"),
        ({"n_kv_head": 0}, "n_kv_head: must be a divisor of n_head=12"),
        ({"logit_softcap": 0.0}, "logit_softcap: must be a positive number, or null for no cap"),
        ({"logit_softcap": -30.0}, "logit_softcap: must be a positive number, or null for no cap"),
        ({"rope_theta": 0.0}, "rope_theta: must be a positive number, got 0.0"),
    ],
)
def test_invalid_values_are_clear_errors(changes, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        GPTConfig(**changes)


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(ConfigError) as error:
        GPTConfig(attention="magic")
    assert str(error.value).endswith("got 'magic'") and "naive, sdpa" in str(error.value)


def test_model_section_of_a_run_config():
    config = config_from_dict({"model": {"n_layer": 2, "n_head": 2, "n_embd": 64}})
    assert isinstance(config.model, GPTConfig)
    assert (config.model.n_layer, config.model.n_embd, config.model.vocab_size) == (2, 64, None)


def test_run_config_errors_name_the_section_and_key():
    with pytest.raises(ConfigError, match=r"^model\.n_embd: must be divisible by n_head=3"):
        config_from_dict({"model": {"n_head": 3, "n_embd": 64}})
    with pytest.raises(ConfigError, match=r"^model\.dropout: must be a number"):
        config_from_dict({"model": {"dropout": "lots"}})
    with pytest.raises(ConfigError, match=r"^model\.position: must be one of learned, rope"):
        config_from_dict({"model": {"position": "sinusoidal"}})


def test_building_a_gpt_without_vocab_size_is_a_clear_error():
    with pytest.raises(CourseError, match="model.vocab_size: is not set; it is taken from the tok"):
        GPT(GPTConfig(n_layer=1, n_head=1, n_embd=8, block_size=4))


def test_the_tables_list_every_variant_without_importing_it():
    assert ATTENTION.names() == ["naive", "sdpa"] and POSITION.names() == ["learned", "rope"]
    assert ATTENTION.source("sdpa") == "week6_optimizations.sdpa:SDPAttention"
    assert POSITION.source("rope") == "week6_optimizations.rope:RotaryPosition"


def test_a_stand_in_variant_is_a_valid_name(monkeypatch):
    table = Registry("attention", "tiny_gpt.attention")
    monkeypatch.setitem(table._entries, "flash", object)
    check_registered(table, "flash", "attention")  # known: no error
    with pytest.raises(ConfigError, match=r"^attention: must be one of flash, naive, sdpa"):
        check_registered(table, "flashier", "attention")


def test_gpt2_defaults_switch_no_feature_on():
    config = GPTConfig()
    assert config.kv_heads == config.n_head and config.attention_features() == []
    assert config.head_kind() == "linear"
    same = GPTConfig(n_kv_head=12)  # as many key/value heads as query heads: plain attention
    assert same.attention_features() == []
    modern = GPTConfig(n_kv_head=4, qk_norm=True, logit_softcap=30.0)
    assert modern.kv_heads == 4 and modern.attention_features() == ["grouped_query", "qk_norm"]
    assert modern.head_kind() == "softcap"
