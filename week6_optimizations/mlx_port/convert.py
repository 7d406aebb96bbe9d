"""PyTorch <-> MLX weights, losslessly: the parameter-name mapping and the safetensors files.

The mapping, PyTorch `GPT.state_dict()` name -> MLX `MLXGPT` parameter name:

    token_embedding.weight              -> token_embedding.weight          (V, C)
    position_encoding.table.weight      -> position_encoding.table.weight  (block_size, C), learned
    blocks.{i}.ln_1.weight / .bias      -> blocks.{i}.ln_1.weight / .bias  (C,)
    blocks.{i}.attn.c_attn.weight/.bias -> same                            (3C, C) / (3C,)
    blocks.{i}.attn.c_proj.weight/.bias -> same                            (C, C) / (C,)
    blocks.{i}.ln_2.weight / .bias      -> same
    blocks.{i}.mlp.c_fc.weight / .bias  -> same                            (h, C) / (h,)
    blocks.{i}.mlp.c_proj.weight/.bias  -> same                            (C, h) / (C,)
    ln_f.weight / .bias                 -> same
    lm_head.weight                      -> lm_head.weight if untied; DROPPED if tied

h is 4C, or `model.d_ff`. Week 6's modern blocks keep that rule, name for name, because their
MLX twins (modern.py) have the PyTorch attribute names:

    rmsnorm        ln_1, ln_2, ln_f: `.weight` only (`.bias` too with model.bias)   (C,)
    swiglu         blocks.{i}.mlp.w_gate, .w_up (h, C) and .c_proj (C, h), h = d_ff or 8/3 C
                   rounded up to 64; relu2 has gelu's c_fc and c_proj
    n_kv_head      blocks.{i}.attn.c_attn: (C + 2 n_kv_head d, C), queries first
    qk_norm        blocks.{i}.attn.q_norm.weight, .k_norm.weight                     (d,)
    logit_softcap  no weights (lm_head stays a Linear); rope_theta, norm_eps: none

Both frameworks store a Linear weight as (out, in), so no array is transposed. The one
difference is the tied head: PyTorch's state_dict lists the shared matrix under both names,
while MLX holds it once (the head calls `token_embedding.as_linear`). Going back, the tied
`lm_head.weight` is the very tensor `token_embedding.weight` again, as in PyTorch.

Values cross through NumPy bit for bit. NumPy has no bfloat16, so bfloat16 arrays cross as
their raw 16-bit patterns (a `view`, not a conversion) and are viewed back on the other side.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mlx.core as mx
import numpy as np
import torch

from shared.atomic import atomic_write
from shared.errors import CourseError
from week3_model.config import GPTConfig

if TYPE_CHECKING:
    import mlx.nn as nn

TIED_HEAD = "lm_head.weight"


def torch_to_mx(tensor: torch.Tensor) -> mx.array:
    """One tensor, bit for bit (bfloat16 via its 16-bit pattern)."""
    tensor = tensor.detach().cpu().contiguous()
    if tensor.dtype == torch.bfloat16:
        return mx.view(mx.array(tensor.view(torch.int16).numpy()), mx.bfloat16)
    return mx.array(tensor.numpy())


def mx_to_torch(array: mx.array) -> torch.Tensor:
    """One array, bit for bit (bfloat16 via its 16-bit pattern)."""
    if array.dtype == mx.bfloat16:
        return torch.from_numpy(np.array(mx.view(array, mx.int16))).view(torch.bfloat16)
    return torch.from_numpy(np.array(array))


def torch_name_to_mlx(name: str, config: GPTConfig) -> str | None:
    """The MLX parameter name of a PyTorch state_dict entry, or None if MLX does not store it."""
    if name == TIED_HEAD and config.tie_weights:
        return None
    return name


def state_dict_to_mlx(
    state_dict: Mapping[str, torch.Tensor], config: GPTConfig
) -> dict[str, mx.array]:
    """A PyTorch GPT state_dict -> flat {MLX name: array}, ready for `model.load_weights`."""
    weights = {}
    for name, tensor in state_dict.items():
        mlx_name = torch_name_to_mlx(name, config)
        if mlx_name is not None:
            weights[mlx_name] = torch_to_mx(tensor)
    return weights


def mlx_to_state_dict(weights: Mapping[str, mx.array], config: GPTConfig) -> dict[str, Any]:
    """Flat {MLX name: array} -> a PyTorch GPT state_dict (the tied head restored, shared)."""
    state = {name: mx_to_torch(array) for name, array in weights.items()}
    if config.tie_weights:
        state[TIED_HEAD] = state["token_embedding.weight"]
    return state


def model_weights(model: nn.Module) -> dict[str, mx.array]:
    """An MLX model's parameters as a flat {name: array} dict."""
    from mlx.utils import tree_flatten

    return dict(tree_flatten(model.parameters()))


def load_weights_into(model: nn.Module, weights: Mapping[str, mx.array], where: str | Path) -> None:
    """Load flat weights into an MLX model; a missing, extra or misshapen name is a clear error."""
    own = model_weights(model)
    missing, unexpected = sorted(set(own) - set(weights)), sorted(set(weights) - set(own))
    if missing or unexpected:
        kind, names = ("missing", missing) if missing else ("unexpected", unexpected)
        raise CourseError(
            f"{where}: the weights belong to a model of another shape (parameters {kind}: "
            f"{', '.join(names[:3])}); use the run's own model settings"
        )
    for name, array in weights.items():
        if array.shape != own[name].shape:
            raise CourseError(
                f"{where}: the weights belong to a model of another shape ({name} is "
                f"{tuple(array.shape)} there, {tuple(own[name].shape)} here); use the run's own "
                "model settings"
            )
    model.load_weights(list(weights.items()), strict=True)
    mx.eval(model.parameters())


# ----------------------------------------------------------------------------- files


def save_safetensors(
    path: str | Path, weights: Mapping[str, mx.array], metadata: Mapping[str, Any] | None = None
) -> Path:
    """Write weights atomically; metadata values are stored as JSON strings (safetensors
    metadata is str -> str)."""
    path = Path(path)
    text = {key: json.dumps(value) for key, value in (metadata or {}).items()}
    atomic_write(path, lambda handle: mx.save_safetensors(handle, dict(weights), metadata=text))
    return path


def load_safetensors(path: str | Path) -> tuple[dict[str, mx.array], dict[str, Any]]:
    """(weights, metadata) of a file `save_safetensors` wrote."""
    path = Path(path)
    if not path.is_file():
        raise CourseError(f"{path}: weights file not found")
    try:
        loaded = mx.load(str(path), format="safetensors", return_metadata=True)
        assert isinstance(loaded, tuple)  # (weights, metadata), as return_metadata asks
        weights, text = loaded
        metadata = {key: json.loads(value) for key, value in text.items()}
    except (RuntimeError, ValueError) as error:
        raise CourseError(f"{path}: not a readable safetensors file ({error})") from None
    return weights, metadata
