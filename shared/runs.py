"""Run folders: everything one training run writes lives in `runs/<name>/`.

    config.yaml     the resolved config (file + overrides), so the run can be repeated
    metrics.jsonl   one JSON object per logged step: training rows and evaluation rows
    checkpoint.pt   the best model by validation loss;  last.pt  the state to resume from
    samples.txt, *.png
    .run.lock       marks the folder as a run folder; a training run holds an OS lock on it

A run folder that exists is never silently reused: it is an error unless the caller asks to
resume it or to overwrite it, and only a folder the course recognises as a run folder is ever
replaced (`run.out_dir=~/thesis` must not empty a thesis). While a run writes a folder it holds
an exclusive lock (`flock`) on its `.run.lock`, so a second run of the same name is refused
instead of writing into the same files. The operating system drops the lock when the process
ends, however it ends: a run killed with `kill -9` leaves nothing locked.
"""

from __future__ import annotations

import errno
import fcntl
import json
import math
import os
import shutil
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from shared.atomic import atomic_write_text, remove_stray_temporaries, stray_temporaries
from shared.errors import CourseError

MARKER = ".run.lock"
METRICS = "metrics.jsonl"
# Every file a run writes (week 4's and the MLX port's): a folder of these alone is a run folder
# even from before runs had a marker, and their stray temporaries are ours to remove.
RUN_FILES = (
    "config.yaml",
    METRICS,
    "checkpoint.pt",
    "last.pt",
    "samples.txt",
    "curves.png",
    "checkpoint.safetensors",
    "last.safetensors",
    "last_state.npz",
)


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def make_resume_command(run_dir: str | Path, world_size: int = 1) -> str:
    """`make train RESUME=runs/x` (with `NPROC=N` for a run of N processes)."""
    nproc = f" NPROC={world_size}" if world_size > 1 else ""
    return f"make train RESUME={run_dir}{nproc}"


# ----------------------------------------------------------------------------- what a run folder is


def _contents(path: Path) -> list[Path]:
    """What a folder holds besides its marker (a folder that holds only a marker is empty)."""
    return [p for p in path.iterdir() if p.name != MARKER]


def is_run_folder(path: str | Path) -> bool:
    """True for a folder a training run made: it holds the marker, or (a run from before the
    marker) a metrics.jsonl, written at a run's first evaluation, and nothing but other files a
    run writes. A folder of a config.yaml alone may well be a user's own config: not a run."""
    path = Path(path)
    if not path.is_dir():
        return False
    if (path / MARKER).is_file():
        return True
    names = {p.name for p in path.iterdir()}
    own = set(RUN_FILES) | {p.name for p in stray_temporaries(path, RUN_FILES)}
    return METRICS in names and names <= own


def check_run_dir(
    path: str | Path, *, resume: bool = False, overwrite: bool = False, world_size: int = 1
) -> None:
    """The rule, without touching anything: a run to resume must have saved state, and a new
    run may not land in a folder that holds something unless `overwrite` says so, and even then
    only in a run folder."""
    path = Path(path)
    if resume:
        if not (path / "last.pt").is_file() and not (path / "last.safetensors").is_file():
            raise CourseError(f"cannot resume {path}: it holds no last.pt (was the run started?)")
        return
    if path.exists() and not path.is_dir():
        raise CourseError(f"{path} is a file, not a folder; choose another run.name or run.out_dir")
    if not path.exists() or not _contents(path):
        return
    if not is_run_folder(path):
        raise CourseError(
            f"{path} already exists and is not a run folder (it holds files no run wrote), so it "
            "is never replaced; choose another run.name or run.out_dir"
        )
    if not overwrite:
        raise CourseError(
            f"run folder {path} already exists; resume it with RESUME={path}"
            f"{f' NPROC={world_size}' if world_size > 1 else ''}, choose another run.name, or "
            "pass OVERWRITE=1 to replace it"
        )


def prepare_run_dir(path: str | Path, *, resume: bool = False, overwrite: bool = False) -> Path:
    """Create `path` for a new run; with `resume` it must exist, with `overwrite` it is emptied.

    The folder gets its marker, which makes it a run folder; emptying keeps the marker, so a
    lock held on it (`RunLock`) stays valid.
    """
    path = Path(path)
    check_run_dir(path, resume=resume, overwrite=overwrite)
    if not resume:
        path.mkdir(parents=True, exist_ok=True)
        for entry in _contents(path):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        (path / MARKER).touch()
    return path


