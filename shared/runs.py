"""Run folders: everything one training run writes lives in `runs/<name>/`.

    config.yaml     the resolved config (file + overrides), so the run can be repeated
    metrics.jsonl   one JSON object per logged step: training rows and evaluation rows
    checkpoint.pt   the best model by validation loss;  last.pt  the state to resume from
    samples.txt, *.png

A run folder that exists is never silently reused: it is an error unless the caller asks to
resume it or to overwrite it.
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from shared.atomic import atomic_write_text
from shared.errors import CourseError


def check_run_dir(path: str | Path, *, resume: bool = False, overwrite: bool = False) -> None:
    """The rule, without touching anything: a run to resume must have saved state, and a new
    run may not land in a folder that holds something unless `overwrite` says so."""
    path = Path(path)
    if resume:
        if not (path / "last.pt").is_file() and not (path / "last.safetensors").is_file():
            raise CourseError(f"cannot resume {path}: it holds no last.pt (was the run started?)")
    elif path.exists() and any(path.iterdir()) and not overwrite:
        raise CourseError(
            f"run folder {path} already exists; resume it with RESUME={path}, "
            "choose another run.name, or pass OVERWRITE=1 to replace it"
        )


def prepare_run_dir(path: str | Path, *, resume: bool = False, overwrite: bool = False) -> Path:
    """Create `path` for a new run; with `resume` it must exist, with `overwrite` it is emptied."""
    path = Path(path)
    check_run_dir(path, resume=resume, overwrite=overwrite)
    if not resume:
        if path.exists():
            shutil.rmtree(path)
        path.mkdir(parents=True, exist_ok=True)
    return path


def write_config(run_dir: Path, config_yaml: str) -> Path:
    target = Path(run_dir) / "config.yaml"
    atomic_write_text(target, config_yaml)
    return target


def _clean(value: Any) -> Any:
    """JSON has no NaN or infinity: write them as strings so the file stays valid JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


class MetricsLog:
    """Appends one JSON object per line to `metrics.jsonl`, flushed at once."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def log(self, row: Mapping[str, Any]) -> None:
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({k: _clean(v) for k, v in row.items()}) + "\n")

    def truncate_after(self, step: int) -> None:
        """Drop rows logged after `step`: on resume, the steps after the checkpoint are redone."""
        if not self.path.is_file():
            return
        kept = [row for row in read_metrics(self.path) if row.get("step", 0) <= step]
        atomic_write_text(self.path, "".join(json.dumps(row) + "\n" for row in kept))


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """All rows of a `metrics.jsonl` file (a missing file is a clear error)."""
    path = Path(path)
    if not path.is_file():
        raise CourseError(f"{path}: no metrics file (has this run logged anything yet?)")
    return list(_rows(path))


def _rows(path: Path) -> Iterator[dict[str, Any]]:
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError:
                    raise CourseError(f"{path}:{number}: not a JSON object") from None
