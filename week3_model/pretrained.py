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

A file that is not safetensors (an HTML error page saved under that name, a download cut short,
an empty file), a `config.json` that is not JSON, or weights holding NaN or infinity are each
one clear error naming the file: a model built from them would only print garbage or crash.
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


def first_non_finite(weights: dict[str, Tensor]) -> str | None:
    """The name of the first floating-point tensor holding a NaN or an infinity, else None."""
    for name, tensor in weights.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            return name
    return None


def read_safetensors(path: Path) -> dict[str, Tensor]:
    """The tensors of a safetensors file whose values are all finite; anything else is refused."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        weights = load_file(path)
    except SafetensorError as error:
        raise CourseError(
            f"{path}: not a readable safetensors file ({error}); download it again"
        ) from None
    damaged = first_non_finite(weights)
    if damaged is not None:
        raise CourseError(
            f"{path}: weight {damaged!r} holds NaN or infinite values; the file is damaged"
        )
    return weights


def heads_from_config_json(path: Path) -> int:
    """n_head from the `config.json` beside a safetensors file (GPT-2 small's 12 without one)."""
    config_file = path.with_name("config.json")
    if not config_file.is_file():
        return GPT2_SMALL_HEADS
    try:
        settings = json.loads(config_file.read_bytes())
        n_head = settings.get("n_head", GPT2_SMALL_HEADS) if isinstance(settings, dict) else None
    except ValueError as error:  # not JSON, or not UTF-8 (UnicodeDecodeError is a ValueError)
        raise CourseError(f"{config_file}: not a readable JSON file ({error})") from None
    if not isinstance(n_head, int) or isinstance(n_head, bool) or n_head < 1:
        raise CourseError(f"{config_file}: n_head must be a positive integer, got {n_head!r}")
    return n_head


def gpt_from_safetensors(path: str | Path, n_head: int | None = None) -> GPT:
    """A GPT from a GPT-2 `model.safetensors`; n_head from the argument, a config.json beside
    the file, or GPT-2 small's 12."""
    path = Path(path)
    if not path.is_file():
        raise CourseError(f"{path}: no such safetensors file")
    weights = read_safetensors(path)
    n_head = heads_from_config_json(path) if n_head is None else n_head
    return gpt_from_gpt2_state_dict(weights, n_head=n_head)
