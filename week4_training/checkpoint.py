"""Checkpoints: everything needed to sample from a model, or to resume its training exactly.

A checkpoint is one `torch.save`d dict, written atomically (temporary file, then rename):

    format          "tiny-gpt-course checkpoint", version 1
    model           the model's state_dict (of the uncompiled module)
    config          the resolved run config, Config.to_dict() (model.vocab_size filled in)
    tokenizer       {"sha256": ..., "json": the tokenizer file's text}: a checkpoint is
                    self-sufficient, no separate tokenizer file is needed to sample from it
    step            optimizer steps done;  last_eval_step: the step of the last evaluation
    best_val_loss   the best validation loss so far (nats per token)
    optimizer, scaler, sampler, rng     AdamW moments, GradScaler scale, the batch generator,
                    and the Python / NumPy / PyTorch (and CUDA) random states: resume needs them

It is read with `weights_only=True`, so loading a file never runs code from it, and checked
once, in `read_checkpoint`, which every reader goes through (eval, resume, week 5's sample and
evaluate): a missing entry, a wrong type or NaN weights are one line naming the file, not a
KeyError (or a `bits per byte nan`) further on.
`checkpoint.pt` is the best model by validation loss; `last.pt` the latest state, for resume.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from shared.atomic import atomic_write
from shared.config import Config, ConfigError, config_from_dict
from shared.errors import CourseError

if TYPE_CHECKING:
    from week2_tokenizer import Tokenizer
    from week3_model import GPT

FORMAT = "tiny-gpt-course checkpoint"
VERSION = 1
BEST = "checkpoint.pt"
LAST = "last.pt"


# ----------------------------------------------------------------------------- writing


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> Path:
    """Write `payload` (plus format and version) atomically: a crash leaves the old file whole."""
    path = Path(path)
    document = {"format": FORMAT, "version": VERSION, **payload}
    atomic_write(path, lambda handle: torch.save(document, handle))
    return path


def rng_state() -> dict[str, Any]:
    """Every random state a training step can touch, in types `weights_only` loading accepts."""
    # numpy's stubs give this call the type of get_state(legacy=False), a dict; it is the tuple
    numpy_state: tuple[str, np.ndarray, int, int, float] = np.random.get_state()  # type: ignore[assignment]
    np_kind, np_keys, np_pos, np_has_gauss, np_gauss = numpy_state
    state = {
        "python": random.getstate(),
        "numpy": [
            np_kind,
            torch.from_numpy(np_keys.astype(np.int64)),
            np_pos,
            np_has_gauss,
            np_gauss,
        ],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what `rng_state` saved."""
    random.setstate(_as_tuple(state["python"]))
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _as_tuple(value: Any) -> Any:
    return tuple(_as_tuple(v) for v in value) if isinstance(value, list | tuple) else value


# ----------------------------------------------------------------------------- reading


def checkpoint_file(path: str | Path) -> Path:
    """A run folder means its `checkpoint.pt`; a file is itself. Missing is a clear error."""
    path = Path(path)
    if path.is_dir():
        path = path / BEST
    if not path.is_file():
        raise CourseError(f"{path}: checkpoint not found (train a model first: make train)")
    return path


# What every checkpoint holds (enough to sample from it), and what resuming a run needs besides.
# A number type that JSON could write either way (5 or 5.0) accepts both.
SAMPLING_ENTRIES: dict[str, tuple[type, ...]] = {
    "model": (dict,),
    "config": (dict,),
    "tokenizer": (dict,),
    "step": (int,),
    "best_val_loss": (float, int),
}
RESUME_ENTRIES: dict[str, tuple[type, ...]] = {
    "optimizer": (dict,),
    "scaler": (dict, type(None)),
    "sampler": (dict,),
    "rng": (dict,),
    "last_eval_step": (int,),
}


