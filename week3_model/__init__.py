"""Week 3: a GPT-2 style decoder built from its parts, each in its own file.

config.py     GPTConfig, the `model` section of a run config
layernorm.py  LayerNorm with an optional bias
position.py   position encodings (learned) and what a POSITION entry provides
attention.py  causal self-attention by hand: project, attend, output
mlp.py        the 4x-wide feed-forward network with tanh-GELU
block.py      a pre-norm residual Block
gpt.py        the whole model: embed, forward, loss, parameter counts, initialisation
pretrained.py loading Hugging Face GPT-2 weights (gpt_from_safetensors)
"""

import shared  # noqa: F401  (first: see shared/__init__.py, before PyTorch loads)
from week3_model.attention import CausalSelfAttention, attention_weights, make_attention
from week3_model.block import Block
from week3_model.config import ATTENTION, POSITION, GPTConfig
from week3_model.gpt import GPT, check_input, init_gpt2_weights, language_model_loss
from week3_model.layernorm import LayerNorm
from week3_model.mlp import MLP
from week3_model.position import LearnedPosition, PositionEncoding

__all__ = [
    "ATTENTION",
    "GPT",
    "MLP",
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
]
