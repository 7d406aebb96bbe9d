"""Load OpenAI's GPT-2 weights, as Hugging Face ships them, into this course's GPT.

The names already match (GPT-2's `h.0.attn.c_attn` is our `blocks.0.attn.c_attn`), with three
differences a loader has to know:

1. Hugging Face's GPT-2 uses `Conv1D` layers, which store a weight as (in, out); `nn.Linear`
   stores (out, in). The four projection weights (c_attn, c_proj, c_fc, c_proj) are transposed.
2. Keys may start with `transformer.` (a `GPT2LMHeadModel` state dict) or not (`model.safetensors`
   as published), and older files carry the causal mask as `attn.bias`/`attn.masked_bias`
   buffers, which are not weights and are skipped.
3. The LM head is tied to the token embedding; files often leave `lm_head.weight` out.

Shapes give vocab_size (wte rows), n_embd, block_size (wpe rows) and n_layer (number of h.N); the
number of heads is invisible in the shapes, so it is an argument (GPT-2 small: 12) or is read from
a `config.json` beside the safetensors file. The real 124M weights: the `model.safetensors` and
`config.json` files of https://huggingface.co/openai-community/gpt2 (about 550 MB).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import torch
from torch import Tensor

from shared.errors import CourseError
from week3_model.config import GPTConfig
from week3_model.gpt import GPT

CONV1D_WEIGHTS = (
    "attn.c_attn.weight",
    "attn.c_proj.weight",
    "mlp.c_fc.weight",
    "mlp.c_proj.weight",
)
MASK_BUFFERS = ("attn.bias", "attn.masked_bias")
GPT2_SMALL_HEADS = 12


def strip_gpt2_names(state_dict: dict[str, Tensor]) -> dict[str, Tensor]:
    """Drop a leading `transformer.` from every key and skip the causal-mask buffers."""
    weights = {}
    for name, tensor in state_dict.items():
        name = name.removeprefix("transformer.")
        if name.endswith(MASK_BUFFERS) and not name.endswith("c_attn.bias"):
            continue
        weights[name] = tensor
    return weights


def course_name(gpt2_name: str) -> str:
    """A (stripped) GPT-2 parameter name -> this course's name for the same parameter."""
    if gpt2_name == "wte.weight":
        return "token_embedding.weight"
    if gpt2_name == "wpe.weight":
        return "position_encoding.table.weight"
    return re.sub(r"^h\.(\d+)\.", r"blocks.\1.", gpt2_name)


def to_course_tensor(gpt2_name: str, tensor: Tensor) -> Tensor:
    """Transpose Conv1D (in, out) weights to nn.Linear's (out, in); others pass unchanged."""
    return tensor.t() if gpt2_name.endswith(CONV1D_WEIGHTS) else tensor


def infer_gpt2_config(weights: dict[str, Tensor], n_head: int = GPT2_SMALL_HEADS) -> GPTConfig:
    """Read a GPTConfig off the tensor shapes of stripped GPT-2 weights."""
    for required in ("wte.weight", "wpe.weight"):
        if required not in weights:
            raise CourseError(f"not a GPT-2 state dict: no {required!r} tensor")
    vocab_size, n_embd = weights["wte.weight"].shape
    layers = {int(m.group(1)) for name in weights if (m := re.match(r"h\.(\d+)\.", name))}
    head = weights.get("lm_head.weight")
    tied = head is None or torch.equal(head, weights["wte.weight"])
    return GPTConfig(
        vocab_size=vocab_size,
        block_size=weights["wpe.weight"].shape[0],
        n_layer=len(layers),
        n_head=n_head,
        n_embd=n_embd,
        dropout=0.0,
        bias="ln_f.bias" in weights,
        tie_weights=tied,
    )


def gpt_from_gpt2_state_dict(
    state_dict: dict[str, Tensor], config: GPTConfig | None = None, n_head: int = GPT2_SMALL_HEADS
) -> GPT:
    """Build a GPT and copy GPT-2 weights into it; every key and shape must match exactly."""
    weights = strip_gpt2_names(state_dict)
    config = infer_gpt2_config(weights, n_head) if config is None else config
    if config.position != "learned":
        raise CourseError(f"GPT-2 weights need model.position 'learned', not {config.position!r}")
    model = GPT(config)
    expected = model.state_dict()
    converted = {}
    for gpt2_name, tensor in weights.items():
        name = course_name(gpt2_name)
        if name not in expected:
            raise CourseError(f"GPT-2 weight {gpt2_name!r} has no place in this model ({config})")
        tensor = to_course_tensor(gpt2_name, tensor)
        if tensor.shape != expected[name].shape:
            raise CourseError(
                f"GPT-2 weight {gpt2_name!r} has shape {tuple(tensor.shape)}, "
                f"the model expects {tuple(expected[name].shape)}"
            )
        converted[name] = tensor
    head = converted.pop("lm_head.weight", None) if config.tie_weights else None
    if head is not None and not torch.equal(head, converted["token_embedding.weight"]):
        raise CourseError("model.tie_weights is true but these weights have a separate LM head")
    missing = set(expected) - set(converted) - ({"lm_head.weight"} if config.tie_weights else set())
    if missing:
        raise CourseError(f"GPT-2 weights are missing {', '.join(sorted(missing))}")
    model.load_state_dict(converted, strict=False)
    return model


def gpt_from_safetensors(path: str | Path, n_head: int | None = None) -> GPT:
    """A GPT from a GPT-2 `model.safetensors`; n_head from the argument, a config.json beside
    the file, or GPT-2 small's 12."""
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise CourseError(f"{path}: no such safetensors file")
    if n_head is None:
        config_file = path.with_name("config.json")
        settings = json.loads(config_file.read_text()) if config_file.is_file() else {}
        n_head = int(settings.get("n_head", GPT2_SMALL_HEADS))
    return gpt_from_gpt2_state_dict(load_file(path), n_head=n_head)