def read_checkpoint(path: str | Path, *, resume: bool = False) -> dict[str, Any]:
    """The checkpoint dict, checked: a file that is not one of ours, or one that lacks what its
    reader needs (`resume`: the training state too), is one clear error naming the file."""
    path = checkpoint_file(path)
    try:
        document = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - any unreadable file gets the same clear line
        raise CourseError(f"{path}: not a readable checkpoint ({type(error).__name__})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise CourseError(f"{path}: not a tiny-gpt-course checkpoint")
    if document.get("version") != VERSION:
        raise CourseError(f"{path}: checkpoint version {document.get('version')} is not supported")
    check_document(document, path, resume=resume)
    return document


def check_document(document: dict[str, Any], path: Path | str, *, resume: bool = False) -> None:
    """The one check of a checkpoint's contents, so that sample, eval and resume never meet a
    KeyError or a NaN deep inside: entries present with the right types, finite weights."""
    wanted = {**SAMPLING_ENTRIES, **(RESUME_ENTRIES if resume else {})}
    for key, kinds in wanted.items():
        if key not in document:
            raise CourseError(f"{path}: damaged checkpoint: it has no {key!r} entry")
        value = document[key]
        if isinstance(value, bool) or not isinstance(value, kinds):
            allowed = " or ".join("None" if k is type(None) else k.__name__ for k in kinds)
            raise CourseError(
                f"{path}: damaged checkpoint: {key!r} is a {type(value).__name__}, not {allowed}"
            )
    record = document["tokenizer"]
    if not all(isinstance(record.get(k), str) for k in ("sha256", "json")):
        raise CourseError(f"{path}: damaged checkpoint: its tokenizer record lacks sha256 or json")
    if "world_size" in document and not _is_count(document["world_size"]):
        raise CourseError(f"{path}: damaged checkpoint: 'world_size' is not a positive integer")
    for name, tensor in document["model"].items():
        if not isinstance(tensor, torch.Tensor):
            raise CourseError(f"{path}: damaged checkpoint: model entry {name!r} is not a tensor")
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise CourseError(
                f"{path}: the model's weights hold NaN or infinite values ({name}); nothing "
                "useful can be computed with them: use a checkpoint from before the run diverged"
            )


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def tokenizer_from_checkpoint(
    document: dict[str, Any], where: Path | str = "checkpoint"
) -> Tokenizer:
    """The tokenizer embedded in a checkpoint (checked against its recorded sha256)."""
    from week2_tokenizer.tokenizer import from_json_dict

    record = document["tokenizer"]
    try:
        tokenizer = from_json_dict(json.loads(record["json"]))
    except json.JSONDecodeError as error:
        raise CourseError(f"{where}: the embedded tokenizer is not valid JSON ({error})") from None
    except CourseError as error:
        raise CourseError(f"{where}: the embedded tokenizer: {error}") from None
    if tokenizer.sha256 != record["sha256"]:
        raise CourseError(f"{where}: the embedded tokenizer does not match its recorded sha256")
    return tokenizer


def tokenizer_record(tokenizer: Tokenizer) -> dict[str, str]:
    """What a checkpoint stores about its tokenizer: identity and the whole file."""
    from week2_tokenizer.serialize import to_json_text

    return {"sha256": tokenizer.sha256, "json": to_json_text(tokenizer)}


def check_tokenizer(document: dict[str, Any], tokenizer: Tokenizer, where: Path | str) -> None:
    """A model trained with one tokenizer is meaningless with another: refuse the pair."""
    saved = document["tokenizer"]["sha256"]
    if tokenizer.sha256 != saved:
        raise CourseError(
            f"{where}: the checkpoint was trained with tokenizer {saved[:12]}..., but this run's "
            f"tokenizer is {tokenizer.sha256[:12]}... (vocab_size {tokenizer.vocab_size}); "
            "use the run's own tokenizer settings"
        )


def load_model_state(model: nn.Module, state: dict[str, Any], where: Path | str) -> None:
    """Load weights, turning a shape mismatch into one line that says what differs."""
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    if missing or unexpected:
        names = (missing or unexpected)[:3]
        raise CourseError(
            f"{where}: the checkpoint holds a model of another shape (parameters "
            f"{'missing' if missing else 'unexpected'}: {', '.join(names)}); use the run's own "
            "model settings"
        )
    for name, tensor in state.items():
        if own[name].shape != tensor.shape:
            raise CourseError(
                f"{where}: the checkpoint holds a model of another shape ({name} is "
                f"{tuple(tensor.shape)} there, {tuple(own[name].shape)} here); use the run's "
                "own model settings"
            )
    model.load_state_dict(state)


@dataclass
class LoadedCheckpoint:
    """A trained model ready to use: in eval mode, with its tokenizer and resolved config."""

    model: GPT
    tokenizer: Tokenizer
    config: Config
    step: int
    best_val_loss: float
    path: Path


def config_of(document: dict[str, Any], where: Path | str = "checkpoint") -> Config:
    """The resolved config a checkpoint was trained with."""
    try:
        return config_from_dict(document["config"], source="config")
    except ConfigError as error:
        raise ConfigError(f"{where}: {error}") from None


def load_checkpoint(
    path: str | Path, device: str | torch.device = "cpu", tokenizer: Tokenizer | None = None
) -> LoadedCheckpoint:
    """Load a run folder (its checkpoint.pt) or a .pt file: model (eval mode), tokenizer, config.

    With `tokenizer` given, it must be the one the model was trained with (same sha256).
    """
    from week3_model import GPT, GPTConfig

    file = checkpoint_file(path)
    document = read_checkpoint(file)
    config = config_of(document, file)
    own_tokenizer = tokenizer_from_checkpoint(document, file)
    if tokenizer is not None:
        check_tokenizer(document, tokenizer, file)
    model_config: GPTConfig = config.model
    if model_config.vocab_size is None or model_config.vocab_size < own_tokenizer.vocab_size:
        raise CourseError(f"{file}: model.vocab_size does not fit the embedded tokenizer")
    model = GPT(model_config)
    load_model_state(model, document["model"], file)
    model.to(torch.device(device)).eval()
    return LoadedCheckpoint(
        model=model,
        tokenizer=own_tokenizer,
        config=config,
        step=int(document["step"]),
        best_val_loss=float(document["best_val_loss"]),
        path=file,
    )


def latest_run(runs_dir: str | Path) -> Path:
    """The run folder under `runs_dir` whose checkpoint.pt was written most recently."""
    runs_dir = Path(runs_dir)
    candidates = sorted(runs_dir.glob(f"*/{BEST}"), key=lambda p: p.stat().st_mtime)
    if not candidates:
        raise CourseError(f"no run with a {BEST} under {runs_dir}; train one first: make train")
    return candidates[-1].parent