# ----------------------------------------------------------------------------- one writer at a time


class RunLock:
    """An exclusive lock on a run folder, held from creation until `release()` (or the end of
    the process). A second lock on the same folder, from any process, is a `CourseError`."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        try:
            self._fd: int | None = os.open(self.path / MARKER, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as error:  # a read-only folder: name the folder, not our hidden file
            raise OSError(error.errno, error.strerror, str(self.path)) from None
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            holder = os.pread(self._fd, 64, 0).decode("ascii", "replace").strip()
            self.release()
            if error.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):  # pragma: no cover
                raise OSError(error.errno, error.strerror, str(self.path)) from None
            by = f" (process {holder})" if holder else ""
            raise CourseError(
                f"run folder {self.path} is in use by another training run{by}; wait for it to "
                "end, or choose another run.name"
            ) from None
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, f"{os.getpid()}\n".encode(), 0)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the file drops the lock
            self._fd = None

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def claim_run_dir(
    path: str | Path, *, resume: bool = False, overwrite: bool = False, world_size: int = 1
) -> RunLock:
    """Check `path` for a run, lock it, and check again under the lock (another run may have
    finished there in between). A resumed folder loses the temporaries a killed run left."""
    check_run_dir(path, resume=resume, overwrite=overwrite, world_size=world_size)
    lock = RunLock(path)
    try:
        check_run_dir(path, resume=resume, overwrite=overwrite, world_size=world_size)
        if resume:
            remove_stray_temporaries(path, RUN_FILES)
    except BaseException:
        lock.release()
        raise
    return lock


def write_config(run_dir: Path, config_yaml: str) -> Path:
    target = Path(run_dir) / "config.yaml"
    atomic_write_text(target, config_yaml)
    return target


# ----------------------------------------------------------------------------- metrics.jsonl


def _clean(value: Any) -> Any:
    """JSON has no NaN or infinity: write them as strings so the file stays valid JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def append_whole(path: Path, data: bytes) -> None:
    """Append `data` to `path` whole or not at all.

    A full disk can accept half of a write; then the file is cut back to where it was, so it
    never ends in half a row, and the OSError names `path`.
    """
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        start = os.fstat(fd).st_size
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        except BaseException as error:  # a full disk, or Ctrl-C between two writes
            os.ftruncate(fd, start)
            if isinstance(error, OSError):
                raise OSError(error.errno, error.strerror, str(path)) from None
            raise
    finally:
        os.close(fd)


class MetricsLog:
    """Appends one JSON object per line to `metrics.jsonl`, each row whole or not at all."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def log(self, row: Mapping[str, Any]) -> None:
        line = json.dumps({k: _clean(v) for k, v in row.items()}) + "\n"
        append_whole(self.path, line.encode("utf-8"))

    def truncate_after(self, step: int) -> None:
        """Drop rows logged after `step`: on resume, the steps after the checkpoint are redone."""
        if not self.path.is_file():
            return
        kept = [row for row in read_metrics(self.path) if row.get("step", 0) <= step]
        atomic_write_text(self.path, "".join(json.dumps(row) + "\n" for row in kept))


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """All rows of a `metrics.jsonl` file (a missing file is a clear error).

    A last row cut off mid-write (no newline, not JSON: the process died while writing it) is
    dropped with a warning; a damaged row anywhere else is an error naming its line.
    """
    path = Path(path)
    if not path.is_file():
        raise CourseError(f"{path}: no metrics file (has this run logged anything yet?)")
    return list(_rows(path))


def _rows(path: Path) -> Iterator[dict[str, Any]]:
    with open(path, encoding="utf-8", errors="replace") as handle:
        lines = handle.readlines()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            if number == len(lines) and not line.endswith("\n"):
                _warn(f"{path}:{number}: dropped a torn last row (its write was cut off)")
                return
            raise CourseError(f"{path}:{number}: not a JSON object") from None
        if not isinstance(row, dict):
            raise CourseError(f"{path}:{number}: not a JSON object")
        yield row
