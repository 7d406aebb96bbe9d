"""MLX run files: weights as safetensors, training state as npz, beside week 4's layout.

    runs/<name>/
      checkpoint.safetensors   best MLX weights; metadata: format, step, best_val_loss, the resolved
                               config and the tokenizer record (a self-sufficient file)
      checkpoint.pt            the same weights converted to a week-4 PyTorch checkpoint, so
                               `make sample` / `make eval` read an MLX run like any other
      last.safetensors         the latest weights (metadata as above, plus last_eval_step)
      last_state.npz           for resume: AdamW moments and step counts ("optimizer.<path>"),
                               the batch generator's state, and the step. MLX's dropout key
                               needs no saving: it is reseeded from (run.seed, step) every step
      config.yaml, metrics.jsonl, samples.txt, *.png     as week 4

Resume needs both last files from the same step: the npz is written first, the safetensors last,
and a step mismatch (a crash between the two) is a clear error rather than a silent mix.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import mlx.core as mx
import numpy as np
import torch
from mlx.utils import tree_flatten, tree_unflatten

from shared.atomic import atomic_write
from shared.errors import CourseError
from week4_training.checkpoint import save_checkpoint
from week6_optimizations.mlx_port.convert import (
    load_safetensors,
    mlx_to_state_dict,
    model_weights,
    save_safetensors,
)

if TYPE_CHECKING:
    import mlx.optimizers as optim

    from week4_training.data import BatchSampler
    from week6_optimizations.mlx_port.model import MLXGPT

FORMAT = "tiny-gpt-course mlx checkpoint"
VERSION = 1
BEST_WEIGHTS = "checkpoint.safetensors"
BEST_TORCH = "checkpoint.pt"
LAST_WEIGHTS = "last.safetensors"
LAST_STATE = "last_state.npz"


def save_weights(path: Path, model: MLXGPT, metadata: Mapping[str, Any]) -> Path:
    """A weights file with its metadata (format and version added)."""
    return save_safetensors(
        path, model_weights(model), {"format": FORMAT, "version": VERSION, **metadata}
    )


def read_weights(path: str | Path) -> tuple[dict[str, mx.array], dict[str, Any]]:
    """(weights, metadata) of a file `save_weights` wrote; another file is a clear error."""
    path = Path(path)
    if path.is_dir():
        path = path / BEST_WEIGHTS
    weights, metadata = load_safetensors(path)
    if metadata.get("format") != FORMAT:
        raise CourseError(f"{path}: not a tiny-gpt-course MLX checkpoint (no format record)")
    if metadata.get("version") != VERSION:
        raise CourseError(f"{path}: MLX checkpoint version {metadata.get('version')} not supported")
    for name, array in weights.items():
        if mx.issubdtype(array.dtype, mx.floating) and not mx.all(mx.isfinite(array)).item():
            raise CourseError(
                f"{path}: weight {name!r} holds NaN or infinite values (a diverged or damaged "
                "run); use an earlier checkpoint"
            )
    return weights, metadata


def save_best(run_dir: Path, model: MLXGPT, metadata: Mapping[str, Any]) -> None:
    """checkpoint.safetensors (MLX) and checkpoint.pt (week 4's PyTorch format), same weights."""
    save_weights(run_dir / BEST_WEIGHTS, model, metadata)
    state = mlx_to_state_dict(model_weights(model), model.config)
    payload = {key: metadata[key] for key in ("config", "tokenizer", "step", "best_val_loss")}
    save_checkpoint(run_dir / BEST_TORCH, {"model": state, **payload, "backend": "mlx"})


# ----------------------------------------------------------------------------- resume state


def training_state(
    optimizer: optim.Optimizer, sampler: BatchSampler, step: int
) -> dict[str, np.ndarray]:
    """Everything besides the weights that a resumed run needs, as named NumPy arrays."""
    flat_state = dict(tree_flatten(optimizer.state))
    arrays = {f"optimizer.{k}": np.array(v) for k, v in flat_state.items()}
    arrays["rng.sampler"] = sampler.state_dict()["generator"].numpy()
    arrays["step"] = np.array(step, dtype=np.int64)
    return arrays


def save_last(
    run_dir: Path,
    model: MLXGPT,
    optimizer: optim.Optimizer,
    sampler: BatchSampler,
    metadata: Mapping[str, Any],
) -> None:
    """last_state.npz first, then last.safetensors: the pair a resumed run starts from."""
    arrays = training_state(optimizer, sampler, metadata["step"])

    def write(handle: BinaryIO) -> None:
        buffer = io.BytesIO()
        # (mypy cannot tell that no array is named `allow_pickle`, savez's one keyword)
        np.savez(buffer, **arrays)  # type: ignore[arg-type]
        handle.write(buffer.getvalue())

    atomic_write(run_dir / LAST_STATE, write)
    save_weights(run_dir / LAST_WEIGHTS, model, metadata)


STATE_KEYS = ("step", "rng.sampler")  # what every training state holds besides AdamW's moments


def read_state(path: Path) -> dict[str, np.ndarray]:
    """The arrays of a `last_state.npz`; a damaged file (empty, cut short, not an npz, a member
    missing) is one line naming it: NumPy would say ValueError, EOFError or BadZipFile."""
    try:
        with np.load(path) as stored:  # allow_pickle=False: reading never runs code
            state = {key: stored[key] for key in stored.files}
    except (ValueError, EOFError, zipfile.BadZipFile) as error:
        raise CourseError(
            f"{path}: not a readable training state ({type(error).__name__}: {error}); "
            "the run cannot resume from it"
        ) from None
    missing = [key for key in STATE_KEYS if key not in state]
    if missing:
        raise CourseError(f"{path}: not a training state of this course (no {missing[0]!r})")
    return state


def load_last(run_dir: Path) -> tuple[dict[str, mx.array], dict[str, Any], dict[str, np.ndarray]]:
    """(weights, metadata, state arrays) of a run's last files, checked to be of one step."""
    weights, metadata = read_weights(run_dir / LAST_WEIGHTS)
    path = run_dir / LAST_STATE
    if not path.is_file():
        raise CourseError(f"cannot resume {run_dir}: {LAST_STATE} is missing")
    state = read_state(path)
    if int(state["step"]) != metadata["step"]:
        raise CourseError(
            f"cannot resume {run_dir}: {LAST_STATE} is from step {int(state['step'])} but "
            f"{LAST_WEIGHTS} from step {metadata['step']} (a crash between the two writes)"
        )
    return weights, metadata, state


def restore_state(
    state: Mapping[str, np.ndarray],
    optimizer: optim.Optimizer,
    sampler: BatchSampler,
    parameters: dict,
) -> None:
    """Put back AdamW's moments and the batch generator (before compiling the step)."""
    prefix = "optimizer."
    tree = [(k[len(prefix) :], mx.array(v)) for k, v in state.items() if k.startswith(prefix)]
    optimizer.state = tree_unflatten(tree)
    optimizer.init(parameters)  # marks it initialised; keeps every loaded entry
    sampler.load_state_dict({"generator": torch.from_numpy(state["rng.sampler"].copy())})


# ----------------------------------------------------------------------------- whole files


def convert_file(source: Path, target: Path) -> Path:
    """A week-4 checkpoint (.pt, or a run folder's) -> MLX .safetensors, or the reverse.

    The config, tokenizer record, step and best loss travel along, so either file is
    self-sufficient; an existing target is never overwritten.
    """
    from week4_training.checkpoint import config_of, read_checkpoint
    from week6_optimizations.mlx_port.convert import state_dict_to_mlx

    if target.exists():
        raise CourseError(f"{target}: already exists; choose another name or remove it first")
    record_keys = ("config", "tokenizer", "step", "best_val_loss")
    if source.is_dir() or source.suffix == ".pt":
        document = read_checkpoint(source)
        if target.suffix != ".safetensors":
            raise CourseError(f"{target}: a PyTorch checkpoint converts to a .safetensors file")
        model_config = config_of(document).model
        weights = state_dict_to_mlx(document["model"], model_config)
        metadata: dict[str, Any] = {"format": FORMAT, "version": VERSION}
        metadata.update({key: document[key] for key in record_keys})
        metadata["best_val_loss"] = float(metadata["best_val_loss"])
        return save_safetensors(target, weights, metadata)
    if source.suffix == ".safetensors":
        if target.suffix != ".pt":
            raise CourseError(f"{target}: MLX weights convert to a .pt checkpoint")
        weights, metadata = read_weights(source)
        model_config = config_of(metadata).model
        state = mlx_to_state_dict(weights, model_config)
        payload = {key: metadata[key] for key in record_keys}
        return save_checkpoint(target, {"model": state, **payload, "backend": "mlx"})
    raise CourseError(f"{source}: give a .pt checkpoint, a run folder or an MLX .safetensors file")
