"""What `make sample` and `make evaluate` sample from: a course checkpoint or OpenAI's GPT-2.

- A run folder or a .pt file: week 4's `load_checkpoint` (model, its embedded tokenizer, config).
- Nothing: the most recent run under runs/ (the one whose checkpoint.pt was written last).
- `gpt2` with a weights file: Hugging Face's GPT-2 `model.safetensors` through week 3's loader,
  with GPT-2's own tokenizer (encoder.json + vocab.bpe, fetched by `make data`). The real 124M
  weights are the files `model.safetensors` and `config.json` of
  https://huggingface.co/openai-community/gpt2 (about 550 MB; keep config.json beside the weights
  so the number of heads is known). `make gpt2` fetches both, checksummed, into the data cache,
  and `gpt2` without a weights file then uses them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from shared import paths
from shared.config import Config, config_from_dict
from shared.data import cache_dir, fetch
from shared.errors import CourseError

if TYPE_CHECKING:
    from week2_tokenizer import Tokenizer
    from week3_model import GPT

GPT2 = "gpt2"
GPT2_WEIGHTS = "gpt2/model.safetensors"  # where `make gpt2` puts them (with gpt2/config.json)
GPT2_SOURCE = "https://huggingface.co/openai-community/gpt2 (files model.safetensors, config.json)"
# GPT-2 comes without a run, so `make evaluate` scores it with these (a course run: its own).
GPT2_EVALUATION = {"batch_size": 8, "dtype": "float32"}

# What sampling and evaluation read of a source's config; a section the source lacks is at its
# defaults (a checkpoint holds training's sections, so `sample` comes from here).
SOURCE_SECTIONS = ("tokenizer", "model", "train", "sample")


@dataclass
class SamplingSource:
    """A model ready to sample from, with its tokenizer and (for course runs) its run folder.

    config: the run's resolved config (for GPT-2: defaults for every section, and
        GPT2_EVALUATION as its `train` batch size and dtype).
    run_dir: where reports go (a course run's folder; for GPT-2, runs/gpt2).
    """

    model: GPT
    tokenizer: Tokenizer
    config: Config
    name: str
    run_dir: Path
    step: int | None = None


def load_gpt2(weights: str | Path, device: torch.device) -> SamplingSource:
    """GPT-2 weights from a Hugging Face `model.safetensors`, with GPT-2's tokenizer."""
    from week2_tokenizer import Tokenizer
    from week3_model.pretrained import gpt_from_safetensors

    if not Path(weights).is_file():
        raise CourseError(f"{weights}: GPT-2 weights not found; download them from {GPT2_SOURCE}")
    model = gpt_from_safetensors(weights)
    tokenizer = Tokenizer.from_gpt2(fetch("gpt2/encoder.json"), fetch("gpt2/vocab.bpe"))
    if model.config.vocab_size != tokenizer.vocab_size:
        raise CourseError(
            f"{weights}: the model has {model.config.vocab_size} token embeddings, GPT-2's "
            f"tokenizer has {tokenizer.vocab_size} tokens; these are not GPT-2 weights"
        )
    sections = {"model": dataclasses.asdict(model.config), "train": GPT2_EVALUATION}
    config = config_from_dict(sections, source=str(weights), sections=SOURCE_SECTIONS)
    return SamplingSource(
        model=model.to(device).eval(),
        tokenizer=tokenizer,
        config=config,
        name=f"gpt2 ({Path(weights).name})",
        run_dir=paths.RUNS_DIR / GPT2,
    )


def load_run(checkpoint: str | Path, device: torch.device) -> SamplingSource:
    """A course checkpoint: a run folder (its best checkpoint.pt) or a .pt file."""
    from week4_training.checkpoint import load_checkpoint

    path = Path(checkpoint)
    if not path.exists():
        raise CourseError(
            f"checkpoint {checkpoint}: no such run folder or .pt file "
            f"(use a folder under runs/, a .pt file, or gpt2 with WEIGHTS=...)"
        )
    loaded = load_checkpoint(path, device)
    return SamplingSource(
        model=loaded.model,
        tokenizer=loaded.tokenizer,
        config=loaded.config.with_defaults(*SOURCE_SECTIONS),
        name=str(path),
        run_dir=loaded.path.parent,
        step=loaded.step,
    )


def most_recent_run(runs_dir: Path | None = None) -> Path:
    """The run folder under runs/ whose best checkpoint was written last (week 4's rule)."""
    from week4_training.checkpoint import latest_run

    return latest_run(paths.RUNS_DIR if runs_dir is None else runs_dir)


def load_source(
    checkpoint: str | None,
    weights: str | None,
    device: torch.device,
    say: Callable[[str], None] = print,
) -> SamplingSource:
    """Resolve the --checkpoint / --weights pair; `say` reports a choice the user did not make."""
    if weights is not None and checkpoint not in (None, GPT2):
        raise CourseError(
            f"--weights is for the GPT-2 weights (CKPT=gpt2); checkpoint {checkpoint} has its own"
        )
    if checkpoint == GPT2 or weights is not None:
        if weights is None:
            fetched = cache_dir() / GPT2_WEIGHTS
            if not fetched.is_file():
                raise CourseError(
                    "CKPT=gpt2 needs GPT-2's weights: run `make gpt2` to fetch them, or give "
                    f"WEIGHTS=path/to/model.safetensors (from {GPT2_SOURCE})"
                )
            weights = str(fetched)
        return load_gpt2(weights, device)
    if checkpoint is None:
        run = most_recent_run()
        say(f"using {run} (the most recent run; choose another with CKPT=runs/<name>)")
        checkpoint = str(run)
    return load_run(checkpoint, device)
