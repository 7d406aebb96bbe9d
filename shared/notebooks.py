"""Execute lesson notebooks top to bottom, as a learner would, and fail loudly if a cell errors.

    python -m shared.notebooks <week folder>/lesson.ipynb [more notebooks ...]

Each notebook runs in a fresh kernel with the repository root as its working directory, so
paths such as `runs/` mean the same thing as on the command line. Outputs are not saved back:
the notebooks in git stay clean.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from shared.errors import CourseError, run_cli
from shared.paths import REPO_ROOT

TIMEOUT_PER_CELL_S = 300
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")  # the kernel colours tracebacks


def execute_notebook(path: Path) -> float:
    """Run every cell of `path` in a new kernel; return the seconds it took."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=TIMEOUT_PER_CELL_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(REPO_ROOT)}},
    )
    start = time.perf_counter()
    try:
        client.execute()
    except CellExecutionError as error:
        plain = ANSI_ESCAPE.sub("", str(error)).strip()
        last_line = plain.splitlines()[-1] if plain else "cell failed"
        raise CourseError(f"{path}: a cell failed: {last_line}") from None
    return time.perf_counter() - start


def main(argv: Sequence[str] | None = None) -> int:
    """Run the notebooks side by side, one kernel per core: each kernel mostly waits on one core
    for PyTorch, so two cores run two notebooks in the time of one."""
    paths = [Path(p) for p in (sys.argv[1:] if argv is None else argv)]
    for path in paths:
        if not path.is_file():
            raise CourseError(f"{path}: notebook not found")
    if not paths:
        print("no notebooks to run")
        return 0
    workers = min(len(paths), os.cpu_count() or 1)
    if workers == 1:
        for path in paths:
            print(f"notebook {path}: ran in {execute_notebook(path):.1f} s", flush=True)
        return 0
    with ProcessPoolExecutor(max_workers=workers) as pool:  # pragma: no cover - make notebooks
        runs = {pool.submit(execute_notebook, path): path for path in paths}
        for done in as_completed(runs):
            print(f"notebook {runs[done]}: ran in {done.result():.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
