"""The models the server offers: the runs under runs/, by name, loaded once and kept.

A request's `model` is a run *name*, never a path: it must be one of the folders under the runs
folder that hold a checkpoint.pt, so no request can make the server read a file elsewhere. A
checkpoint written again (a run trained further) is loaded again on its next request.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

import torch

from week4_training.checkpoint import BEST
from week5_generation.loading import SamplingSource, load_run
from week6_optimizations.playground.api import ApiError

RUN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class ModelStore:
    """Run names -> loaded models (eval mode, on `device`), with a default for requests that name
    none."""

    def __init__(self, runs_dir: Path, default: str | None, device: torch.device) -> None:
        self.runs_dir = Path(runs_dir)
        self.device = device
        self._loaded: dict[str, tuple[float, SamplingSource]] = {}
        self._guard = threading.Lock()
        self.default = default

    def names(self) -> list[str]:
        """Every run with a best checkpoint, by name."""
        if not self.runs_dir.is_dir():
            return []
        return sorted(
            p.parent.name for p in self.runs_dir.glob(f"*/{BEST}") if RUN_NAME.match(p.parent.name)
        )

    def default_name(self) -> str:
        """The run a request without `model` gets: the one `make serve CKPT=` named, else the
        most recently written."""
        if self.default is not None:
            return self.default
        runs = sorted(self.runs_dir.glob(f"*/{BEST}"), key=lambda p: p.stat().st_mtime)
        if not runs:
            raise ApiError(
                404,
                f"no trained run under {self.runs_dir}: train one first (make train)",
                "model",
                code="model_not_found",
            )
        return runs[-1].parent.name

    def get(self, name: str | None) -> tuple[str, SamplingSource]:
        """The model of run `name` (None: the default), loaded if needed."""
        name = self.default_name() if name is None else name
        file = self.runs_dir / name / BEST
        if not RUN_NAME.match(name) or not file.is_file():
            known = ", ".join(self.names()) or "none"
            raise ApiError(
                404,
                f"model {name!r} is not a run under {self.runs_dir} (the runs: {known})",
                "model",
                code="model_not_found",
            )
        written = file.stat().st_mtime
        with self._guard:
            cached = self._loaded.get(name)
            if cached is None or cached[0] != written:
                self._loaded[name] = (written, load_run(file, self.device))
            return name, self._loaded[name][1]
