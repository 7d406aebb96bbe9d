"""Week 3: a GPT-2 style decoder built from its parts, each in its own file.

config.py     GPTConfig, the `model` section of a run config
layernorm.py  LayerNorm with an optional bias; make_norm builds the config's norm
position.py   position encodings (learned) and what a POSITION entry provides
attention.py  causal self-attention by hand: project, attend, output
mlp.py        the 4x-wide feed-forward network with tanh-GELU; make_mlp builds the config's
block.py      a pre-norm residual Block
gpt.py        the whole model: embed, forward, loss, parameter counts, initialisation
pretrained.py loading Hugging Face GPT-2 weights (gpt_from_safetensors)
"""

import shared  # noqa: F401  (first: see shared/__init__.py, before PyTorch loads)
from week3_model.attention import CausalSelfAttention, attention_weights, make_attention
from week3_model.block import Block
from week3_model.config import (
    ATTENTION,
    ATTENTION_FEATURE,
    HEAD,
    MLP_KIND,
    NORM,
    POSITION,
    GPTConfig,
)
from week3_model.gpt import GPT, check_input, init_gpt2_weights, language_model_loss, make_head
from week3_model.layernorm import LayerNorm, make_norm
from week3_model.mlp import MLP, make_mlp
from week3_model.position import LearnedPosition, PositionEncoding

__all__ = [
    "ATTENTION",
    "ATTENTION_FEATURE",
    "GPT",
    "HEAD",
    "MLP",
    "MLP_KIND",
    "NORM",
    "POSITION",
    "Block",
    "CausalSelfAttention",
    "GPTConfig",
    "LayerNorm",
    "LearnedPosition",
    "PositionEncoding",
    "attention_weights",
    "check_input",
    "init_gpt2_weights",
    "language_model_loss",
    "make_attention",
    "make_head",
    "make_mlp",
    "make_norm",
]
