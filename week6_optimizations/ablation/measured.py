"""One course command that records its own peak memory: the wrapper each ablation run goes through.

    python -m week6_optimizations.ablation.measured OUT.json week4_training.cli train ...

runs the command exactly as `python -m week4_training train ...` would (`run_module`), then
writes {"peak_rss_mb": ..., "wall_seconds": ...} to OUT.json if its folder exists (a run that
failed before creating its folder leaves nothing).

Why the process measures itself: the parent could ask the kernel for its child's usage
(`os.wait4`), but on Linux a process's maximum resident set size survives `execve`, so a child
forked from a parent that holds 900 MB reports at least 900 MB, whatever it used. `VmHWM` in
/proc/self/status is the high-water mark of the address space `execve` created: the child's
own. Where /proc is missing (macOS, Windows) the figure is left out (None).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from shared.errors import run_module


def peak_rss_mb(status: Path = Path("/proc/self/status")) -> float | None:
    """This process's peak resident memory in MB (VmHWM), or None where /proc has no status."""
    try:
        lines = status.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    for line in lines:
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024 / 1e6  # the kernel counts kB
    return None


def main(argv: Sequence[str]) -> int:
    """Run `module args...`, then record the figures in `out`; the command's exit status."""
    out, module, *args = argv
    start = time.perf_counter()
    try:
        code = run_module(module, args)
    except SystemExit as exit_:  # argparse's --help and usage errors end this way
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    record = {"peak_rss_mb": peak_rss_mb(), "wall_seconds": time.perf_counter() - start}
    target = Path(out)
    if target.parent.is_dir():
        target.write_text(json.dumps(record) + "\n", encoding="utf-8")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
