"""Execute lesson notebooks top to bottom, as a learner would, and fail loudly if a cell errors.

    python -m shared.notebooks [--write] <week folder>/lesson.ipynb [more notebooks ...]

Each notebook runs in a fresh kernel whose working directory is the notebook's own folder, as
Jupyter starts it, so a notebook that only works from the repository root fails here too (the
notebooks find the root with `shared.paths.REPO_ROOT`). Without `--write` nothing is saved; with
it (`make notebooks-write`) the outputs are written back into each .ipynb, for readers on the web:
execution counts are kept, timings are not recorded, each cell's stdout and stderr are merged into
one output each and blank ones dropped, so running a notebook twice changes only what it prints
differently.

In a learner's edition (`make workbook`) a week's notebook runs that week's code and the weeks'
before it, so while one of their tasks is still a stub it is skipped, saying which one.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from shared.errors import CourseError, run_cli
from shared.paths import REPO_ROOT
from shared.workbook import WEEK_FOLDER, stubs_left

TIMEOUT_PER_CELL_S = 300
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")  # the kernel colours tracebacks
# Folders named by environment variables (shared/data.py), made absolute for the kernel.
FOLDER_VARIABLES = ("COURSE_DATA_MIRROR", "COURSE_DATA_DIR")


def kernel_environment() -> dict[str, str]:
    """This process's environment with the course's folder variables made absolute.

    The kernel starts in the notebook's folder: a relative folder given here (CI sets
    `COURSE_DATA_MIRROR=../shared/data`, relative to the repository root) would name another
    place there.
    """
    env = dict(os.environ)
    for name in FOLDER_VARIABLES:
        value = env.get(name, "").strip()
        if value and "://" not in value:
            env[name] = str(Path(value).expanduser().resolve())
    return env


def execute_notebook(path: Path, write: bool = False) -> float:
    """Run every cell of `path` in a new kernel started in its folder; return the seconds it
    took. With `write`, save the outputs into `path` (only when every cell ran)."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=TIMEOUT_PER_CELL_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.resolve().parent)}},
        record_timing=False,  # no timestamps in the saved cells
        coalesce_streams=True,  # one stdout output per cell, however the kernel chunked it
    )
    start = time.perf_counter()
    try:
        client.execute(env=kernel_environment())
    except CellExecutionError as error:
        plain = ANSI_ESCAPE.sub("", str(error)).strip()
        last_line = plain.splitlines()[-1] if plain else "cell failed"
        raise CourseError(f"{path}: a cell failed: {last_line}") from None
    seconds = time.perf_counter() - start
    if write:
        for cell in notebook.cells:
            cell.metadata.pop("execution", None)  # timings an editor may have recorded
            if "outputs" in cell:  # drop what shows nothing, such as a progress bar wiped clean
                cell.outputs = [o for o in cell.outputs if not _blank_stream(o)]
        nbformat.write(notebook, path)
    return seconds


def _blank_stream(output: dict) -> bool:
    return output.get("output_type") == "stream" and not output.get("text", "").strip()


def waiting_for(path: Path, root: Path = REPO_ROOT) -> str | None:
    """Why the notebook `path` cannot run yet (a stub of its week or an earlier one), or None."""
    where = path.resolve()
    parts = where.relative_to(root).parts if where.is_relative_to(root) else ()
    match = WEEK_FOLDER.match(parts[0]) if len(parts) > 1 else None
    left = stubs_left(range(1, int(match["week"]) + 1), root) if match else []
    return f"waits for the workbook: {left[0]}" if left else None


def _report(path: Path, seconds: float, write: bool) -> None:
    saved = ", outputs saved" if write else ""
    print(f"notebook {path}: ran in {seconds:.1f} s{saved}", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the notebooks side by side, one kernel per core: each kernel mostly waits on one core
    for PyTorch, so two cores run two notebooks in the time of one."""
    parser = argparse.ArgumentParser(
        prog="python -m shared.notebooks",
        description="Execute lesson notebooks top to bottom, each in its own folder.",
    )
    parser.add_argument("notebooks", nargs="*", type=Path, help="the .ipynb files to run")
    parser.add_argument(
        "--write", action="store_true", help="save the outputs into each notebook (commit them)"
    )
    args = parser.parse_args(argv)
    paths: list[Path] = args.notebooks
    for path in paths:
        if not path.is_file():
            raise CourseError(f"{path}: notebook not found")
    for path in list(paths):
        if reason := waiting_for(path):
            print(f"notebook {path}: skipped, {reason}", flush=True)
            paths.remove(path)
    if not paths:
        print("no notebooks to run")
        return 0
    workers = min(len(paths), os.cpu_count() or 1)
    if workers == 1:
        for path in paths:
            _report(path, execute_notebook(path, args.write), args.write)
        return 0
    with ProcessPoolExecutor(max_workers=workers) as pool:  # pragma: no cover - make notebooks
        runs = {pool.submit(execute_notebook, path, args.write): path for path in paths}
        for done in as_completed(runs):
            _report(runs[done], done.result(), args.write)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
